/**
 * The Idempotency-Key request header (POST /vms, POST /vms/:id/restore): 1–200 printable ASCII
 * characters without spaces, as the OpenAPI document states. A bad one is a 400 whose `fields`
 * name `Idempotency-Key`.
 */
import type { Request } from 'express';
import { z } from 'zod';
import { parseInput } from '../../src/errors';

const IDEMPOTENCY_KEY = 'Idempotency-Key';
const headerSchema = z.object({ [IDEMPOTENCY_KEY]: z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').optional() });

/** The request's Idempotency-Key, undefined when it sent none. */
export function idempotencyKeyOf(req: Request): string | undefined {
  return parseInput(headerSchema, { [IDEMPOTENCY_KEY]: req.header(IDEMPOTENCY_KEY) }, 'Idempotency-Key header')[IDEMPOTENCY_KEY];
}
