/**
 * /api/v1/cloud-accounts: a member's own cloud accounts plus the operator's. Answers never carry a
 * secret (CloudAccountView lists only which secrets are stored); another member's account is 404.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { CloudAccountStore, createCloudAccountSchema, toView } from '../../src/cloud-accounts/store';
import { assertAccountUrlAllowed, verifyCloudAccount } from '../../src/cloud-accounts/verify';
import { AppError, parseInput } from '../../src/errors';
import { currentUser } from '../auth-middleware';

const idParam = z.object({ id: z.string().min(1).max(128) });

export function cloudAccountsRouter(store: CloudAccountStore, resolver: CloudAccountResolver): Router {
  const r = express.Router();

  r.post('/', async (req, res) => {
    const input = parseInput(createCloudAccountSchema, req.body);
    await assertAccountUrlAllowed(resolver.outbound, input);
    const view = await store.createForMember(currentUser(req).id, input);
    req.log.info({ accountId: view.id, kind: view.kind }, 'cloud account registered');
    res.status(201).location(`${req.baseUrl}/${encodeURIComponent(view.id)}`).json(view);
  });

  r.get('/', async (req, res) => {
    res.json({ items: await store.listVisibleTo(currentUser(req).id) });
  });

  r.get('/:id', async (req, res) => {
    const { id } = parseInput(idParam, req.params, 'path');
    const doc = await store.findVisible(id, currentUser(req).id);
    if (!doc) throw AppError.notFound('cloud account');
    res.json(toView(doc));
  });

  r.delete('/:id', async (req, res) => {
    const { id } = parseInput(idParam, req.params, 'path');
    const outcome = await store.deleteOwn(id, currentUser(req).id);
    if (outcome === 'not-found') throw AppError.notFound('cloud account');
    if (outcome === 'operator') throw AppError.forbidden('operator cloud accounts are managed through the configuration, not the API');
    req.log.info({ accountId: id }, 'cloud account deleted');
    res.status(204).end();
  });

  r.post('/:id/verify', async (req, res) => {
    const { id } = parseInput(idParam, req.params, 'path');
    const doc = await store.findVisible(id, currentUser(req).id);
    if (!doc) throw AppError.notFound('cloud account');
    const result = await verifyCloudAccount(resolver, id, doc.kind);
    req.log.info({ accountId: id, ok: result.ok, ...(result.ok ? {} : { reason: result.reason }) }, 'cloud account verified');
    res.json(result);
  });

  return r;
}
