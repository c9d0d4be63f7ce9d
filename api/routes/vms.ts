/**
 * /api/v1/vms and /api/v1/workflows — thin routes over VmService. Every route is behind the
 * session gate; every lookup is scoped to the session's member (another's VM answers 404).
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { AppError, parseInput } from '../../src/errors';
import type { StartedOperation, VmService } from '../../src/vms/service';
import type { BackupService } from '../../src/backups/service';
import { idempotencyKeyOf } from './idempotency';
import { userId, vmId } from './params';

function accepted(res: Response, op: StartedOperation, location: string): void {
  res
    .status(202)
    .location(location)
    .json({
      ...(op.plan ? { plan: op.plan } : {}),
      vm: op.vm,
      operation: {
        workflowId: op.workflowId,
        started: op.started,
        status: `/api/v1/workflows/${encodeURIComponent(op.workflowId)}`,
        temporalUiUrl: op.temporalUiUrl,
      },
    });
}

export function vmRoutes(vms: VmService, backups?: BackupService): Router {
  const r = Router();

  r.post('/vms', async (req, res) => {
    const body = parseInput(z.record(z.string(), z.unknown(), { error: 'the body must be a JSON object' }), req.body ?? undefined);
    const { accountId, backup, ...requirements } = body;
    if (accountId !== undefined && typeof accountId !== 'string') throw AppError.badRequest('accountId must be a string', [{ field: 'accountId', message: 'must be a string' }]);
    const key = idempotencyKeyOf(req);
    // A backup period given at create time (UC-008): checked before anything starts.
    if (backup !== undefined) {
      if (!backups) throw AppError.badRequest('backups are not available', [{ field: 'backup', message: 'not supported here' }]);
      if (requirements.cloud !== 'openstack') throw AppError.badRequest('backups are taken of VMs in the base cloud (OpenStack)', [{ field: 'backup', message: 'only for cloud "openstack"' }]);
      try {
        backups.parsePolicy(backup);
      } catch (err) {
        if (err instanceof AppError && err.fields) throw AppError.badRequest(err.message, err.fields.map((f) => ({ field: `backup.${f.field}`, message: f.message })));
        throw err;
      }
    }
    const op = await vms.create(userId(req), { requirements, accountId }, key);
    if (backup !== undefined && backups) await backups.setPolicy(userId(req), op.vm.id, backup);
    accepted(res, op, `/api/v1/vms/${op.vm.id}`);
  });

  r.get('/vms', async (req, res) => {
    const query = parseInput(z.object({ includeDeleted: z.enum(['true', 'false'], { error: 'true or false' }).optional() }), { ...req.query }, 'query');
    const includeDeleted = query.includeDeleted === 'true';
    res.json({ vms: await vms.list(userId(req), { includeDeleted }) });
  });

  r.get('/vms/:id', async (req, res) => {
    const id = vmId(req);
    res.json(await vms.getWithProgress(userId(req), id));
  });

  r.patch('/vms/:id', async (req, res) => {
    const id = vmId(req);
    const patch = parseInput(z.record(z.string(), z.unknown(), { error: 'the body must be a JSON object' }), req.body ?? undefined);
    // A change that replaces the server is applied only when confirmed (?confirm=replace).
    const { confirm } = parseInput(z.object({ confirm: z.literal('replace', { error: 'must be replace' }).optional() }), { confirm: req.query.confirm });
    const op = await vms.update(userId(req), id, patch, confirm);
    accepted(res, op, `/api/v1/vms/${id}`);
  });

  r.delete('/vms/:id', async (req, res) => {
    const id = vmId(req);
    const op = await vms.delete(userId(req), id);
    accepted(res, op, `/api/v1/vms/${id}`);
  });

  r.get('/workflows/:id', async (req, res) => {
    const id = parseInput(z.string().min(1).max(300), req.params.id, 'workflow id');
    res.json(await vms.workflowFor(userId(req), id));
  });

  return r;
}
