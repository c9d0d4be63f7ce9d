/**
 * GET /api/v1/catalog (public: what a VM can be made of) and POST /api/v1/templates (UC-006: the
 * rendered Heat template and CloudStack parameters for some requirements, for preview).
 */
import type { Catalog } from '../../src/catalog';
import { catalogSchema, templatePreviewSchema } from '../../src/contracts/api/catalog';
import { vmRequirementsSchema } from '../../src/contracts/api/vms';
import { renderCloudConfig, renderHeatTemplate, stackParameters } from '../../src/templates';
import type { VmService } from '../../src/vms/service';
import type { ApiScope } from '../openapi';

export function catalogRoutes(api: ApiScope, catalog: () => Catalog, vms: VmService, openstackNetwork: string): void {
  api.route(
    {
      method: 'get',
      path: '/catalog',
      operationId: 'getCatalog',
      tag: 'catalog',
      auth: 'public',
      summary: 'Operating systems, software and sizes to choose from',
      responses: { 200: { description: 'the catalog', body: catalogSchema } },
    },
    (_req, res) => {
      const c = catalog();
      res.json({ operatingSystems: c.operatingSystems, software: c.software, sizes: c.sizes });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/templates',
      operationId: 'previewTemplates',
      tag: 'catalog',
      summary: 'Preview the Heat template, stack parameters and cloud-init a VM would get',
      body: vmRequirementsSchema,
      responses: { 200: { description: 'the rendered templates', body: templatePreviewSchema } },
      errors: { 400: 'validation_failed: fields name every bad requirement, catalog checks included' },
    },
    (req, res) => {
      const requirements = vms.validate(req.body);
      const settings = { network: openstackNetwork };
      const heat = renderHeatTemplate(requirements, catalog(), settings);
      const cloudConfig = renderCloudConfig(requirements, catalog());
      res.json({
        requirements,
        heat: { template: heat.template, yaml: heat.text, parameters: stackParameters(requirements, catalog(), settings) },
        cloudConfig: cloudConfig.text,
      });
    },
  );
}
