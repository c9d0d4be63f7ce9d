/**
 * Issue 12, items 4 and 7: what one member may make the service hold or do. Each test performs the
 * attack on a real API (FerretDB, Temporal) and shows it is refused with a 4xx naming the quota or
 * field:
 *   - more VMs, cloud accounts or drills in flight than the quota; a retention or drill period
 *     beyond the bounds;
 *   - a list asked for in one go (every list is a page: limit capped, cursor to go on);
 *   - verify called again and again (per member and per account), and against the operator's
 *     accounts, whose settings members do not see.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { DRILL_WORKFLOW } from '../../src/contracts/dr';
import { OPERATOR_ACCOUNT_IDS } from '../../src/cloud-accounts/types';
import { vmSearchAttributes } from '../../src/vms/search';
import { CLAIM_LEASE_MS, claimVmSlot, VM_QUOTA_SLOTS_COLLECTION } from '../../src/vms/quota-slots';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch, waitUntil } from '../harness/http';
import { uniqueTaskQueue } from '../harness/stack';
import { signupAndLogin, testPassword, type TestUser } from '../harness/users';

type Json = any;

describe('quotas, pages and verify limits (issue 12 items 4 and 7)', function () {
  this.timeout(120_000);
  let api: TestApi;

  async function call(user: TestUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; headers: Headers }> {
    const res = await apiFetch(`${api.url}${path}`, { method, headers: { ...user.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  const vmBody = (name: string) => ({ name, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });

  const account = (name: string) => ({ kind: 'openstack', name, authUrl: 'http://127.0.0.1:9/v3', projectName: 'p', username: 'u', password: testPassword() });

  /** A VM record of `owner` (no cloud behind it: quotas and lists read the records). */
  async function vmRecord(owner: TestUser, state = 'active'): Promise<string> {
    const id = `quota-vm-${crypto.randomUUID()}`;
    await api.deps.db.collection('vms').insertOne({ _id: id as never, ownerId: owner.userId, name: id.slice(0, 20), cloud: 'openstack', accountId: OPERATOR_ACCOUNT_IDS.openstack, state, revision: 0, requirements: { name: 'quota-vm', os: 'ubuntu-24.04', software: [], size: 'small', cloud: 'openstack' }, workflowIds: [], history: [], createdAt: new Date(), updatedAt: new Date() });
    return id;
  }

  before(async () => {
    api = await startTestApi({
      env: {
        // Cloud accounts below point at a closed local port, allow-listed for the purpose.
        VMFLOW_OUTBOUND_ALLOW: 'http://127.0.0.1:9/v3',
        QUOTA_VMS: '5',
        QUOTA_CLOUD_ACCOUNTS: '2',
        QUOTA_DRILLS_IN_FLIGHT: '1',
        QUOTA_BACKUP_RETENTION: '10',
        VMFLOW_DRILL_MIN_INTERVAL_SECONDS: '3600',
        VERIFY_RATE_LIMIT_PER_MEMBER: '3',
        VERIFY_RATE_LIMIT_PER_ACCOUNT: '2',
      },
    });
  });
  after(async () => {
    await api?.close();
  });

  it('when a member registers more cloud accounts than the quota, then 409 quota_exceeded names cloudAccounts and nothing more is stored', async () => {
    const m = await signupAndLogin(api.url);
    for (const n of ['a', 'b']) assert.equal((await call(m, 'POST', '/api/v1/cloud-accounts', account(n))).status, 201);
    const over = await call(m, 'POST', '/api/v1/cloud-accounts', account('c'));
    assert.equal(over.status, 409);
    assert.equal(over.body.error.code, 'quota_exceeded');
    assert.deepEqual([over.body.error.quota, over.body.error.limit], ['cloudAccounts', 2]);
    assert.equal(await api.deps.db.collection('cloudaccounts').countDocuments({ ownerId: m.userId }), 2);
  });

  it('when a member creates more VMs than the quota, then 409 quota_exceeded names vms before any workflow starts', async () => {
    const m = await signupAndLogin(api.url);
    // Records from before quota slots existed (they hold none): they count all the same.
    for (let i = 0; i < 5; i++) await vmRecord(m);
    await vmRecord(m, 'deleted'); // deleted VMs do not count
    const over = await call(m, 'POST', '/api/v1/vms', vmBody('one-too-many'));
    assert.equal(over.status, 409, JSON.stringify(over.body));
    assert.deepEqual([over.body.error.code, over.body.error.quota], ['quota_exceeded', 'vms']);
    assert.equal(await api.deps.db.collection('vms').countDocuments({ ownerId: m.userId }), 6);
  });

  /** Creates sent all at once, each with its own Idempotency-Key: their answers, in order. */
  async function burst(m: TestUser, n: number, prefix: string, urls = [api.url]): Promise<Array<{ key: string; status: number; body: Json }>> {
    return Promise.all(Array.from({ length: n }, async (_, i) => {
      const key = `${prefix}-${i}-${crypto.randomUUID()}`;
      const res = await apiFetch(`${urls[i % urls.length]}/api/v1/vms`, { method: 'POST', headers: { ...m.authHeaders, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(vmBody(`${prefix}-${i}`)) });
      const text = await res.text();
      return { key, status: res.status, body: text ? JSON.parse(text) : undefined };
    }));
  }

  const liveVms = (m: TestUser) => api.deps.db.collection('vms').countDocuments({ ownerId: m.userId, state: { $ne: 'deleted' } });

  it('when a member sends 30 creates at once with a quota of 5, then exactly 5 are accepted, the other 25 are 409 quota_exceeded, and a replay of an accepted one is still answered', async () => {
    // Three members in turn: how requests interleave varies, so one round alone may not show a race.
    let m!: TestUser;
    let accepted: Array<{ key: string; status: number; body: Json }> = [];
    for (let round = 0; round < 3; round++) {
      m = await signupAndLogin(api.url);
      const answers = await burst(m, 30, `burst${round}`);
      accepted = answers.filter((a) => a.status === 202);
      const refused = answers.filter((a) => a.status === 409);
      assert.equal(accepted.length, 5, `round ${round}: ${JSON.stringify(answers.map((a) => a.status))}`);
      assert.equal(refused.length, 25, JSON.stringify(answers.filter((a) => a.status !== 202 && a.status !== 409).map((a) => a.body)));
      for (const r of refused) assert.deepEqual([r.body.error.code, r.body.error.quota, r.body.error.limit], ['quota_exceeded', 'vms', 5]);
      assert.equal(await liveVms(m), 5);
    }

    // At the quota, a replayed request is answered with its VM; a refused one is still refused.
    const replay = await apiFetch(`${api.url}/api/v1/vms`, { method: 'POST', headers: { ...m.authHeaders, 'content-type': 'application/json', 'idempotency-key': accepted[0].key }, body: JSON.stringify(vmBody(accepted[0].body.vm.name)) });
    const replayed = await replay.json() as Json;
    assert.equal(replay.status, 202, JSON.stringify(replayed));
    assert.deepEqual([replayed.vm.id, replayed.operation.started], [accepted[0].body.vm.id, false]);
    assert.equal(await liveVms(m), 5);
  });

  it('when 30 creates at once are split over two API processes, then exactly 5 are accepted', async () => {
    // A second API with its own database and Temporal connections: nothing in memory is shared.
    const other = await startTestApi({ env: { QUOTA_VMS: '5' } });
    try {
      const m = await signupAndLogin(api.url);
      const answers = await burst(m, 30, 'two-apis', [api.url, other.url]);
      assert.deepEqual([answers.filter((a) => a.status === 202).length, answers.filter((a) => a.status === 409).length], [5, 25], JSON.stringify(answers.map((a) => a.status)));
      assert.equal(await liveVms(m), 5);
    } finally {
      await other.close();
    }
  });

  it('when one of a member\'s VMs is deleted at the quota, then one more create is accepted and the next is refused', async () => {
    const m = await signupAndLogin(api.url);
    const first = await burst(m, 5, 'del');
    assert.deepEqual(first.map((a) => a.status), [202, 202, 202, 202, 202]);
    assert.equal((await call(m, 'POST', '/api/v1/vms', vmBody('over'))).status, 409);
    // What the delete workflow writes last (setVmState → deleted; no worker runs in this suite).
    await api.deps.db.collection('vms').updateOne({ _id: first[2].body.vm.id }, { $set: { state: 'deleted' } });
    const answers = await burst(m, 6, 'after-delete');
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 409, 409, 409, 409, 409]);
    assert.equal(await liveVms(m), 5);
  });

  it('when a create claimed a slot and never inserted its VM (a crash), then the slot counts within the lease and is taken over after it', async () => {
    const m = await signupAndLogin(api.url);
    const slots = api.deps.db.collection(VM_QUOTA_SLOTS_COLLECTION);
    // The crashed create's claim of slot 0: no VM `ghost` was ever inserted.
    await slots.insertOne({ _id: `${m.userId}:0:0` as never, ownerId: m.userId, n: 0, e: 0, vmId: `ghost-${crypto.randomUUID()}`, at: new Date() });
    const answers = await burst(m, 8, 'stale');
    assert.equal(answers.filter((a) => a.status === 202).length, 4, 'the fresh claim still counts (its insert may be under way)');
    assert.equal(await liveVms(m), 4);
    await slots.updateOne({ _id: `${m.userId}:0:0` as never }, { $set: { at: new Date(Date.now() - CLAIM_LEASE_MS - 1000) } });
    const later = await burst(m, 4, 'reclaim');
    assert.deepEqual(later.map((a) => a.status).sort(), [202, 409, 409, 409]);
    assert.equal(await liveVms(m), 5);
    // Taken over by a new claim of the same slot, not by rewriting the old one.
    assert.equal((await slots.findOne({ _id: `${m.userId}:0:1` as never }))?.vmId, later.find((a) => a.status === 202)!.body.vm.id);
  });

  it('when 300 creates claim at once under a large quota (more than the 256 never-claimed slots each one tries), then every one wins a different slot', async () => {
    // Before: each saw the same 256 candidates, and the 44 that lost every race were refused
    // "quota reached" although 999,700 slots were free (500 creates at once in the orchestration bench: 49 refused).
    const ownerId = `burst-${crypto.randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => claimVmSlot(api.deps.db, ownerId, `burst-vm-${i}`, 1_000_000)));
    const won = results.filter((r) => r.ok);
    assert.equal(won.length, 300, `refused: ${JSON.stringify(results.find((r) => !r.ok))}`);
    assert.equal(new Set(won.map((r) => (r.ok ? r.claim.n : -1))).size, 300, 'no slot held twice');
    // And a small quota is still exact: 20 claims at once for 5 slots → 5 win.
    const small = `burst-small-${crypto.randomUUID()}`;
    const few = await Promise.all(Array.from({ length: 20 }, (_, i) => claimVmSlot(api.deps.db, small, `small-vm-${i}`, 5)));
    assert.equal(few.filter((r) => r.ok).length, 5);
  });

  it('when a member far from the quota deleted a VM, then creates still count it until the quota is near, and then its slot is free again', async () => {
    // Far from the quota a create reads only the claims (the member's VMs are a scan on FerretDB);
    // near it, the exact reading frees the deleted VM's slot. Quota 3 here.
    const ownerId = `quick-${crypto.randomUUID()}`;
    const vms = api.deps.db.collection('vms');
    const admitted = async (name: string) => {
      const claim = await claimVmSlot(api.deps.db, ownerId, `${ownerId}-${name}`, 3);
      if (claim.ok) await vms.insertOne({ _id: `${ownerId}-${name}` as never, ownerId, state: 'active', name, history: [] });
      return claim;
    };
    const slotOf = (r: Awaited<ReturnType<typeof claimVmSlot>>) => (r.ok ? r.claim.n : `refused (${r.held} held)`);
    const [a, b] = [slotOf(await admitted('a')), slotOf(await admitted('b'))];
    assert.ok(typeof a === 'number' && typeof b === 'number' && a !== b, `${a}, ${b}`);
    assert.ok(await api.deps.db.collection(VM_QUOTA_SLOTS_COLLECTION).findOne({ _id: `${ownerId}:adopted` as never }), 'the member\'s VMs all hold slots');
    await vms.updateOne({ _id: `${ownerId}-a` as never }, { $set: { state: 'deleted' } });
    assert.equal(slotOf(await admitted('c')), 3 - a - b, 'far from the quota the deleted VM still counted: the slot nobody claimed yet');
    assert.equal(slotOf(await admitted('d')), a, 'at the quota the exact reading gave the deleted VM\'s slot');
    assert.equal(slotOf(await admitted('e')), 'refused (3 held)');
  });

  it('when a policy keeps more backups than allowed or drills more often than allowed, then 400 names retention or drillIntervalSeconds', async () => {
    const m = await signupAndLogin(api.url);
    const vmId = await vmRecord(m);
    const policy = await call(m, 'PUT', `/api/v1/vms/${vmId}/backup-policy`, { intervalSeconds: 3600, retention: 50 });
    assert.equal(policy.status, 400);
    assert.deepEqual(policy.body.error.fields.map((f: Json) => f.field), ['retention']);
    const drills = await call(m, 'PUT', `/api/v1/vms/${vmId}/dr`, { drillIntervalSeconds: 60 });
    assert.equal(drills.status, 400);
    assert.deepEqual(drills.body.error.fields.map((f: Json) => f.field), ['drillIntervalSeconds']);
  });

  it('when a member asks for another drill while one of theirs runs, then 409 quota_exceeded names drillsInFlight', async () => {
    const m = await signupAndLogin(api.url);
    const vmId = await vmRecord(m);
    // A drill of this member that runs (its task queue has no worker, so it stays running).
    const client = api.deps.temporal.client;
    const handle = await client.workflow.start(DRILL_WORKFLOW, {
      workflowId: `quota-drill-${crypto.randomUUID()}`,
      taskQueue: uniqueTaskQueue('no-worker'),
      args: [{ vmId, ownerId: m.userId, target: 'backup-cloud' }],
      typedSearchAttributes: vmSearchAttributes(m.userId, vmId, 'openstack'),
    });
    try {
      await waitUntil('the running drill is visible', async () => ((await client.workflow.count(`WorkflowId = "${handle.workflowId}" AND ExecutionStatus = "Running"`)).count === 1 ? true : undefined), 30_000);
      const over = await call(m, 'POST', `/api/v1/vms/${vmId}/dr/drill`, { target: 'backup-cloud' });
      assert.equal(over.status, 409, JSON.stringify(over.body));
      assert.deepEqual([over.body.error.code, over.body.error.quota], ['quota_exceeded', 'drillsInFlight']);
    } finally {
      await handle.terminate('test done');
    }
  });

  it('when a member lists their events, then each answer is a page of at most the limit, the cursor walks the rest without repeats, and a limit over the cap or a forged cursor is 400 naming it', async () => {
    const m = await signupAndLogin(api.url);
    const t0 = Date.now();
    const ids = Array.from({ length: 7 }, (_, i) => ({ _id: `quota-ev-${i}-${crypto.randomUUID()}`, ownerId: m.userId, vmId: 'quota-vm', kind: 'drill.completed', message: `event ${i}`, at: new Date(t0 - (i % 3) * 1000), delivery: { status: 'disabled', attempts: 0 } }));
    await api.deps.db.collection('events').insertMany(ids as never);
    const seen: string[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const page = await call(m, 'GET', `/api/v1/events?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      sizes.push(page.body.events.length);
      seen.push(...page.body.events.map((e: Json) => e.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    assert.deepEqual(sizes, [3, 3, 1]);
    assert.deepEqual([...seen].sort(), ids.map((e) => e._id).sort());
    const tooMany = await call(m, 'GET', '/api/v1/events?limit=501');
    assert.equal(tooMany.status, 400);
    assert.deepEqual(tooMany.body.error.fields.map((f: Json) => f.field), ['limit']);
    const forged = await call(m, 'GET', `/api/v1/events?cursor=${Buffer.from('{"v":{"$gt":""},"id":"x"}').toString('base64url')}`);
    assert.equal(forged.status, 400);
    assert.deepEqual(forged.body.error.fields.map((f: Json) => f.field), ['cursor']);

    for (let i = 0; i < 3; i++) await vmRecord(m);
    const vms = await call(m, 'GET', '/api/v1/vms?limit=2');
    assert.equal(vms.body.vms.length, 2);
    const rest = await call(m, 'GET', `/api/v1/vms?limit=2&cursor=${encodeURIComponent(vms.body.nextCursor)}`);
    assert.equal(rest.body.vms.length, 1);
    assert.equal(rest.body.nextCursor, undefined);
    assert.equal((await call(m, 'GET', '/api/v1/vms?limit=501')).status, 400);
  });

  it('when a member verifies again and again, then 429 past the per-account and per-member limits; the operator\'s accounts cannot be verified and show no settings', async () => {
    const m = await signupAndLogin(api.url);
    const one = (await call(m, 'POST', '/api/v1/cloud-accounts', account('v1'))).body.id as string;
    const two = (await call(m, 'POST', '/api/v1/cloud-accounts', account('v2'))).body.id as string;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(m, 'POST', `/api/v1/cloud-accounts/${one}/verify`)).status);
    assert.deepEqual(statuses, [200, 200, 429], 'per account');
    assert.equal((await call(m, 'POST', `/api/v1/cloud-accounts/${two}/verify`)).status, 200);
    const memberLimited = await call(m, 'POST', `/api/v1/cloud-accounts/${two}/verify`);
    assert.equal(memberLimited.status, 429, 'per member: 3 verifies');
    assert.ok(Number(memberLimited.headers.get('retry-after')) > 0);

    const other = await signupAndLogin(api.url);
    for (const id of Object.values(OPERATOR_ACCOUNT_IDS)) {
      const r = await call(other, 'POST', `/api/v1/cloud-accounts/${id}/verify`);
      assert.equal(r.status, 403, id);
      const view = await call(other, 'GET', `/api/v1/cloud-accounts/${id}`);
      assert.equal(view.status, 200);
      assert.deepEqual(Object.keys(view.body).sort(), ['createdAt', 'id', 'kind', 'name', 'scope', 'secrets', 'updatedAt']);
      assert.deepEqual(view.body.secrets, []);
    }
  });
});
