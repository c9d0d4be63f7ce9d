/**
 * GET /api/v1/catalog (public: what a VM can be made of) and POST /api/v1/templates (UC-006: the
 * rendered Heat template and CloudStack parameters for some requirements, for preview).
 */
import { Router } from 'express';
import type { Catalog } from '../../src/catalog';
import { renderCloudConfig, renderHeatTemplate, stackParameters } from '../../src/templates';
import type { VmService } from '../../src/vms/service';

export function catalogRoutes(catalog: () => Catalog, vms: VmService, openstackNetwork: string): Router {
  const r = Router();

  r.get('/catalog', (_req, res) => {
    const c = catalog();
    res.json({
      operatingSystems: c.operatingSystems,
      software: c.software,
      sizes: c.sizes,
    });
  });

  r.post('/templates', (req, res) => {
    const requirements = vms.validate(req.body);
    const settings = { network: openstackNetwork };
    const heat = renderHeatTemplate(requirements, catalog(), settings);
    const cloudConfig = renderCloudConfig(requirements, catalog());
    res.json({
      requirements,
      heat: { template: heat.template, yaml: heat.text, parameters: stackParameters(requirements, catalog(), settings) },
      cloudConfig: cloudConfig.text,
    });
  });

  return r;
}
