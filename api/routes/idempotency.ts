/**
 * The Idempotency-Key request header (POST /vms, POST /vms/:id/restore): 1–200 printable ASCII
 * characters without spaces, as the contract states (idempotencyKeyHeader). A bad one is a 400
 * whose `fields` name `Idempotency-Key`.
 */
import type { Request } from 'express';
import { idempotencyKeyHeader } from '../../src/contracts/api/vms';
import { parseInput } from '../../src/errors';

const IDEMPOTENCY_KEY = 'Idempotency-Key';

/** The request's Idempotency-Key, undefined when it sent none. */
export function idempotencyKeyOf(req: Request): string | undefined {
  return parseInput(idempotencyKeyHeader, { [IDEMPOTENCY_KEY]: req.header(IDEMPOTENCY_KEY) }, 'Idempotency-Key header')[IDEMPOTENCY_KEY];
}
