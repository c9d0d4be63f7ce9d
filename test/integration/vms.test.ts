/**
 * VM lifecycle end to end through the REST API: create, update and delete on each cloud against the
 * simulators, with the simulators' counts proving exactly the expected servers and stacks; bad
 * input → 400 naming the field; another member's VM → 404; Idempotency-Key replays; and faults —
 * a burst of 503s, 429 with Retry-After, a hanging request, a worker killed mid-create — each
 * ending with one VM, a completed workflow and nothing leaked.
 */
import { startApiAndWorker } from '../harness/api-worker';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { formatKeyring } from '../../src/secrets/keyring';
import { startTestApi, type TestApi } from '../harness/api';
import { apiDocument } from '../harness/contract';
import { apiFetch } from '../harness/http';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { testKeyring, testLogger } from '../harness/secrets';
import { sharedStack, uniqueTaskQueue } from '../harness/stack';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { assertOwnerScoped, signupAndLogin, type TestUser } from '../harness/users';

const repoRoot = path.resolve(__dirname, '../..');

type Json = any;

async function call(api: TestApi, user: TestUser, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await apiFetch(`${api.url}${p}`, {
    method,
    headers: { ...user.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** Polls GET /vms/:id until `done(vm)` holds; bounded. */
async function waitForVm(api: TestApi, user: TestUser, vmId: string, done: (vm: Json, body: Json) => boolean, timeoutMs = 90_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  let last: Json;
  while (Date.now() < deadline) {
    const r = await call(api, user, 'GET', `/api/v1/vms/${vmId}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    last = r.body;
    if (done(last.vm, last)) return last;
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`VM ${vmId} did not reach the expected state; last: ${JSON.stringify(last)}`);
}

async function osState(clouds: TestClouds): Promise<Json> {
  return simAdmin(clouds.openstack.url, 'GET', '/state');
}
async function csState(clouds: TestClouds): Promise<Json> {
  return simAdmin(clouds.cloudstack.url, 'GET', '/state');
}

/** Live (not deleted) OpenStack servers whose name is `name`. */
function liveServersNamed(state: Json, name: string): Json[] {
  return (state.servers.items as Json[]).filter((s: Json) => s.name === name && s.status !== 'DELETED');
}

function requirements(name: string, cloud: 'openstack' | 'cloudstack', extra: Record<string, unknown> = {}) {
  return { name, os: 'ubuntu-24.04', software: ['vim', 'jdk'], size: 'small', cloud, ...extra };
}

describe('VM lifecycle through the REST API', function () {
  this.timeout(300_000);
  let clouds: TestClouds;
  let api: TestApi;
  let tw: TestWorker;
  let alice: TestUser;
  let bob: TestUser;

  before(async () => {
    clouds = await sharedClouds();
    ({ api, tw } = await startApiAndWorker({ env: clouds.env }));
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await tw?.stop();
    await api?.close();
  });
  afterEach(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/faults');
    await simAdmin(clouds.cloudstack.url, 'DELETE', '/faults');
  });

  for (const cloud of ['openstack', 'cloudstack'] as const) {
    it(`when a member creates, updates and deletes a ${cloud} VM, then the cloud holds exactly one server through it and none after`, async () => {
      const created = await call(api, alice, 'POST', '/api/v1/vms', requirements(`web-${cloud}`, cloud));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const vmId = created.body.vm.id as string;
      assert.equal(created.headers.get('location'), `/api/v1/vms/${vmId}`);
      assert.equal(created.body.operation.workflowId, `vm-create:${vmId}`);
      // Members are pointed at their own status page, never at the Temporal UI (it lists every member's workflows).
      assert.equal(created.body.operation.status, `/api/v1/workflows/${encodeURIComponent(`vm-create:${vmId}`)}`);
      assert.ok(!JSON.stringify(created.body).includes(api.deps.config.temporalUiUrl), 'no Temporal UI link');

      const active = await waitForVm(api, alice, vmId, (vm, b) => vm.state === 'failed' || (vm.state === 'active' && b.operation?.status === 'COMPLETED'));
      assert.equal(active.vm.state, 'active', JSON.stringify(active.vm));
      assert.ok(active.vm.placement.serverId);
      assert.ok(active.vm.placement.addresses.length >= 1, 'addresses read back');
      assert.equal(active.operation.progress.status, 'completed');
      assert.deepEqual(active.operation.progress.stepsDone, ['render', 'create', 'wait', 'read-back', 'persist']);

      const wf = await call(api, alice, 'GET', `/api/v1/workflows/${encodeURIComponent(`vm-create:${vmId}`)}`);
      assert.equal(wf.status, 200);
      assert.equal(wf.body.status, 'COMPLETED');

      const serverId = active.vm.placement.serverId as string;
      if (cloud === 'openstack') {
        const s = await osState(clouds);
        assert.equal(liveServersNamed(s, `web-${cloud}`).length, 1, 'one server');
        const stacks = (s.stacks.items as Json[]).filter((st: Json) => st.name === `vmflow-${vmId}` && st.status !== 'DELETE_COMPLETE');
        assert.equal(stacks.length, 1, 'one stack');
      } else {
        const s = await csState(clouds);
        const vms = (s.vms.items as Json[]).filter((v: Json) => v.name === `vmflow-${vmId}` && !['Destroyed', 'Expunging'].includes(v.state));
        assert.equal(vms.length, 1, 'one CloudStack VM');
      }

      // Update: a bigger size.
      const patched = await call(api, alice, 'PATCH', `/api/v1/vms/${vmId}`, { size: 'medium' });
      assert.equal(patched.status, 202, JSON.stringify(patched.body));
      assert.equal(patched.body.operation.workflowId, `vm-update:${vmId}:1`);
      const updated = await waitForVm(api, alice, vmId, (vm) => vm.revision === 1 && vm.state === 'active' && vm.requirements.size === 'medium');
      assert.equal(updated.vm.placement.serverId, serverId, 'updated in place');
      assert.equal(updated.vm.lastError, undefined);
      // A smaller disk is refused before anything runs: disks only grow.
      const shrink = await call(api, alice, 'PATCH', `/api/v1/vms/${vmId}`, { size: 'small' });
      assert.equal(shrink.status, 409, JSON.stringify(shrink.body));
      assert.equal(shrink.body.error.code, 'disk_cannot_shrink');
      assert.equal(shrink.body.error.fields[0].field, 'size');
      assert.equal((await call(api, alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm.revision, 1, 'no update started');

      // Delete.
      const deleted = await call(api, alice, 'DELETE', `/api/v1/vms/${vmId}`);
      assert.equal(deleted.status, 202);
      await waitForVm(api, alice, vmId, (vm) => vm.state === 'deleted');
      if (cloud === 'openstack') {
        const s = await osState(clouds);
        assert.equal(liveServersNamed(s, `web-${cloud}`).length, 0, 'server gone');
      } else {
        const s = await csState(clouds);
        const vms = (s.vms.items as Json[]).filter((v: Json) => v.name === `vmflow-${vmId}` && !['Destroyed', 'Expunging'].includes(v.state));
        assert.equal(vms.length, 0, 'CloudStack VM gone');
      }
      const list = await call(api, alice, 'GET', '/api/v1/vms');
      assert.ok(!list.body.vms.some((v: Json) => v.id === vmId), 'deleted VMs are not listed by default');
    });
  }

  it('when a member reads a VM through its create and after, then no read queries the workflow; once closed, no read asks Temporal at all, and reads work with no worker', async () => {
    // An API and a worker of this test's own, so the worker can be stopped.
    const taskQueue = uniqueTaskQueue('reads');
    const readApi = await startTestApi({ env: { ...clouds.env, TEMPORAL_TASK_QUEUE: taskQueue } });
    const worker = await startTestWorker({
      taskQueue,
      deps: { timing: { pollIntervalMs: 50 }, cloudAccounts: new CloudAccountResolver({ db: readApi.deps.db, keyring: testKeyring(), logger: testLogger() }) },
    });
    // Every describe and query the API sends to Temporal, counted.
    const calls = { describe: 0, query: 0 };
    const workflows = readApi.deps.temporal.client.workflow;
    const getHandle = workflows.getHandle.bind(workflows);
    workflows.getHandle = ((...args: Parameters<typeof getHandle>) => {
      const h = getHandle(...args);
      const [describe, query] = [h.describe.bind(h), h.query.bind(h)];
      h.describe = () => ((calls.describe += 1), describe());
      h.query = ((...q: Parameters<typeof query>) => ((calls.query += 1), query(...q))) as typeof h.query;
      return h;
    }) as typeof workflows.getHandle;
    try {
      const listed = async () => (await call(readApi, alice, 'GET', '/api/v1/vms')).body.vms as Json[];
      await listed(); // the API now keeps alice's list
      const created = await call(readApi, alice, 'POST', '/api/v1/vms', requirements(`reads-${Date.now().toString(36)}`, 'openstack'));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const vmId = created.body.vm.id as string;
      assert.ok((await listed()).some((v) => v.id === vmId), 'a kept list shows a VM created since');
      const seen = new Set<string>();
      const done = await waitForVm(readApi, alice, vmId, (vm, b) => {
        if (b.operation?.progress) seen.add(`${b.operation.status}:${b.operation.progress.step}`);
        return vm.state === 'failed' || (vm.state === 'active' && b.operation?.status === 'COMPLETED');
      });
      assert.equal(done.vm.state, 'active', JSON.stringify(done.vm));
      assert.equal((await listed()).find((v) => v.id === vmId)?.state, 'active', 'a kept list shows the state the worker wrote');
      assert.ok([...seen].some((s) => s.startsWith('RUNNING:')), `progress was read while the create ran: ${[...seen].join(', ')}`);
      assert.equal(calls.query, 0, 'the running create was read from the progress it writes, not queried');

      // Closed and seen closed: from now on a read is database reads only — even with no worker.
      await worker.stop();
      calls.describe = 0;
      for (let i = 0; i < 5; i++) {
        const r = await call(readApi, alice, 'GET', `/api/v1/vms/${vmId}`);
        assert.equal(r.status, 200);
        assert.equal(r.body.operation.status, 'COMPLETED');
        assert.equal(r.body.operation.progress.status, 'completed');
        assert.deepEqual(r.body.operation.progress.stepsDone, ['render', 'create', 'wait', 'read-back', 'persist']);
      }
      const wf = await call(readApi, alice, 'GET', `/api/v1/workflows/${encodeURIComponent(`vm-create:${vmId}`)}`);
      assert.equal(wf.status, 200);
      assert.equal(wf.body.status, 'COMPLETED');
      assert.equal((await call(readApi, bob, 'GET', `/api/v1/workflows/${encodeURIComponent(`vm-create:${vmId}`)}`)).status, 404, 'another member: 404');
      assert.deepEqual(calls, { describe: 0, query: 0 }, 'reads of a closed operation never ask Temporal');
    } finally {
      workflows.getHandle = getHandle;
      await worker.stop().catch(() => undefined); // stopped already when the test got that far
      await readApi.close();
    }
  });

  it('when the requirements are bad, then 400 names each field and nothing is started', async () => {
    const before = await osState(clouds);
    const cases: Array<[unknown, string]> = [
      [requirements('x1', 'openstack', { os: 'windows-95' }), 'os'],
      [requirements('x2', 'openstack', { os: 'fedora-41', software: ['vim', 'synaptic'] }), 'software[1]'],
      [requirements('x3', 'openstack', { size: 'gigantic' }), 'size'],
      [{ os: 'ubuntu-24.04', size: 'small', cloud: 'openstack' }, 'name'],
      [requirements('x4', 'moon' as never), 'cloud'],
      [requirements('x5', 'openstack', { accountId: 42 }), 'accountId'],
    ];
    for (const [body, field] of cases) {
      const r = await call(api, alice, 'POST', '/api/v1/vms', body);
      assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.fields.some((f: Json) => f.field === field), `${field} named in ${JSON.stringify(r.body.error.fields)}`);
    }
    const notJson = await apiFetch(`${api.url}/api/v1/vms`, { method: 'POST', headers: { ...alice.authHeaders, 'content-type': 'application/json' }, body: '[1,2]' });
    assert.equal(notJson.status, 400);
    const after = await osState(clouds);
    assert.equal(after.stacks.total, before.stacks.total, 'no stack was made');
  });

  it('when the cloud project is full, then GET /quotas shows it and a create that needs more (its server and standbys) is refused with 409 saying why, with nothing created in either cloud', async () => {
    const before = await call(api, alice, 'GET', '/api/v1/quotas');
    assert.equal(before.status, 200, JSON.stringify(before.body));
    const os = (before.body.clouds as Json[]).find((c) => c.cloud === 'openstack');
    const cs = (before.body.clouds as Json[]).find((c) => c.cloud === 'cloudstack');
    // The shared simulators' limits (test/harness/clouds.ts): 1000 instances in each cloud.
    assert.deepEqual(os.instances.max, 1000);
    assert.ok(os.instances.used >= 0 && os.cores.max > 0 && os.ramMiB.max > 0);
    assert.equal(cs.instances.max, 1000);
    assert.equal(cs.instances.used, ((await csState(clouds)).vms.items as Json[]).filter((v) => v.account === 'demo' && !['Destroyed', 'Expunging'].includes(v.state)).length, 'the account’s live VMs');
    assert.equal(cs.cores.max, null, 'no CPU limit');
    const used = os.instances.used as number;
    const vmsBefore = (await call(api, alice, 'GET', '/api/v1/vms')).body.vms.length;
    const osBefore = (await osState(clouds)).servers.items.length;
    const csBefore = (await csState(clouds)).vms.items.length;
    // One instance left: a VM with a backup policy needs two (the server and its stopped standby).
    await simAdmin(clouds.openstack.url, 'PATCH', '/quotas', { project: 'demo', instances: used + 1 });
    try {
      const full = await call(api, alice, 'GET', '/api/v1/quotas');
      assert.deepEqual((full.body.clouds as Json[]).find((c) => c.cloud === 'openstack').instances, { used, max: used + 1 });
      const refused = await call(api, alice, 'POST', '/api/v1/vms', { ...requirements('no-room', 'openstack'), backup: { intervalSeconds: 3600, retention: 2 } });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'cloud_quota_exceeded');
      assert.match(refused.body.error.message, new RegExp(`OpenStack project allows ${used + 1} instances, ${used} in use; this VM needs 1 \\+ 1 standby`));
      assert.deepEqual(refused.body.error.fields.map((f: Json) => f.field), ['cloud']);
      // Nothing started: no VM record, no server, no CloudStack VM.
      assert.equal((await call(api, alice, 'GET', '/api/v1/vms')).body.vms.length, vmsBefore);
      assert.equal((await osState(clouds)).servers.items.length, osBefore);
      assert.equal((await csState(clouds)).vms.items.length, csBefore);
    } finally {
      await simAdmin(clouds.openstack.url, 'PATCH', '/quotas', { project: 'demo', instances: os.instances.max });
    }
  });

  it('when the VM list is asked with includeDeleted other than true or false, then 400 names includeDeleted', async () => {
    for (const q of ['includeDeleted=', 'includeDeleted=yes', 'includeDeleted=true&includeDeleted=false']) {
      const r = await call(api, alice, 'GET', `/api/v1/vms?${q}`);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.error.fields.map((f: Json) => f.field), ['includeDeleted'], q);
    }
    assert.ok((apiDocument().paths as Json)['/api/v1/vms'].get.responses['400'], 'the document lists the 400');
    assert.equal((await call(api, alice, 'GET', '/api/v1/vms?includeDeleted=false')).status, 200);
    assert.equal((await call(api, alice, 'GET', '/api/v1/vms?includeDeleted=true')).status, 200);
  });

  it('when a create sends an Idempotency-Key that is not 1–200 printable ASCII, then 400 names Idempotency-Key and nothing starts', async () => {
    for (const key of ['has space', 'x'.repeat(201), 'ü']) {
      const r = await call(api, alice, 'POST', '/api/v1/vms', requirements('badkey', 'openstack'), { 'idempotency-key': key });
      assert.equal(r.status, 400, `${key}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body.error.fields.map((f: Json) => f.field), ['Idempotency-Key']);
    }
    const listed = await call(api, alice, 'GET', '/api/v1/vms');
    assert.ok(!listed.body.vms.some((v: Json) => v.name === 'badkey'), 'no VM was made');
  });

  it("when another member asks for a VM, its workflow, or to change or delete it, then every answer is 404", async () => {
    const created = await call(api, alice, 'POST', '/api/v1/vms', requirements('private-one', 'openstack'));
    const vmId = created.body.vm.id as string;
    await waitForVm(api, alice, vmId, (vm) => vm.state === 'active');
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/vms/${vmId}` },
        { method: 'GET', path: `/api/v1/workflows/${encodeURIComponent(`vm-create:${vmId}`)}` },
        { method: 'PATCH', path: `/api/v1/vms/${vmId}`, body: { size: 'small' }, ownerMay404: false },
      ],
    });
    const bobs = await call(api, bob, 'GET', '/api/v1/vms');
    assert.ok(!bobs.body.vms.some((v: Json) => v.id === vmId));
    await waitForVm(api, alice, vmId, (vm) => vm.state === 'active');
    const del = await call(api, bob, 'DELETE', `/api/v1/vms/${vmId}`);
    assert.equal(del.status, 404);
  });

  it('when a create is retried with the same Idempotency-Key, then the same VM comes back and one stack exists; a different body with that key is 409', async () => {
    const body = requirements('idem', 'openstack');
    const a = await call(api, alice, 'POST', '/api/v1/vms', body, { 'idempotency-key': 'create-idem-1' });
    const b = await call(api, alice, 'POST', '/api/v1/vms', body, { 'idempotency-key': 'create-idem-1' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.equal(a.body.vm.id, b.body.vm.id);
    assert.equal(a.body.operation.started, true);
    assert.equal(b.body.operation.started, false);
    await waitForVm(api, alice, a.body.vm.id, (vm) => vm.state === 'active');
    const s = await osState(clouds);
    assert.equal((s.stacks.items as Json[]).filter((st) => st.name === `vmflow-${a.body.vm.id}`).length, 1);
    const c = await call(api, alice, 'POST', '/api/v1/vms', { ...body, size: 'large' }, { 'idempotency-key': 'create-idem-1' });
    assert.equal(c.status, 409);
    assert.equal(c.body.error.code, 'idempotency_key_reused');
  });

  const faults: Array<{ title: string; cloud: 'openstack' | 'cloudstack'; fault: Record<string, unknown> }> = [
    { title: 'Heat answers 503 three times', cloud: 'openstack', fault: { service: 'orchestration', method: 'POST', status: 503, count: 3 } },
    { title: 'Heat answers 429 with Retry-After', cloud: 'openstack', fault: { service: 'orchestration', status: 429, retryAfter: 1, count: 2 } },
    { title: 'a Heat request hangs', cloud: 'openstack', fault: { service: 'orchestration', method: 'POST', hang: true, count: 1 } },
    { title: 'CloudStack answers 530 three times on deploy', cloud: 'cloudstack', fault: { command: 'deployVirtualMachine', status: 530, count: 3 } },
    { title: 'CloudStack answers 429 with Retry-After', cloud: 'cloudstack', fault: { command: 'listVirtualMachines', status: 429, retryAfter: 1, count: 2 } },
    { title: 'a CloudStack request hangs', cloud: 'cloudstack', fault: { command: 'deployVirtualMachine', hang: true, count: 1 } },
  ];
  for (const f of faults) {
    it(`when ${f.title} during a create, then the create completes with exactly one VM`, async () => {
      const sim = f.cloud === 'openstack' ? clouds.openstack.url : clouds.cloudstack.url;
      await simAdmin(sim, 'POST', '/faults', f.fault);
      const name = `fault-${f.cloud}-${Math.random().toString(36).slice(2, 8)}`;
      const created = await call(api, alice, 'POST', '/api/v1/vms', requirements(name, f.cloud));
      assert.equal(created.status, 202);
      const vmId = created.body.vm.id as string;
      const done = await waitForVm(api, alice, vmId, (vm, b) => vm.state === 'failed' || (vm.state === 'active' && b.operation?.status === 'COMPLETED'), 120_000);
      assert.equal(done.vm.state, 'active', JSON.stringify(done.vm));
      assert.equal(done.operation.status, 'COMPLETED');
      if (f.cloud === 'openstack') {
        const s = await osState(clouds);
        assert.equal(liveServersNamed(s, name).length, 1);
        assert.equal((s.stacks.items as Json[]).filter((st) => st.name === `vmflow-${vmId}`).length, 1);
      } else {
        const s = await csState(clouds);
        const vms = (s.vms.items as Json[]).filter((v: Json) => v.name === `vmflow-${vmId}` && !['Destroyed', 'Expunging'].includes(v.state));
        assert.equal(vms.length, 1);
      }
    });
  }

  it('when the worker process is killed mid-create and another starts, then the create completes once', async () => {
    // This test uses worker processes of its own on a separate task queue.
    const stack = await sharedStack();
    const taskQueue = `kill-${Date.now()}`;
    const killApi = await startTestApi({ env: { ...clouds.env, TEMPORAL_TASK_QUEUE: taskQueue } });
    const startWorker = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...clouds.env,
          TEMPORAL_ADDRESS: stack.temporalAddress,
          MONGODB_URI: stack.mongoUri,
          TEMPORAL_TASK_QUEUE: taskQueue,
          VMFLOW_ENCRYPTION_KEYS: formatKeyring(testKeyring()),
          LOG_LEVEL: 'warn',
          // Several worker processes of a run would want the same default metrics ports.
          VMFLOW_METRICS: 'false',
        },
        stdio: 'ignore',
      });
    await simAdmin(clouds.openstack.url, 'PATCH', '/timings', { serverBuildMs: 4000 });
    let w1: ChildProcess | undefined;
    let w2: ChildProcess | undefined;
    try {
      w1 = startWorker();
      const name = `killed-${Date.now().toString(36)}`;
      const created = await call(killApi, alice, 'POST', '/api/v1/vms', requirements(name, 'openstack'));
      const vmId = created.body.vm.id as string;
      // Wait until the workflow is waiting for the stack, then kill the worker without warning.
      await waitForVm(killApi, alice, vmId, () => true);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await call(killApi, alice, 'GET', `/api/v1/vms/${vmId}`);
        if (r.body.operation?.progress?.step === 'wait') break;
        if (Date.now() > deadline) throw new Error(`never reached the wait step: ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      w1.kill('SIGKILL');
      await simAdmin(clouds.openstack.url, 'PATCH', '/timings', { serverBuildMs: 40 });
      w2 = startWorker();
      const done = await waitForVm(killApi, alice, vmId, (vm) => vm.state === 'active' || vm.state === 'failed', 150_000);
      assert.equal(done.vm.state, 'active', JSON.stringify(done.vm));
      const s = await osState(clouds);
      assert.equal(liveServersNamed(s, name).length, 1);
      assert.equal((s.stacks.items as Json[]).filter((st) => st.name === `vmflow-${vmId}`).length, 1);
    } finally {
      w1?.kill('SIGKILL');
      w2?.kill('SIGTERM');
      await simAdmin(clouds.openstack.url, 'PATCH', '/timings', { serverBuildMs: 40 }).catch(() => undefined);
      await killApi.close();
    }
  });
});
