/**
 * Backup routes under /api/v1/vms/:id — the policy and its schedule, backups run by hand, the list
 * of backups, and restore. Thin: BackupService does the work and the owner scoping.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { BackupService } from '../../src/backups/service';
import { AppError, parseInput } from '../../src/errors';
import { idempotencyKeyOf } from './idempotency';

const vmIdParam = z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not a VM id');

function userId(req: Request): string {
  if (!req.user) throw AppError.unauthorized();
  return req.user.id;
}

export function backupRoutes(backups: BackupService): Router {
  const r = Router();
  const id = (req: Request) => parseInput(vmIdParam, req.params.id, 'VM id');

  r.get('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.getPolicy(userId(req), id(req)));
  });
  r.put('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.setPolicy(userId(req), id(req), req.body));
  });
  r.patch('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.patchPolicy(userId(req), id(req), req.body));
  });
  r.post('/vms/:id/backup-policy/pause', async (req, res) => {
    res.json(await backups.setPaused(userId(req), id(req), true));
  });
  r.post('/vms/:id/backup-policy/resume', async (req, res) => {
    res.json(await backups.setPaused(userId(req), id(req), false));
  });

  r.post('/vms/:id/backups', async (req, res) => {
    const started = await backups.runNow(userId(req), id(req));
    res
      .status(202)
      .location(`/api/v1/vms/${id(req)}/backups`)
      .json({ workflowId: started.workflowId, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}`, temporalUiUrl: started.temporalUiUrl });
  });
  r.get('/vms/:id/backups', async (req, res) => {
    res.json({ backups: await backups.list(userId(req), id(req)) });
  });

  r.post('/vms/:id/restore', async (req, res) => {
    const started = await backups.restore(userId(req), id(req), req.body, idempotencyKeyOf(req));
    res
      .status(202)
      .location(`/api/v1/vms/${id(req)}`)
      .json({ workflowId: started.workflowId, started: started.started, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}`, temporalUiUrl: started.temporalUiUrl });
  });

  return r;
}
