/** Health probes and the OpenAPI document itself (api/app.ts). Pure zod, no I/O. */
import { z } from 'zod';

export const healthSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });

export const DEPENDENCIES = ['temporal', 'mongodb'] as const;
const dependencyState = z.enum(['ok', 'unreachable']);
export const readinessSchema = z
  .strictObject({
    status: z.enum(['ready', 'unavailable']),
    checks: z.strictObject({ temporal: dependencyState, mongodb: dependencyState }),
    failing: z.array(z.enum(DEPENDENCIES)).optional().meta({ description: 'Present when not ready.' }),
  })
  .meta({ id: 'Readiness' });
export type Readiness = z.infer<typeof readinessSchema>;

/** Only the skeleton: the document describes itself. */
export const openApiDocumentSchema = z
  .looseObject({ openapi: z.string(), info: z.looseObject({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
  .meta({ id: 'OpenApiDocument', description: 'This document.' });
