/**
 * The API latency benchmark's baseline (issue 13, item 4): a bare Express server on the same
 * database as vmflow, each route one indexed operation and nothing else — no session, no
 * validation, no Temporal, no logging. What vmflow's API costs is measured against this limit.
 *
 *   GET  /vms          find({ownerId}) on the VM collection (ownerId indexed), owner from x-owner
 *   GET  /vms/:id      findById
 *   POST /vms          insertOne of a VM-sized document
 *
 * Run as a child process by bench/api-latency.ts: MONGODB_URI, BARE_PORT; listens on 127.0.0.1.
 */
import crypto from 'node:crypto';
import express from 'express';
import { connectDatabase } from '../src/db/connection';
import { vmModel } from '../src/vms/model';

async function main(): Promise<void> {
  const db = await connectDatabase(process.env.MONGODB_URI!);
  const Vm = vmModel(db);
  const app = express();
  app.use(express.json());
  app.get('/vms', async (req, res) => {
    res.json({ vms: await Vm.find({ ownerId: String(req.header('x-owner')) }).lean() });
  });
  app.get('/vms/:id', async (req, res) => {
    const doc = await Vm.findById(req.params.id).lean();
    if (!doc) res.status(404).json({ error: 'not found' });
    else res.json({ vm: doc });
  });
  app.post('/vms', async (req, res) => {
    const now = new Date();
    const id = crypto.randomUUID();
    await Vm.collection.insertOne({ _id: id, ownerId: String(req.header('x-owner')), name: req.body?.name ?? 'bare', cloud: 'openstack', accountId: 'bare', requirements: req.body ?? {}, state: 'creating', workflowIds: [], history: [], createdAt: now, updatedAt: now } as never);
    res.status(202).json({ vm: { id } });
  });
  const server = app.listen(Number(process.env.BARE_PORT), '127.0.0.1', () => console.log('bare API listening'));
  const stop = () => server.close(() => void db.close().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
