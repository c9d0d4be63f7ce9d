/**
 * Disaster-recovery routes: /api/v1/vms/:id/dr (protection, state, failover, failback, approve,
 * drills) and /api/v1/events. Thin: DrService does the work and the owner scoping.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { DrService } from '../../src/dr/service';
import { parseInput } from '../../src/errors';
import { userId, vmId, vmIdParam } from './params';

export function drRoutes(dr: DrService): Router {
  const r = Router();

  r.get('/vms/:id/dr', async (req, res) => {
    res.json(await dr.status(userId(req), vmId(req)));
  });
  r.put('/vms/:id/dr', async (req, res) => {
    res.json(await dr.protect(userId(req), vmId(req), req.body));
  });
  r.delete('/vms/:id/dr', async (req, res) => {
    res.json(await dr.unprotect(userId(req), vmId(req)));
  });
  r.post('/vms/:id/dr/failover', async (req, res) => {
    res.status(202).json({ state: await dr.failover(userId(req), vmId(req), req.body) });
  });
  r.post('/vms/:id/dr/failback', async (req, res) => {
    res.status(202).json({ state: await dr.failback(userId(req), vmId(req)) });
  });
  r.post('/vms/:id/dr/approve', async (req, res) => {
    res.status(202).json({ state: await dr.approve(userId(req), vmId(req)) });
  });
  r.post('/vms/:id/dr/drill', async (req, res) => {
    const started = await dr.drill(userId(req), vmId(req), req.body);
    res.status(202).location(`/api/v1/vms/${vmId(req)}/dr/drills`).json({ ...started, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}` });
  });
  r.get('/vms/:id/dr/drills', async (req, res) => {
    res.json({ drills: await dr.drills(userId(req), vmId(req)) });
  });

  r.get('/events', async (req, res) => {
    const q = parseInput(
      z.strictObject({ vmId: vmIdParam.optional(), limit: z.coerce.number().int().min(1).max(500).optional() }),
      { ...req.query },
      'query',
    );
    res.json({ events: await dr.events(userId(req), q) });
  });

  return r;
}
