/**
 * The cloud monitor end to end: a real worker on the run's Temporal dev server and MongoDB, its own
 * OpenStack simulator (fast timings) with an account stored like a member's, three protected VMs
 * and one unprotected, all inserted straight into MongoDB for servers made through Nova.
 *
 * The monitor runs with an interval of an hour and the test drives each check with the
 * `monitorCheckNow` signal, so the number of checks is exact and no assertion depends on timing;
 * it continues as new every 4 checks, so the suite also runs across those hand-overs.
 * Delivery is observed on the receiving side without faking a workflow: the DR workflow IDs of
 * two VMs are started as `drVm` executions on a task queue no worker polls, so they never run, and
 * every signal the monitor sends them lands in their history, where the test decodes it. The
 * third VM has no DR workflow at all (a signal to it is not delivered, and the monitor says so).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { CloudAccountStore } from '../../src/cloud-accounts/store';
import { ComputeClient, OpenStackSession, TokenCache } from '../../src/clouds/openstack';
import { CLOUD_MONITOR_WORKFLOW, DR_SIGNALS, DR_WORKFLOW, cloudMonitorWorkflowId, drWorkflowId, type CloudHealthSignal, type VmHealthSignal } from '../../src/contracts/dr';
import { EncryptionCodec } from '../../src/temporal/codec';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/sim/openstack';
import { vmModel } from '../../src/vms/model';
import { DR_PROTECTIONS_COLLECTION } from '../../activities/dr-monitor';
import { markProtectedSetChanged } from '../../src/dr/protected-set';
import { MONITOR_CHECK_NOW_SIGNAL, MONITOR_SETTINGS_SIGNAL, MONITOR_STATUS_QUERY, type MonitorStatus, type SentSignalRecord } from '../../src/contracts/dr-monitor';
import { allowSimulators, simAdmin } from '../harness/clouds';
import { registerTestSecret, testKeyring, testLogger } from '../harness/secrets';
import { startTestWorker, type TestWorker } from '../harness/temporal';

const SETTINGS = { intervalSeconds: 3600, failureThreshold: 3, successThreshold: 2 };
/** Small, so the suite crosses several continue-as-new hand-overs and every test runs across them. */
const CHECKS_PER_RUN = 4;

/** Polls `probe` until it returns a value (bounded: 300 × 50 ms). */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('cloud monitor (DR) with Temporal, MongoDB and the OpenStack simulator', function () {
  this.timeout(120_000);

  let sim: OpenStackSimulator;
  let tw: TestWorker;
  let compute: ComputeClient;
  let accountId: string;
  let monitor: WorkflowHandleWithFirstExecutionRunId;
  const vm = { a: `vm-${crypto.randomUUID()}`, b: `vm-${crypto.randomUUID()}`, c: `vm-${crypto.randomUUID()}`, unprotected: `vm-${crypto.randomUUID()}` };
  const server: Record<keyof typeof vm, string> = { a: '', b: '', c: '', unprotected: '' };
  const receivers: WorkflowHandle[] = [];
  const codec = () => new EncryptionCodec(testKeyring());

  const status = () => monitor.query<MonitorStatus>(MONITOR_STATUS_QUERY);
  const sim_ = <T = any>(method: string, path: string, body?: unknown) => simAdmin<T>(sim.url, method, path, body);

  /** Asks for one check and waits until it is done and its signals are sent. */
  async function checkNow(): Promise<MonitorStatus> {
    const before = (await status()).checks;
    await monitor.signal(MONITOR_CHECK_NOW_SIGNAL);
    return eventually(`check ${before + 1}`, async () => {
      const s = await status();
      return s.checks > before && s.phase === 'waiting' ? s : undefined;
    });
  }

  async function checks(n: number): Promise<MonitorStatus> {
    let s!: MonitorStatus;
    for (let i = 0; i < n; i++) s = await checkNow();
    return s;
  }

  async function awaitStatus(id: string, want: string): Promise<void> {
    await eventually(`server ${id} ${want}`, async () => ((await compute.getServer(id)).status === want ? true : undefined));
  }

  /** The signals a receiver's history holds, decoded. */
  async function signalsReceived(vmId: string): Promise<Array<{ name: string; arg: any }>> {
    const history = await tw.client.workflow.getHandle(drWorkflowId(vmId)).fetchHistory();
    const out: Array<{ name: string; arg: any }> = [];
    for (const e of history.events ?? []) {
      const a = e.workflowExecutionSignaledEventAttributes;
      if (!a) continue;
      const [payload] = await codec().decode((a.input?.payloads ?? []) as never);
      out.push({ name: a.signalName ?? '', arg: payload ? defaultPayloadConverter.fromPayload(payload) : undefined });
    }
    return out;
  }

  before(async () => {
    sim = await startOpenStackSimulator({ timings: 'fast', logger: testLogger('dr-monitor-sim') });
    // The account below is a member's: its calls go through the outbound guard.
    allowSimulators({ openstack: sim });
    registerTestSecret(sim.credentials.password);
    tw = await startTestWorker();
    const c = sim.credentials;
    const view = await new CloudAccountStore(tw.db, testKeyring()).createForMember('dr-monitor-owner', {
      kind: 'openstack',
      name: 'dr-monitor-test',
      authUrl: sim.authUrl,
      region: c.region,
      projectName: c.projectName,
      projectDomainName: c.projectDomainName,
      username: c.username,
      userDomainName: c.userDomainName,
      password: c.password,
    });
    accountId = view.id;

    compute = new ComputeClient(new OpenStackSession({ ...c, authUrl: sim.authUrl }, { tokenCache: new TokenCache() }));
    const state = await sim_('GET', '/state');
    const image = state.images.items.find((i: { name: string }) => i.name === 'ubuntu-24.04');
    for (const key of Object.keys(vm) as Array<keyof typeof vm>) {
      server[key] = (await compute.createServer({ name: `dr-monitor-${key}`, flavorRef: '1', imageRef: image.id, networks: 'none' })).id;
    }
    for (const id of Object.values(server)) await awaitStatus(id, 'ACTIVE');

    const now = new Date();
    await vmModel(tw.db).insertMany(
      (Object.keys(vm) as Array<keyof typeof vm>).map((key) => ({
        _id: vm[key],
        ownerId: 'dr-monitor-owner',
        name: `dr-monitor-${key}`,
        cloud: 'openstack',
        accountId,
        requirements: {},
        state: 'active',
        placement: { cloud: 'openstack', accountId, serverId: server[key] },
        workflowIds: [],
        history: [],
        createdAt: now,
        updatedAt: now,
      })),
    );
    await tw.db.collection(DR_PROTECTIONS_COLLECTION).insertMany([
      { _id: vm.a, ownerId: 'dr-monitor-owner', enabled: true },
      { _id: vm.b, ownerId: 'dr-monitor-owner', enabled: true },
      { _id: vm.c, ownerId: 'dr-monitor-owner', enabled: true },
      { _id: vm.unprotected, ownerId: 'dr-monitor-owner', enabled: false },
    ] as never);

    // Receivers for a and b: started, never run (no worker polls their queue); c has none.
    const nobodyPolls = `dr-monitor-receivers-${crypto.randomBytes(4).toString('hex')}`;
    for (const id of [vm.a, vm.b]) {
      receivers.push(await tw.client.workflow.start(DR_WORKFLOW, { taskQueue: nobodyPolls, workflowId: drWorkflowId(id), args: [] }));
    }
    monitor = await tw.client.workflow.start(CLOUD_MONITOR_WORKFLOW, {
      taskQueue: tw.taskQueue,
      workflowId: `${cloudMonitorWorkflowId(accountId)}`,
      args: [{ accountId, settings: SETTINGS, maxChecksPerRun: CHECKS_PER_RUN }],
    });
    await eventually('the first check', async () => {
      const s = await status();
      return s.checks >= 1 && s.phase === 'waiting' ? s : undefined;
    });
  });

  after(async () => {
    await sim_('DELETE', '/outage').catch(() => undefined);
    for (const h of [monitor, ...receivers]) await h?.terminate('test over').catch(() => undefined);
    await tw?.stop();
    await sim?.stop();
  });

  it('when every protected server is ACTIVE, then a check makes one Keystone call and one Nova page, counts only protected VMs and signals nothing', async () => {
    const before = (await sim_('GET', '/state')).requests.total;
    const s = await checkNow();
    const after = (await sim_('GET', '/state')).requests.total;
    assert.equal(s.protectedCount, 3, 'the unprotected VM is not watched');
    assert.equal(s.lastProbe?.cloudOk, true);
    assert.equal(s.lastProbe?.serversListed, 4);
    assert.equal(s.lastProbe?.apiCalls, 2, 'token validation + one page of servers/detail');
    assert.equal(after - before, s.lastProbe?.apiCalls, 'the simulator counted what the probe reported');
    assert.equal(s.cloudHealthy, true);
    assert.equal(s.trackedVmCount, 0);
    assert.deepEqual(s.recentSignals, []);
  });

  it('when a server is stopped for fewer checks than the threshold, then it is tracked but nothing is signalled', async () => {
    await sim_('POST', `/servers/${server.a}/break`, { mode: 'shutoff' });
    const s = await checks(2);
    assert.deepEqual(
      { failures: s.trackedVms[vm.a]?.failures, status: s.trackedVms[vm.a]?.status, healthy: s.trackedVms[vm.a]?.healthy },
      { failures: 2, status: 'SHUTOFF', healthy: true },
    );
    await compute.startServer(server.a);
    await awaitStatus(server.a, 'ACTIVE');
    const back = await checkNow();
    assert.equal(back.trackedVmCount, 0, 'the blip is forgotten');
    assert.deepEqual(back.recentSignals, []);
    assert.deepEqual(await signalsReceived(vm.a), []);
  });

  it('when Nova fails fewer checks than the threshold, then the cloud stays healthy and nothing is signalled', async () => {
    await sim_('POST', '/faults', { service: 'compute', path: 'servers/detail', status: 503, count: 2 });
    const s = await checks(2);
    assert.equal(s.lastProbe?.cloudOk, false);
    assert.match(s.lastProbe?.cloudDetail ?? '', /^Nova: HTTP 503 on GET .*servers\/detail/);
    assert.equal(s.cloud.failures, 2);
    const back = await checkNow();
    assert.equal(back.lastProbe?.cloudOk, true);
    assert.deepEqual(back.cloud, { healthy: true, failures: 0, successes: 0 });
    assert.deepEqual(back.recentSignals, []);
    assert.equal((await sim_('GET', '/state')).faults.hits, 2, 'both faults were met');
  });

  it('when Nova hangs, then the check ends at the probe deadline as a failed cloud check, not a stuck activity', async () => {
    await sim_('POST', '/faults', { service: 'compute', path: 'servers/detail', hang: true, count: 1 });
    const s = await checkNow();
    assert.equal(s.lastProbe?.cloudOk, false);
    assert.match(s.lastProbe?.cloudDetail ?? '', /^Nova: no answer in time on GET .*servers\/detail/);
    assert.equal(s.lastError, undefined, 'the activity itself succeeded');
    const back = await checkNow();
    assert.deepEqual(back.cloud, { healthy: true, failures: 0, successes: 0 });
  });

  it('when a server is broken, then exactly one unhealthy vmHealth reaches its DR workflow after the threshold, carrying the first bad check', async () => {
    await sim_('POST', `/servers/${server.b}/break`, { mode: 'error' });
    await sim_('POST', `/servers/${server.unprotected}/break`, { mode: 'error' });
    const first = await checkNow();
    const firstBadAt = first.lastProbe?.checkedAt;
    assert.deepEqual(Object.keys(first.trackedVms), [vm.b], 'the unprotected VM is not tracked');
    const second = await checkNow();
    assert.deepEqual(second.recentSignals, []);
    const third = await checkNow();
    assert.deepEqual(third.recentSignals, [{ at: third.lastProbe?.checkedAt, kind: 'vmHealth', vmId: vm.b, healthy: false, status: 'ERROR', firstFailedAt: firstBadAt, delivered: true }]);
    await checks(2);
    const received = await signalsReceived(vm.b);
    // It names the server judged: drVm acts on a report it got while busy only if the VM still runs there.
    const expected: VmHealthSignal = { healthy: false, status: 'ERROR', firstFailedAt: firstBadAt, observedAt: third.lastProbe!.checkedAt, serverId: server.b };
    assert.deepEqual(received, [{ name: DR_SIGNALS.vmHealth, arg: expected }], 'one signal, however many checks follow');
    assert.equal((await status()).unhealthyVmCount, 1);
  });

  it('when a server disappears and its VM has no DR workflow, then the monitor records MISSING as not delivered and goes on', async () => {
    await sim_('POST', `/servers/${server.c}/break`, { mode: 'gone' });
    const s = await checks(3);
    const sent = s.recentSignals.filter((r) => r.vmId === vm.c);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].status, 'MISSING');
    assert.equal(sent[0].delivered, false);
    assert.ok(sent[0].error, 'the reason is kept');
    assert.equal(s.unhealthyVmCount, 2);
  });

  it('when the whole cloud is out, then after the threshold every running DR workflow gets cloudHealth down once and VM counters are frozen', async () => {
    const before = await status();
    await sim_('POST', '/outage', { mode: 'refuse' });
    const one = await checkNow();
    const two = await checkNow();
    assert.equal(two.cloudHealthy, true, 'two failed checks are not an outage yet');
    assert.match(two.lastProbe?.cloudDetail ?? '', /^Keystone: unreachable/);
    const three = await checkNow();
    assert.equal(three.cloudHealthy, false);
    const down = three.recentSignals.filter((r) => r.kind === 'cloudHealth');
    assert.equal(down.length, 1);
    assert.deepEqual(
      { healthy: down[0].healthy, delivered: down[0].delivered, recipients: down[0].recipients, notRunning: down[0].notRunning },
      { healthy: false, delivered: true, recipients: 2, notRunning: 1 },
    );
    await checkNow();
    assert.deepEqual((await status()).trackedVms, before.trackedVms, 'no VM verdicts from a dead API');
    for (const id of [vm.a, vm.b]) {
      const cloud = (await signalsReceived(id)).filter((r) => r.name === DR_SIGNALS.cloudHealth);
      assert.equal(cloud.length, 1, `one cloudHealth for ${id}`);
      const arg = cloud[0].arg as CloudHealthSignal;
      assert.equal(arg.accountId, accountId);
      assert.equal(arg.healthy, false);
      assert.match(arg.detail, /^Keystone: unreachable/);
      assert.equal(arg.firstFailedAt, one.lastProbe?.checkedAt, 'the outage started at the first failed check');
      assert.equal(arg.observedAt, three.lastProbe?.checkedAt);
    }
  });

  it('when the cloud answers again, then cloudHealth up is sent after successThreshold checks (also to a VM being updated), and a repaired VM is reported healthy', async () => {
    // An update in progress: not health-checked, but its DR workflow must still hear that the cloud
    // is back, or it keeps retrying a failover whose cause has cleared (short soak seed 11).
    await vmModel(tw.db).updateOne({ _id: vm.a }, { $set: { state: 'updating' } });
    await sim_('DELETE', '/outage');
    const one = await checkNow();
    assert.equal(one.cloudHealthy, false, 'one good check is not enough');
    const two = await checkNow();
    assert.equal(two.cloudHealthy, true);
    const up = two.recentSignals.filter((r) => r.kind === 'cloudHealth' && r.healthy);
    assert.equal(up.length, 1);
    assert.equal(up[0].recipients, 2);
    for (const id of [vm.a, vm.b]) {
      const cloud = (await signalsReceived(id)).filter((r) => r.name === DR_SIGNALS.cloudHealth).map((r) => (r.arg as CloudHealthSignal).healthy);
      assert.deepEqual(cloud, [false, true]);
    }
    await vmModel(tw.db).updateOne({ _id: vm.a }, { $set: { state: 'active' } });

    await compute.rebootServer(server.b, { type: 'HARD' });
    await awaitStatus(server.b, 'ACTIVE');
    await checkNow();
    const healed = await checkNow();
    const vmSignals = (await signalsReceived(vm.b)).filter((r) => r.name === DR_SIGNALS.vmHealth).map((r) => r.arg as VmHealthSignal);
    assert.deepEqual(
      vmSignals.map((v) => [v.healthy, v.status]),
      [
        [false, 'ERROR'],
        [true, 'ACTIVE'],
      ],
    );
    assert.equal(healed.unhealthyVmCount, 1, 'only the vanished server is still unhealthy');
    const last: SentSignalRecord | undefined = healed.recentSignals.at(-1);
    assert.equal(last?.vmId, vm.b);
  });

  it('when the settings are changed by signal, then a check runs at once with them', async () => {
    await sim_('POST', `/servers/${server.a}/break`, { mode: 'shutoff' });
    const before = (await status()).checks;
    await monitor.signal(MONITOR_SETTINGS_SIGNAL, { failureThreshold: 1 });
    const s = await eventually('the check the settings asked for', async () => {
      const st = await status();
      return st.checks > before && st.phase === 'waiting' ? st : undefined;
    });
    assert.deepEqual(s.settings, { ...SETTINGS, failureThreshold: 1 });
    const sent = s.recentSignals.filter((r) => r.vmId === vm.a);
    assert.equal(sent.length, 1, 'one bad check is enough now');
    assert.deepEqual([sent[0].healthy, sent[0].status, sent[0].firstFailedAt], [false, 'SHUTOFF', s.lastProbe?.checkedAt]);
  });

  it('when runs reach their check limit, then each continues as new carrying counters, settings, recent signals and the last probe', async () => {
    const s = await checkNow();
    const desc = await monitor.describe();
    assert.notEqual(desc.runId, monitor.firstExecutionRunId, 'the monitor has continued as new');
    assert.ok(s.checks > CHECKS_PER_RUN * 3, `checks count across runs (${s.checks})`);
    assert.equal(s.settings.failureThreshold, 1, 'settings carried');
    assert.ok(s.recentSignals.some((r) => r.vmId === vm.b && !r.healthy), 'a signal sent runs ago is still listed');
    assert.equal(s.trackedVms[vm.c]?.status, 'MISSING', 'an unhealthy VM stays tracked');
    assert.equal(s.trackedVms[vm.c]?.healthy, false);
    assert.equal(s.unhealthyVmCount, 2);
    const history = await tw.client.workflow.getHandle(monitor.workflowId, monitor.firstExecutionRunId).fetchHistory();
    const last = history.events?.at(-1);
    assert.ok(last?.workflowExecutionContinuedAsNewEventAttributes, 'the first run ended by continue-as-new');
  });

  it('when a VM becomes protected, then the next check watches it: the kept protected set is read again once its version stamp changes', async () => {
    const steady = await checkNow();
    assert.equal(steady.lastProbe?.dbCached, true, 'a steady check reads the version stamp, not every VM');
    await tw.db.collection(DR_PROTECTIONS_COLLECTION).updateOne({ _id: vm.unprotected } as never, { $set: { enabled: true } });
    await markProtectedSetChanged(tw.db); // what DrService.protect does after its write
    const s = await checkNow();
    assert.equal(s.lastProbe?.dbCached, false);
    assert.equal(s.protectedCount, (steady.protectedCount ?? 0) + 1, 'the newly protected VM is watched');
  });

  it('when its cloud account is deleted, then the monitor ends at its next check', async () => {
    const before = (await status()).checks;
    assert.equal(await new CloudAccountStore(tw.db, testKeyring()).deleteOwn(accountId, 'dr-monitor-owner'), 'deleted');
    await monitor.signal(MONITOR_CHECK_NOW_SIGNAL);
    assert.deepEqual(await monitor.result(), { accountId, ended: 'account-gone', checks: before }, 'a check that found no account counts for nothing');
  });
});
