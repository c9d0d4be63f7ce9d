/**
 * The catalog and the template preview (api/routes/catalog.ts). The catalog's schema is the one
 * that validates the built-in defaults and an operator's override file (src/catalog/schema.ts).
 * Pure zod, no I/O.
 */
import { z } from 'zod';
import { catalogSchema as catalogFileSchema } from '../../catalog/schema';
import { vmRequirementsSchema } from './vms';

export const catalogSchema = catalogFileSchema.meta({ id: 'Catalog', description: 'What a VM can be made of: operating systems, software and sizes.' });

export const templatePreviewSchema = z
  .strictObject({
    requirements: vmRequirementsSchema,
    heat: z.strictObject({
      template: z
        .strictObject({
          heat_template_version: z.string(),
          description: z.string(),
          parameters: z.record(z.string(), z.strictObject({ type: z.literal('string'), label: z.string(), description: z.string(), default: z.string() })),
          resources: z.record(z.string(), z.strictObject({ type: z.string(), properties: z.record(z.string(), z.unknown()) })),
          outputs: z.record(z.string(), z.strictObject({ description: z.string(), value: z.unknown() })),
        })
        .meta({ description: 'The Heat (HOT) template.' }),
      yaml: z.string().meta({ description: 'The same template as YAML text.' }),
      parameters: z.record(z.string(), z.string()).meta({ description: 'Stack parameters.' }),
    }),
    cloudConfig: z.string().meta({ description: 'The cloud-init user data.' }),
  })
  .meta({ id: 'TemplatePreview' });
export type TemplatePreview = z.infer<typeof templatePreviewSchema>;
