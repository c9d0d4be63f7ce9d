/**
 * A worker process killed without warning (SIGKILL) in the middle of long work: a backup's export
 * to the image store and a disaster-recovery failover. Workers here are child processes
 * (`node --import tsx worker/main.ts`, as deployed) on a task queue of their own; a second worker
 * takes over, and the simulators' /_sim/state, the image store and the API show the work done
 * exactly once: no duplicate image, store object, template, standby or running copy, and no
 * half-written upload left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { backupStoreKey } from '../../src/contracts/backup';
import { cloudMonitorWorkflowId, drWorkflowId } from '../../src/contracts/dr';
import { ImageStoreClient, startImageStore, type RunningImageStore } from '../../src/imagestore';
import { formatKeyring } from '../../src/secrets/keyring';
import { FAST_TIMINGS } from '../../src/sim/openstack/timings';
import { startTestApi, type TestApi } from '../harness/api';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { registerTestSecret, testKeyring, testLogger } from '../harness/secrets';
import { sharedStack, uniqueTaskQueue, type TestStack } from '../harness/stack';
import { signupAndLogin, type TestUser } from '../harness/users';
import { apiCall, waitUntil } from '../harness/http';

type Json = any;

const repoRoot = path.resolve(__dirname, '../..');
const CS_GONE = ['Destroyed', 'Expunging'];
/** Size of the snapshot the export test copies: far more than loopback socket buffers hold. */
const EXPORT_BYTES = 24 * 1024 * 1024;
/** The simulator timings these tests change, as the shared simulator has them. */
const USUAL_TIMINGS = { serverStopMs: FAST_TIMINGS.serverStopMs, serverStartMs: FAST_TIMINGS.serverStartMs, snapshotBytes: FAST_TIMINGS.snapshotBytes };
/** While the proxy is slow, an upload moves 8 KiB per 100 ms (80 KiB/s). */
const TRICKLE_BYTES = 8 * 1024;
const TRICKLE_DELAY_MS = 100;

/** Splits each chunk into small slices and, while `slow()` holds, waits between them. */
function trickle(slow: () => boolean): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      void (async () => {
        for (let i = 0; i < chunk.length; i += TRICKLE_BYTES) {
          if (slow()) await sleep(TRICKLE_DELAY_MS);
          this.push(chunk.subarray(i, i + TRICKLE_BYTES));
        }
      })().then(() => done(), done);
    },
  });
}

interface UploadThrottle {
  url: string;
  /** While true, upload bodies pass at TRICKLE_BYTES per TRICKLE_DELAY_MS. */
  slow: boolean;
  /** PUT requests seen (uploads started). */
  uploads: number;
  close(): Promise<void>;
}

/**
 * A pass-through proxy in front of the image store that can slow uploads down, so a worker can be
 * killed while its export is half sent. A client that dies mid-request takes the upstream request
 * down with it, as a dropped connection to the real store would.
 */
async function startUploadThrottle(target: string): Promise<UploadThrottle> {
  const server = http.createServer((req, res) => {
    const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      pipeline(up, res).catch(() => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    const isUpload = req.method === 'PUT';
    if (isUpload) throttle.uploads += 1;
    (isUpload ? pipeline(req, trickle(() => throttle.slow), upstream) : pipeline(req, upstream)).catch(() => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const throttle: UploadThrottle = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    slow: false,
    uploads: 0,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return throttle;
}

describe('a worker process killed mid-work', function () {
  this.timeout(300_000);
  const log = testLogger('kill-worker-test');
  const taskQueue = uniqueTaskQueue('kill-worker');
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-kill-store-'));
  const token = crypto.randomBytes(24).toString('base64url');
  const signingSecret = crypto.randomBytes(32).toString('base64url');
  let clouds: TestClouds;
  let stack: TestStack;
  let api: TestApi;
  let store: RunningImageStore;
  let storeClient: ImageStoreClient;
  let throttle: UploadThrottle;
  let alice: TestUser;
  const workers: Array<{ proc: ChildProcess; logFile: string }> = [];
  /** Long-running workflows this suite starts (DR entity, account monitor): ended in after(). */
  const entityWorkflows: string[] = [];

  /** Starts `worker/main.ts` as its own process; its output goes to a log the run's secret scan covers. */
  function startWorker(): { proc: ChildProcess; logFile: string } {
    const logFile = path.join(stack.dir, `kill-worker-${workers.length + 1}.log`);
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...clouds.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: stack.namespace,
        MONGODB_URI: stack.mongoUri,
        TEMPORAL_TASK_QUEUE: taskQueue,
        VMFLOW_ENCRYPTION_KEYS: formatKeyring(testKeyring()),
        VMFLOW_POLL_INTERVAL_MS: '100',
        // Several worker processes of a run would want the same default metrics ports.
        VMFLOW_METRICS: 'false',
        IMAGE_STORE_URL: throttle.url,
        // The clouds fetch from the store directly; only the worker's uploads pass the throttle.
        IMAGE_STORE_PUBLIC_URL: store.url,
        IMAGE_STORE_TOKEN: token,
        IMAGE_STORE_SIGNING_SECRET: signingSecret,
        VMFLOW_WEBHOOK_URL: '',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const w = { proc, logFile };
    workers.push(w);
    return w;
  }

  const alive = (w: { proc: ChildProcess }) => w.proc.exitCode === null && w.proc.signalCode === null;
  function ensureWorker(): void {
    if (!workers.some(alive)) startWorker();
  }
  /** The end of the newest worker's log, for timeout messages. */
  function workerLogTail(): string {
    const w = workers[workers.length - 1];
    if (!w) return '(no worker)';
    const text = fs.existsSync(w.logFile) ? fs.readFileSync(w.logFile, 'utf8') : '';
    return text.split('\n').slice(-15).join('\n');
  }
  async function killWorker(w: { proc: ChildProcess }): Promise<void> {
    if (!alive(w)) return;
    const exited = new Promise((r) => w.proc.once('exit', r));
    w.proc.kill('SIGKILL');
    await exited;
  }

  // A query to a workflow whose worker just died may wait; never let one poll hang the test.
  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, alice, method, p, body, { timeoutMs: 20_000 });
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number) => waitUntil(what, fn, timeoutMs, () => `worker log tail:\n${workerLogTail()}`);

  const vm = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
  const backupsOf = async (vmId: string): Promise<Json[]> => (await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups;
  const osState = () => simAdmin(clouds.openstack.url, 'GET', '/state');
  const csState = () => simAdmin(clouds.cloudstack.url, 'GET', '/state');
  const partFiles = () => fs.readdirSync(path.join(storeDir, 'tmp')).filter((f) => f.endsWith('.part'));

  async function createVm(name: string, accountId?: string): Promise<string> {
    const r = await call('POST', '/api/v1/vms', { name, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', ...(accountId ? { accountId } : {}) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.vm.id as string;
    const v = await until(`VM ${name} active`, async () => {
      const x = await vm(id);
      return x.state === 'active' || x.state === 'failed' ? x : undefined;
    }, 60_000);
    assert.equal(v.state, 'active', JSON.stringify(v));
    return id;
  }

  /** Live objects of one VM in both clouds and the store, by the names the product gives them. */
  async function countsOf(vmId: string) {
    const [o, c] = await Promise.all([osState(), csState()]);
    const servers = (o.servers.items as Json[]).filter((s) => s.status !== 'DELETED' && s.name.startsWith(`vmflow-${vmId}-`));
    return {
      images: (o.images.items as Json[]).filter((i) => i.name?.startsWith(`vmflow-${vmId}-backup-`) && i.status !== 'deleted'),
      standbys: servers.filter((s) => s.name === `vmflow-${vmId}-standby`),
      promoted: servers.filter((s) => s.name.startsWith(`vmflow-${vmId}-primary-`)),
      templates: (c.templates.items as Json[]).filter((t) => t.name.startsWith(`vmflow-${vmId}-backup-`)),
      csStandbys: (c.vms.items as Json[]).filter((v) => v.name === `vmflow-${vmId}-standby` && !CS_GONE.includes(v.state)),
      storeKeys: (await storeClient.list(`vms/${vmId}/`)).map((m: Json) => m.key as string),
      servers: o.servers.items as Json[],
    };
  }

  before(async () => {
    registerTestSecret(token, signingSecret);
    clouds = await sharedClouds();
    stack = await sharedStack();
    store = await startImageStore({ dir: storeDir, serviceToken: token, signingSecret, logger: testLogger('imagestore') });
    storeClient = new ImageStoreClient({ baseUrl: store.url, serviceToken: token });
    throttle = await startUploadThrottle(store.url);
    api = await startTestApi({
      env: {
        ...clouds.env,
        TEMPORAL_TASK_QUEUE: taskQueue,
        VMFLOW_MONITOR_INTERVAL_SECONDS: '1',
        VMFLOW_MONITOR_FAILURE_THRESHOLD: '3',
        VMFLOW_MONITOR_SUCCESS_THRESHOLD: '2',
        VMFLOW_DR_HEALTH_CHECK_SECONDS: '1',
      },
    });
    alice = await signupAndLogin(api.url);
  });
  afterEach(async () => {
    // A failed test must not leave the next one slow.
    if (throttle) throttle.slow = false;
    await simAdmin(clouds.openstack.url, 'PATCH', '/timings', USUAL_TIMINGS);
  });
  after(async () => {
    for (const w of workers) await killWorker(w);
    for (const id of entityWorkflows) await api?.deps.temporal.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
    await api?.close();
    await throttle?.close();
    await store?.stop();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  it('when the worker is killed mid-export, then the backup completes once with one image, one store object, one template and one standby per cloud', async () => {
    ensureWorker();
    const vmId = await createVm('killed-export');

    // An image much larger than the sockets' buffers, so the kill leaves the upload half sent.
    await simAdmin(clouds.openstack.url, 'PATCH', '/timings', { snapshotBytes: EXPORT_BYTES });
    throttle.slow = true;
    const uploadsBefore = throttle.uploads;
    const run = await call('POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const workflowId = run.body.workflowId as string;

    // Kill only once the export task runs and its upload has reached the store's disk.
    await until('the export task running with bytes in the store', async () => {
      const wf = await call('GET', `/api/v1/workflows/${encodeURIComponent(workflowId)}`);
      const exportTask = (wf.body.progress?.tasks as Json[] | undefined)?.find((t) => t.name === 'export');
      if (exportTask?.state !== 'running') return undefined;
      return partFiles().some((f) => fs.statSync(path.join(storeDir, 'tmp', f)).size > 0) ? true : undefined;
    }, 60_000);
    const victim = workers.find(alive);
    assert.ok(victim, 'a running worker to kill');
    await killWorker(victim);
    const killedAt = Date.now();
    throttle.slow = false;
    startWorker();

    const done = await until('the backup to finish after the kill', async () => (await backupsOf(vmId)).find((b) => b.status !== 'running'), 150_000);
    log.info({ test: 'export', recoverySeconds: (Date.now() - killedAt) / 1000 }, 'backup finished after SIGKILL');
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.ok(done.tasks.every((t: Json) => t.state === 'succeeded'), JSON.stringify(done.tasks));
    assert.equal((await backupsOf(vmId)).length, 1, 'one backup record');
    // The record is written before the run gives the VM's lease back: completion follows at once.
    await until('the backup workflow completed', async () => ((await call('GET', `/api/v1/workflows/${encodeURIComponent(workflowId)}`)).body.status === 'COMPLETED' ? true : undefined), 30_000);
    assert.ok(throttle.uploads - uploadsBefore >= 2, `the killed upload was sent again (${throttle.uploads - uploadsBefore} uploads)`);

    const c = await countsOf(vmId);
    assert.deepEqual(c.images.map((i) => i.id), [done.image.id], 'one Glance snapshot, the one recorded');
    assert.deepEqual(c.storeKeys, [backupStoreKey(vmId, done.id)], 'one store object');
    assert.equal(done.store.md5, done.image.checksum, 'the store holds the bytes Glance had');
    assert.equal(done.store.size, EXPORT_BYTES, 'all of them');
    assert.deepEqual(partFiles(), [], 'the half-sent upload left nothing in the store');
    assert.deepEqual(c.templates.map((t) => t.id), [done.template.id], 'one CloudStack template');
    assert.equal(c.standbys.length, 1, 'one base standby');
    assert.equal(c.standbys[0].id, done.baseStandby.serverId);
    assert.equal(c.standbys[0].status, 'SHUTOFF');
    assert.equal(c.csStandbys.length, 1, 'one backup-cloud standby');
    assert.equal(c.csStandbys[0].id, done.backupCloudStandby.csVmId);
    assert.equal(c.csStandbys[0].state, 'Stopped');
  });

  it('when the worker is killed during a failover, then the failover completes once and exactly one copy runs', async () => {
    ensureWorker();
    // An account of the member's own, so this suite's API starts the account's monitor on this
    // suite's task queue (the operator account's monitor may belong to an earlier suite).
    const c0 = clouds.openstack.credentials;
    const account = await call('POST', '/api/v1/cloud-accounts', {
      kind: 'openstack',
      name: `kill-worker ${crypto.randomBytes(3).toString('hex')}`,
      authUrl: clouds.openstack.authUrl,
      region: c0.region,
      projectName: c0.projectName,
      projectDomainName: c0.projectDomainName,
      username: c0.username,
      userDomainName: c0.userDomainName,
      password: c0.password,
    });
    assert.equal(account.status, 201, JSON.stringify(account.body));
    const vmId = await createVm('killed-failover', account.body.id);
    assert.equal((await call('POST', `/api/v1/vms/${vmId}/backups`)).status, 202);
    const backup = await until('the first backup', async () => (await backupsOf(vmId)).find((b) => b.status !== 'running'), 90_000);
    assert.equal(backup.status, 'succeeded', JSON.stringify(backup));
    entityWorkflows.push(drWorkflowId(vmId), cloudMonitorWorkflowId(account.body.id));
    const p = await call('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'automatic', failbackAfterHealthySeconds: 2 });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    await until('DR Protected', async () => ((await call('GET', `/api/v1/vms/${vmId}/dr`)).body.state?.state === 'Protected' ? true : undefined), 30_000);

    const primary = (await vm(vmId)).placement.serverId as string;
    const standby = (await countsOf(vmId)).standbys[0];
    assert.equal(standby?.status, 'SHUTOFF', 'a stopped standby waits');

    // A slow start holds the failover in its start-the-standby step (the old server is fenced after
    // the switch, never while it is still the live copy): the worker dies with the start in flight.
    await simAdmin(clouds.openstack.url, 'PATCH', '/timings', { serverStopMs: 5_000, serverStartMs: 20_000 });
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${primary}/break`, { mode: 'error' });
    const drHandle = api.deps.temporal.client.workflow.getHandle(drWorkflowId(vmId));
    await until('FailingOver with the standby start in flight', async () => {
      const d = (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;
      if (d.state?.state !== 'FailingOver') return undefined;
      const sb = await simAdmin(clouds.openstack.url, 'GET', `/servers/${standby.id}`);
      if (sb.taskState !== 'powering-on') return undefined;
      const pending = ((await drHandle.describe()).raw.pendingActivities ?? []).map((a) => a.activityType?.name).sort();
      return pending.join() === 'osStartServerAndWait' ? true : undefined;
    }, 60_000);
    const victim = workers.find(alive);
    assert.ok(victim, 'a running worker to kill');
    await killWorker(victim);
    const killedAt = Date.now();
    await simAdmin(clouds.openstack.url, 'PATCH', '/timings', USUAL_TIMINGS);
    startWorker();

    const switched = await until('the VM switched to the standby', async () => {
      const v = await vm(vmId);
      return v.placement.serverId === standby.id ? v : undefined;
    }, 150_000);
    const switchedAt = Date.now();
    assert.equal(switched.state, 'active');
    assert.equal(switched.placement.cloud, 'openstack');
    const d = await until('DR Protected again', async () => {
      const r = (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;
      return r.state?.state === 'Protected' && r.events.some((e: Json) => e.kind === 'failover.completed') ? r : undefined;
    }, 120_000);
    log.info({ test: 'failover', switchSeconds: (switchedAt - killedAt) / 1000, protectedSeconds: (Date.now() - killedAt) / 1000 }, 'failover finished after SIGKILL');
    assert.equal(d.state.lastError, undefined, JSON.stringify(d.state));
    assert.equal(d.state.fencePending, undefined, 'the old server was fenced');

    const events = (await call('GET', `/api/v1/events?vmId=${vmId}`)).body.events as Json[];
    const kinds = events.map((e) => e.kind);
    for (const k of ['disaster.vm', 'failover.started', 'failover.completed']) {
      assert.equal(kinds.filter((x) => x === k).length, 1, `one ${k} event in ${kinds}`);
    }
    assert.ok(!kinds.includes('failover.failed'), `no failed failover in ${kinds}`);
    assert.equal(events.find((e) => e.kind === 'failover.completed').details.serverId, standby.id);

    // Re-protection runs after the switch, as a backup of its own: wait for it to finish.
    const backups = await until('the re-protect backup finished', async () => {
      const list = await backupsOf(vmId);
      return list.length === 2 && list.every((b) => b.status !== 'running') ? list : undefined;
    }, 120_000);
    // Exactly one running copy; the standby was promoted (renamed) once and a fresh one replaces it.
    const c = await countsOf(vmId);
    const copies = c.servers.filter((s) => s.id === primary || s.id === standby.id);
    assert.deepEqual(copies.filter((s) => s.status === 'ACTIVE').map((s) => s.id), [standby.id], 'only the promoted standby runs');
    assert.deepEqual(c.promoted.map((s) => s.id), [standby.id], 'one promoted primary');
    assert.equal(c.standbys.length, 1, `one base standby, got ${JSON.stringify(c.standbys.map((s) => [s.id, s.status]))}`);
    assert.notEqual(c.standbys[0].id, standby.id, 'the re-protect backup made a fresh standby');
    assert.equal(c.standbys[0].status, 'SHUTOFF');
    assert.equal(c.csStandbys.length, 1, 'one backup-cloud standby');
    assert.equal(c.csStandbys[0].state, 'Stopped');
    assert.equal(backups.length, 2, 'the first backup and one re-protect backup');
    assert.ok(backups.every((b) => b.status === 'succeeded'), JSON.stringify(backups.map((b) => [b.id, b.status, b.reason])));
    assert.deepEqual(c.images.map((i) => i.id).sort(), backups.map((b) => b.image.id).sort(), 'one snapshot per backup');
    assert.deepEqual(c.templates.map((t) => t.id).sort(), backups.map((b) => b.template.id).sort(), 'one template per backup');
    assert.deepEqual(c.storeKeys.sort(), backups.map((b) => backupStoreKey(vmId, b.id)).sort(), 'one store object per backup');
  });
});
