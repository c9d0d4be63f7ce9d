/**
 * The Temporal remote codec (api/routes/codec.ts): payloads in the JSON form the Temporal UI and
 * CLI send, base64 throughout. The same schema is the request and the answer. Pure zod, no I/O.
 */
import { z } from 'zod';

const base64 = z
  .string()
  .max(8 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .meta({ description: 'base64', contentEncoding: 'base64' });

export const codecPayloadsSchema = z
  .object({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
      .max(10_000, 'at most 10000 payloads per call'),
  })
  .meta({ id: 'CodecPayloads', description: 'Temporal payloads in the remote-codec JSON form.' });
export type CodecPayloads = z.infer<typeof codecPayloadsSchema>;

export const codecHeaders = z.object({
  'X-Namespace': z.string().optional().meta({ description: 'Sent by the Temporal UI; must name the namespace this deployment serves (403 otherwise).' }),
});
