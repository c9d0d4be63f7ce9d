/** What the VM routes read from every request: the signed-in member and the `:id` of the VM. */
import type { Request } from 'express';
import { vmIdParam } from '../../src/contracts/api/vms';
import { AppError, parseInput } from '../../src/errors';

/** The signed-in member's id (the session gate has set req.user; 401 if not). */
export function userId(req: Request): string {
  if (!req.user) throw AppError.unauthorized();
  return req.user.id;
}

/** The VM id in the path (`/vms/:id`), validated: 400 naming it when malformed. */
export function vmId(req: Request): string {
  return parseInput(vmIdParam, req.params.id, 'VM id');
}
