/**
 * `npm start` itself: the supervisor boots the embedded stack, reaches "ready", shuts down cleanly
 * on SIGTERM, and a second start finds the first one's state intact.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { connectDatabase } from '../../src/db/connection';
import { selfTestModel } from '../../src/db/self-test';
import { freePort } from '../../src/embedded/processes';
import { loadKeyring } from '../../src/secrets/keyring';
import { createDataConverter } from '../../src/temporal/data-converter';
import { apiFetch } from '../harness/http';

const repoRoot = path.resolve(__dirname, '../..');

interface Started {
  child: ChildProcess;
  output: () => string;
  recordId: string;
}

async function startProduct(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 150_000;
  while (!/\[vmflow\] ready[\s\S]*Ctrl-C stops everything/.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const recordId = /self-test workflow passed \(record ([^)]+)\)/.exec(out)?.[1];
  assert.ok(recordId, out);
  return { child, output: () => out, recordId };
}

async function stopProduct(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGTERM');
  return exited;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });
}

describe('npm start (scripts/start.ts)', function () {
  this.timeout(400_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-start-'));
  let env: NodeJS.ProcessEnv;
  let ports: Record<string, number>;
  let first: Started | undefined;
  let second: Started | undefined;

  before(async () => {
    ports = {
      api: await freePort(),
      temporal: await freePort(),
      ui: await freePort(),
      ferret: await freePort(),
      openstack: await freePort(),
      cloudstack: await freePort(),
      images: await freePort(),
    };
    env = {
      VMFLOW_DATA_DIR: dataDir,
      API_PORT: String(ports.api),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      FERRETDB_PORT: String(ports.ferret),
      OPENSTACK_SIM_PORT: String(ports.openstack),
      CLOUDSTACK_SIM_PORT: String(ports.cloudstack),
      IMAGE_STORE_PORT: String(ports.images),
      TEMPORAL_ADDRESS: '',
      MONGODB_URI: '',
      LOG_LEVEL: 'info',
    };
  });
  after(async () => {
    for (const s of [first, second]) if (s && s.child.exitCode === null) await stopProduct(s);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when started on the embedded default, then it prints every URL, answers /readyz and the Temporal UI, and stops cleanly on SIGTERM', async () => {
    first = await startProduct(env);
    const out = first.output();
    assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${ports.api}`));
    // The web console's address is the first line of the ready block, and the API serves it there.
    assert.match(out, new RegExp(`\\[vmflow\\] ready\\n  Web console\\s+http://127\\.0\\.0\\.1:${ports.api}/\\s`));
    const page = await fetch(`http://127.0.0.1:${ports.api}/vms/new`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<div id="root"><\/div>/);
    assert.match(out, new RegExp(`Temporal UI\\s+http://127\\.0\\.0\\.1:${ports.ui}`));
    // Both simulators and the image store run, with their endpoints and demo credentials printed.
    assert.match(out, new RegExp(`OpenStack sim\\s+http://127\\.0\\.0\\.1:${ports.openstack}/identity/v3`));
    assert.match(out, /demo user demo \/ password demo-secret \/ project demo/);
    assert.match(out, new RegExp(`CloudStack sim\\s+http://127\\.0\\.0\\.1:${ports.cloudstack}/client/api`));
    assert.match(out, /demo api key\s+\S{40,}/);
    assert.match(out, /demo secret key\s+\S{40,}/);
    assert.equal((await fetch(`http://127.0.0.1:${ports.openstack}/identity/v3`)).status, 200);
    const cs = await fetch(`http://127.0.0.1:${ports.cloudstack}/client/api?command=listZones&response=json`);
    assert.equal(cs.status, 401, 'CloudStack answers (and wants a signature)');
    assert.equal((await fetch(`http://127.0.0.1:${ports.images}/healthz`)).status, 200);
    const ready = await apiFetch(`http://127.0.0.1:${ports.api}/readyz`);
    assert.equal(ready.status, 200);
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /<html/i);

    assert.equal(await stopProduct(first), 0);
    for (const p of [ports.api, ports.temporal, ports.ui, ports.ferret, ports.openstack, ports.cloudstack, ports.images]) assert.equal(await portOpen(p), false, `port ${p} closed after stop`);
  });

  it('when started a second time, then the first run\'s workflow and database record are still there', async () => {
    assert.ok(first, 'first start ran');
    second = await startProduct(env);
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection, dataConverter: createDataConverter(loadKeyring({ nodeEnv: 'development', dataDir })) });
      const desc = await client.workflow.getHandle(first.recordId).describe();
      assert.equal(desc.status.name, 'COMPLETED');
    } finally {
      await connection.close();
    }
    const db = await connectDatabase(`mongodb://127.0.0.1:${ports.ferret}/vmflow`);
    try {
      const doc = await selfTestModel(db).findById(first.recordId).lean();
      assert.ok(doc, 'first run\'s record survived the restart');
    } finally {
      await db.close();
    }
    assert.equal(await stopProduct(second), 0);
  });
});
