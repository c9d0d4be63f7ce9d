/**
 * Backup routes under /api/v1/vms/:id — the policy and its schedule, backups run by hand, the list
 * of backups, and restore. Thin: BackupService does the work and the owner scoping.
 */
import { Router } from 'express';
import type { BackupService } from '../../src/backups/service';
import { idempotencyKeyOf } from './idempotency';
import { userId, vmId } from './params';

export function backupRoutes(backups: BackupService): Router {
  const r = Router();

  r.get('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.getPolicy(userId(req), vmId(req)));
  });
  r.put('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.setPolicy(userId(req), vmId(req), req.body));
  });
  r.patch('/vms/:id/backup-policy', async (req, res) => {
    res.json(await backups.patchPolicy(userId(req), vmId(req), req.body));
  });
  r.post('/vms/:id/backup-policy/pause', async (req, res) => {
    res.json(await backups.setPaused(userId(req), vmId(req), true));
  });
  r.post('/vms/:id/backup-policy/resume', async (req, res) => {
    res.json(await backups.setPaused(userId(req), vmId(req), false));
  });

  r.post('/vms/:id/backups', async (req, res) => {
    const started = await backups.runNow(userId(req), vmId(req));
    res
      .status(202)
      .location(`/api/v1/vms/${vmId(req)}/backups`)
      .json({ workflowId: started.workflowId, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}`, temporalUiUrl: started.temporalUiUrl });
  });
  r.get('/vms/:id/backups', async (req, res) => {
    res.json({ backups: await backups.list(userId(req), vmId(req)) });
  });

  r.post('/vms/:id/restore', async (req, res) => {
    const started = await backups.restore(userId(req), vmId(req), req.body, idempotencyKeyOf(req));
    res
      .status(202)
      .location(`/api/v1/vms/${vmId(req)}`)
      .json({ workflowId: started.workflowId, started: started.started, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}`, temporalUiUrl: started.temporalUiUrl });
  });

  return r;
}
