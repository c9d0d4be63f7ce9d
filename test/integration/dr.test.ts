/**
 * Disaster recovery end to end (UC-009) with the simulators' fault injection: a broken VM with the
 * base cloud healthy → the base standby takes over; a base-cloud outage → failover to CloudStack →
 * the base cloud recovers → failback → Protected again; a blip shorter than the threshold → no
 * failover; a drill leaves production untouched and cleans up; refused commands; alerts reach the
 * webhook; RPO and RTO are recorded on the events.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScheduleNotFoundError } from '@temporalio/client';
import { documentedSchema } from '../harness/contract';
import { cloudMonitorWorkflowId, drillScheduleId, drWorkflowId } from '../../src/contracts/dr';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../../src/contracts/dr-monitor';
import type { TestApi } from '../harness/api';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { registerTestSecret } from '../harness/secrets';
import type { TestWorker } from '../harness/temporal';
import { assertOwnerScoped, signupAndLogin, type TestUser } from '../harness/users';
import { apiCall, waitUntil } from '../harness/http';

type Json = any;

describe('disaster recovery: monitor → failover → failback, drills and alerts', function () {
  this.timeout(600_000);
  let clouds: TestClouds;
  let api: TestApi;
  let tw: TestWorker;
  let sys: DrSystem;
  let alice: TestUser;
  let bob: TestUser;
  let webhook: http.Server;
  const received: Array<{ kind: string; signature: string; body: Json; raw: string }> = [];
  const webhookSecret = crypto.randomBytes(24).toString('base64url');

  const call = (user: TestUser, method: string, p: string, body?: unknown) => apiCall(api.url, user, method, p, body);
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 150_000) => waitUntil(what, fn, timeoutMs);

  const dr = async (vmId: string) => (await call(alice, 'GET', `/api/v1/vms/${vmId}/dr`)).body;
  const vm = async (vmId: string) => (await call(alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm;
  const osState = () => simAdmin(clouds.openstack.url, 'GET', '/state');
  const csState = () => simAdmin(clouds.cloudstack.url, 'GET', '/state');

  /** A VM in OpenStack with one full backup (both standbys) and DR protection on. */
  async function protectedVm(name: string, drSettings: Record<string, unknown> = {}): Promise<string> {
    const r = await call(alice, 'POST', '/api/v1/vms', { name, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    await until('VM active', async () => ((await vm(vmId)).state === 'active' ? true : undefined));
    const run = await call(alice, 'POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const b = await until('backup done', async () => {
      const list = (await call(alice, 'GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[];
      return list.find((x) => x.status !== 'running');
    }).catch(async (err) => {
      // Say where it stuck: the workflow's own progress (tasks and their states).
      const wf = await call(alice, 'GET', `/api/v1/workflows/${encodeURIComponent(run.body.workflowId)}`);
      throw new Error(`${(err as Error).message}; workflow: ${JSON.stringify(wf.body)}`);
    });
    assert.equal(b.status, 'succeeded', JSON.stringify(b));
    const p = await call(alice, 'PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'automatic', failbackAfterHealthySeconds: 2, ...drSettings });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    await until('DR workflow answering', async () => ((await dr(vmId)).state?.state === 'Protected' ? true : undefined));
    return vmId;
  }

  before(async () => {
    registerTestSecret(webhookSecret);
    clouds = await sharedClouds();
    webhook = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        received.push({ kind: String(req.headers['x-vmflow-event']), signature: String(req.headers['x-vmflow-signature']), body: JSON.parse(raw), raw });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    sys = await startDrSystem({ alerts: { webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`, webhookSecret } });
    ({ api, tw } = sys);
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage').catch(() => undefined);
    await sys?.stop();
    webhook?.close();
  });
  afterEach(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/faults');
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage');
  });

  it('when the VM breaks while the base cloud is healthy, then the base standby takes over, the old server is fenced, and a fresh backup re-protects it', async () => {
    const vmId = await protectedVm('breaks');
    const before = await vm(vmId);
    const standby = ((await osState()).servers.items as Json[]).find((s) => s.name === `vmflow-${vmId}-standby`);
    assert.equal(standby.status, 'SHUTOFF');

    await simAdmin(clouds.openstack.url, 'POST', `/servers/${before.placement.serverId}/break`, { mode: 'error' });
    const after = await until('switched to the standby', async () => {
      const v = await vm(vmId);
      return v.placement.serverId === standby.id ? v : undefined;
    });
    assert.equal(after.placement.cloud, 'openstack');
    assert.equal(after.state, 'active');
    const protectedAgain = await until('Protected again', async () => {
      const d = await dr(vmId);
      return d.state.state === 'Protected' && d.events.some((e: Json) => e.kind === 'failover.completed') ? d : undefined;
    });
    const completed = protectedAgain.events.find((e: Json) => e.kind === 'failover.completed');
    assert.equal(completed.details.target, 'base-standby');
    assert.ok(completed.rpoSeconds >= 0, 'RPO recorded');
    assert.ok(completed.rtoSeconds > 0, 'RTO recorded');
    assert.ok(protectedAgain.events.some((e: Json) => e.kind === 'disaster.vm'));

    const s = await osState();
    const old = (s.servers.items as Json[]).find((x) => x.id === before.placement.serverId);
    assert.ok(!old || old.status !== 'ACTIVE', 'never two active copies');
    const live = (s.servers.items as Json[]).filter((x) => x.status === 'ACTIVE' && (x.id === standby.id || x.id === before.placement.serverId));
    assert.equal(live.length, 1, 'exactly one active copy');
    // Re-protected: a new stopped standby exists for the promoted primary.
    await until('new standby', async () => {
      const st = await osState();
      const sb = (st.servers.items as Json[]).find((x) => x.name === `vmflow-${vmId}-standby` && x.id !== standby.id);
      return sb?.status === 'SHUTOFF' ? sb : undefined;
    });
  });

  it('when the VM breaks and its base standby is gone, then it is restored from the newest backup into its own stack rather than left down', async () => {
    const vmId = await protectedVm('breaks-no-standby');
    const before = await vm(vmId);
    const standby = ((await osState()).servers.items as Json[]).find((s) => s.name === `vmflow-${vmId}-standby`);
    assert.ok(standby, 'a standby was made by the backup');
    // The standby vanishes (e.g. a backup replacing it gave way to this failover) and the VM breaks.
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${standby.id}/break`, { mode: 'gone' });
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${before.placement.serverId}/break`, { mode: 'error' });
    const d = await until('Protected again after the failover', async () => {
      const x = await dr(vmId);
      return x.state.state === 'Protected' && x.events.some((e: Json) => e.kind === 'failover.completed') ? x : undefined;
    });
    assert.ok(!d.events.some((e: Json) => e.kind === 'failover.failed' || e.kind === 'failover.gave-up'), JSON.stringify(d.events.map((e: Json) => e.message)));
    const after = await vm(vmId);
    assert.equal(after.state, 'active');
    assert.equal(after.placement.stackId, before.placement.stackId, 'rebuilt in its own stack');
    assert.notEqual(after.placement.serverId, before.placement.serverId, 'not the broken server');
    const servers = (await osState()).servers.items as Json[];
    assert.equal(servers.find((x) => x.id === after.placement.serverId)?.status, 'ACTIVE');
    assert.ok(after.history.some((h: Json) => /restor/i.test(h.reason)), JSON.stringify(after.history.map((h: Json) => h.reason)));
  });

  it('when the base cloud goes down, then the VM fails over to CloudStack; when it recovers, the VM fails back and is Protected again', async () => {
    const vmId = await protectedVm('outage');
    const before = await vm(vmId);
    const csStandby = ((await csState()).vms.items as Json[]).find((v) => v.name === `vmflow-${vmId}-standby`);
    assert.equal(csStandby.state, 'Stopped');

    await simAdmin(clouds.openstack.url, 'POST', '/outage', { mode: '503' });
    const failedOver = await until('failed over to CloudStack', async () => {
      const v = await vm(vmId);
      return v.placement.cloud === 'cloudstack' ? v : undefined;
    });
    assert.equal(failedOver.placement.serverId, csStandby.id);
    const d1 = await until('FailedOver', async () => {
      const d = await dr(vmId);
      return d.state.state === 'FailedOver' && d.events.some((e: Json) => e.kind === 'failover.completed') ? d : undefined;
    });
    assert.equal(d1.state.target, 'backup-cloud');
    assert.ok(d1.state.fencePending, 'the unreachable old server is recorded as not fenced');
    assert.equal(((await csState()).vms.items as Json[]).find((v) => v.id === csStandby.id).state, 'Running');
    const failoverEvent = d1.events.find((e: Json) => e.kind === 'failover.completed');
    assert.ok(failoverEvent.rtoSeconds > 0 && failoverEvent.rpoSeconds >= 0);

    // Recovery: failback after the base cloud has been healthy for 2 s (automatic mode).
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage');
    const home = await until('failed back', async () => {
      const v = await vm(vmId);
      return v.placement.cloud === 'openstack' && v.history.some((h: Json) => h.reason === 'failed back to the base cloud') ? v : undefined;
    }, 240_000);
    assert.equal(home.placement.stackId, before.placement.stackId, 'back in its own Heat stack');
    const d2 = await until('Protected', async () => {
      const d = await dr(vmId);
      return d.state.state === 'Protected' && d.events.some((e: Json) => e.kind === 'failback.completed') ? d : undefined;
    }, 240_000);
    assert.equal(d2.state.fencePending, undefined, 'the old server was fenced once reachable');
    const kinds = d2.events.map((e: Json) => e.kind);
    for (const k of ['disaster.cloud', 'failover.completed', 'cloud.recovered', 'failback.started', 'failback.completed']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);

    const os2 = await osState();
    const homeServer = (os2.servers.items as Json[]).find((x) => x.id === home.placement.serverId);
    assert.equal(homeServer.status, 'ACTIVE');
    const cs2 = await csState();
    assert.ok(!(cs2.vms.items as Json[]).some((v) => v.id === csStandby.id && v.state === 'Running'), 'the CloudStack copy is no longer running');
    // The failback's template and the CloudStack copy go on drVm's next ticks (after Protected).
    await until('no failback template and no CloudStack copy left', async () => {
      const cs = await csState();
      return (cs.templates.items as Json[]).some((t) => t.name.startsWith(`vmflow-${vmId}-failback-`)) || (cs.vms.items as Json[]).some((v) => v.id === csStandby.id) ? undefined : true;
    }, 60_000);
  });

  it('when the cloud blips for less than the threshold, then nothing fails over', async () => {
    const vmId = await protectedVm('blip');
    const before = await vm(vmId);
    const monitor = () => tw.client.workflow.getHandle(cloudMonitorWorkflowId(before.placement.accountId)).query<MonitorStatus>(MONITOR_STATUS_QUERY);
    const checksBefore = (await monitor()).checks;
    // Two failed listings (threshold is 3).
    const injectedAt = Date.now();
    await simAdmin(clouds.openstack.url, 'POST', '/faults', { service: 'compute', method: 'GET', path: '/servers/detail', status: 503, count: 2 });
    // The monitor saw the blip (a test that only waits could pass with the monitor dead) …
    const saw = await until('the monitor counted a failed check', async () => {
      const m = await monitor();
      return m.cloud.failures >= 1 ? m : undefined;
    }, 60_000);
    assert.match(saw.lastProbe?.cloudDetail ?? '', /HTTP 503/);
    assert.equal(saw.cloudHealthy, true, 'below the threshold the cloud stays healthy');
    // … and went on checking past it, the counters cleared.
    await until('checks past the blip', async () => {
      const m = await monitor();
      return m.checks >= checksBefore + 6 && m.cloud.failures === 0 ? m : undefined;
    }, 60_000);
    assert.ok(!(await monitor()).recentSignals.some((r) => r.kind === 'cloudHealth' && !r.healthy && Date.parse(r.at) >= injectedAt), 'no cloud-down signal');
    const d = await dr(vmId);
    assert.equal(d.state.state, 'Protected');
    assert.ok(!d.events.some((e: Json) => e.kind.startsWith('disaster') || e.kind.startsWith('failover')), JSON.stringify(d.events));
    assert.equal((await vm(vmId)).placement.serverId, before.placement.serverId);
  });

  it('when a drill runs, then an isolated copy boots and is torn down while production and the standbys are untouched', async () => {
    const vmId = await protectedVm('drill');
    const before = await vm(vmId);
    const cs1 = await csState();
    const standby1 = (cs1.vms.items as Json[]).find((v) => v.name === `vmflow-${vmId}-standby`);
    const r = await call(alice, 'POST', `/api/v1/vms/${vmId}/dr/drill`, { target: 'backup-cloud' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const report = await until('drill report', async () => ((await call(alice, 'GET', `/api/v1/vms/${vmId}/dr/drills`)).body.drills as Json[])[0]);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.cleanedUp, true);
    assert.ok(report.bootSeconds >= 0);
    const cs2 = await csState();
    assert.equal((cs2.vms.items as Json[]).filter((v) => v.name.startsWith(`vmflow-${vmId}-drill-`) && !['Destroyed', 'Expunging'].includes(v.state)).length, 0, 'drill copy removed');
    assert.equal((cs2.vms.items as Json[]).find((v) => v.id === standby1.id).state, 'Stopped', 'standby untouched');
    const after = await vm(vmId);
    assert.deepEqual(after.placement, before.placement, 'production untouched');
    assert.equal((await dr(vmId)).state.state, 'Protected');

    const base = await call(alice, 'POST', `/api/v1/vms/${vmId}/dr/drill`, { target: 'base-standby' });
    assert.equal(base.status, 202);
    const report2 = await until('base drill report', async () => ((await call(alice, 'GET', `/api/v1/vms/${vmId}/dr/drills`)).body.drills as Json[]).find((d) => d.target === 'base-standby'));
    assert.equal(report2.ok, true, JSON.stringify(report2));
    const os2 = await osState();
    // This VM's drill copies only: other suites sharing the simulator run drills of their own.
    assert.equal((os2.servers.items as Json[]).filter((s) => s.name.startsWith(`vmflow-${vmId}-drill-`)).length, 0);
    // Drill events reach the webhook too (issue 12 item 8; before, they were only stored).
    const drillAlerts = await until('drill events at the webhook', async () => {
      const got = received.filter((d) => d.kind === 'drill.completed' && d.body.vmId === vmId);
      return got.length >= 2 ? got : undefined;
    });
    for (const d of drillAlerts) assert.equal(d.signature, `sha256=${crypto.createHmac('sha256', webhookSecret).update(d.raw).digest('hex')}`);
  });

  it('when drills are scheduled, then the schedule runs drills that report, and unprotecting removes the schedule and ends the DR workflow', async () => {
    const vmId = await protectedVm('drill-schedule', { drillIntervalSeconds: 3600, drillTarget: 'backup-cloud' });
    const handle = tw.client.schedule.getHandle(drillScheduleId(vmId));
    const desc = await handle.describe();
    assert.equal(desc.spec.intervals?.[0]?.every, 3600_000);
    await handle.trigger();
    const report = await until('scheduled drill report', async () => ((await call(alice, 'GET', `/api/v1/vms/${vmId}/dr/drills`)).body.drills as Json[])[0]);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.cleanedUp, true);

    const off = await call(alice, 'DELETE', `/api/v1/vms/${vmId}/dr`);
    assert.equal(off.status, 200);
    assert.equal(off.body.protected, false);
    await assert.rejects(handle.describe(), ScheduleNotFoundError);
    const ended = await until('DR workflow ended', async () => {
      const d = await tw.client.workflow.getHandle(drWorkflowId(vmId)).describe();
      return d.status.name === 'COMPLETED' ? d : undefined;
    });
    assert.equal(ended.status.name, 'COMPLETED');
    assert.equal((await dr(vmId)).protected, false);
  });

  it('when a VM is protected, then GET /vms carries its DR summary and GET …/dr serves the state drVm recorded, never a workflow query; unprotecting removes the record', async () => {
    const vmId = await protectedVm('summary');
    const states = api.deps.db.collection<{ _id: string; ownerId: string; runId?: string; status: Json; since: Date }>('dr_states');
    const rec = await until('drVm recorded its state', async () => (await states.findOne({ _id: vmId })) ?? undefined);
    assert.equal(rec.status.state, 'Protected');
    assert.equal(rec.status.vmId, vmId);
    assert.ok(rec.runId, 'the run that wrote it');

    const list = await call(alice, 'GET', '/api/v1/vms?limit=500');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    documentedSchema('VmList').parse(list.body);
    const item = (list.body.vms as Json[]).find((v) => v.id === vmId);
    assert.equal(item.dr.protected, true);
    assert.equal(item.dr.state, 'Protected');
    assert.equal(item.dr.since, new Date(rec.since).toISOString());
    assert.ok(item.dr.rpoSecondsNow >= 0, 'the newest backup’s age');
    assert.ok(Date.parse(item.dr.newestBackupAt) <= Date.now());
    assert.equal(item.nextBackupAt, undefined, 'no backup policy, no next backup');
    // Another member's list carries none of it.
    assert.ok(!((await call(bob, 'GET', '/api/v1/vms')).body.vms as Json[]).some((v) => v.id === vmId));

    // Readers read the record, not the workflow: a record that says something the workflow does
    // not (written here by hand; drVm writes it again only when its state changes) is what they see.
    await states.updateOne({ _id: vmId }, { $set: { 'status.state': 'FailingBack', 'status.step': 'written into the record' } });
    const fromRecord = await dr(vmId);
    assert.equal(fromRecord.state.state, 'FailingBack');
    assert.equal(fromRecord.state.step, 'written into the record');
    assert.equal(fromRecord.stateSince, new Date(rec.since).toISOString());
    const listed = ((await call(alice, 'GET', '/api/v1/vms')).body.vms as Json[]).find((v) => v.id === vmId);
    assert.equal(listed.dr.state, 'FailingBack');
    const queried = await tw.client.workflow.getHandle(drWorkflowId(vmId)).query<Json>('drStatus');
    assert.equal(queried.state, 'Protected', 'the workflow itself was not changed');

    // Protection off: drVm removes its record as it ends; the list says "not protected".
    const off = await call(alice, 'PUT', `/api/v1/vms/${vmId}/dr`, { enabled: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    await until('record removed', async () => ((await states.findOne({ _id: vmId })) ? undefined : true));
    const unprotected = ((await call(alice, 'GET', '/api/v1/vms')).body.vms as Json[]).find((v) => v.id === vmId);
    assert.deepEqual({ protected: unprotected.dr.protected, state: unprotected.dr.state }, { protected: false, state: undefined });
  });

  it('when a VM is created with DR on, then it is protected from the start with the settings given, and Protected once it runs; a bad setting is a 400 naming dr.<field>', async () => {
    const bad = await call(alice, 'POST', '/api/v1/vms', { name: 'dr-bad', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', dr: { failbackMode: 'sometimes' } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.error.fields.map((f: Json) => f.field), ['dr.failbackMode']);
    const cs = await call(alice, 'POST', '/api/v1/vms', { name: 'dr-cs', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'cloudstack', dr: {} });
    assert.equal(cs.status, 400, JSON.stringify(cs.body));
    assert.deepEqual(cs.body.error.fields.map((f: Json) => f.field), ['dr']);

    const r = await call(alice, 'POST', '/api/v1/vms', { name: 'dr-on-create', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', dr: { failbackMode: 'approval' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    const view = await dr(vmId);
    assert.equal(view.protected, true);
    assert.deepEqual(view.settings.failbackMode, 'approval');
    await until('VM active', async () => ((await vm(vmId)).state === 'active' ? true : undefined));
    const listed = await until('Protected in the list', async () => {
      const v = ((await call(alice, 'GET', '/api/v1/vms')).body.vms as Json[]).find((x) => x.id === vmId);
      return v?.dr?.state === 'Protected' ? v : undefined;
    });
    assert.equal(listed.dr.protected, true);
    const del = await call(alice, 'DELETE', `/api/v1/vms/${vmId}`);
    assert.equal(del.status, 202, JSON.stringify(del.body));
    await until('VM deleted', async () => ((await vm(vmId)).state === 'deleted' ? true : undefined));
  });

  it('when PUT /dr turns protection off, then the answer is the documented DR view and nothing is protected', async () => {
    const r = await call(alice, 'POST', '/api/v1/vms', { name: 'dr-off', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    await until('VM active', async () => ((await vm(vmId)).state === 'active' ? true : undefined));
    const on = await call(alice, 'PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'approval' });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    const off = await call(alice, 'PUT', `/api/v1/vms/${vmId}/dr`, { enabled: false, failbackMode: 'approval' });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    documentedSchema('DrView').parse(off.body);
    assert.equal(off.body.protected, false);
    assert.ok(Array.isArray(off.body.events));
    assert.equal((await dr(vmId)).protected, false);
  });

  it('when a command does not fit the state, then 409 says why; another member gets 404; events reach the webhook signed', async () => {
    const vmId = await protectedVm('commands');
    const fb = await call(alice, 'POST', `/api/v1/vms/${vmId}/dr/failback`);
    assert.equal(fb.status, 409);
    assert.match(fb.body.error.message, /cannot fail back unless failed over/);
    const ap = await call(alice, 'POST', `/api/v1/vms/${vmId}/dr/approve`);
    assert.equal(ap.status, 409);
    const bad = await call(alice, 'POST', `/api/v1/vms/${vmId}/dr/failover`, { target: 'moon' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.fields[0].field, 'target');
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/vms/${vmId}/dr` },
        { method: 'GET', path: `/api/v1/vms/${vmId}/dr/drills` },
      ],
    });
    const bobsEvents = await call(bob, 'GET', '/api/v1/events');
    assert.equal(bobsEvents.body.events.length, 0);

    const mine = (await call(alice, 'GET', '/api/v1/events')).body.events as Json[];
    assert.ok(mine.length > 0);
    await until('webhook deliveries', async () => (received.length >= 3 ? true : undefined));
    for (const d of received) {
      assert.equal(d.signature, `sha256=${crypto.createHmac('sha256', webhookSecret).update(d.raw).digest('hex')}`);
      assert.equal(d.kind, d.body.kind);
    }
  });
});
