/**
 * The monitor's health verdicts (workflows/lib/health.ts) driven check by check, with a fake clock
 * that names each check (t1, t2, …) so firstFailedAt can be traced to the check that set it.
 */
import assert from 'node:assert/strict';
import type { CloudMonitorState, MonitorSettings } from '../../src/contracts/dr';
import { applyObservation, initialMonitorState, normalizeMonitorSettings, type HealthVerdict, type Observation } from '../../workflows/lib/health';

const SETTINGS: MonitorSettings = { intervalSeconds: 30, failureThreshold: 3, successThreshold: 2 };
const at = (n: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();

/** A sequence of checks against one account; `run` feeds them one by one and keeps every verdict. */
class Monitor {
  state: CloudMonitorState = initialMonitorState();
  verdicts: HealthVerdict[] = [];
  private n = 0;

  constructor(private readonly settings: MonitorSettings = SETTINGS) {}

  /** One check: the cloud answered and these VMs were not ACTIVE. Tracked VMs stay protected. */
  check(unhealthy: Record<string, string> = {}, extra: Partial<Observation> = {}): HealthVerdict {
    const obs: Observation = {
      accountId: 'acc-1',
      cloudOk: true,
      cloudDetail: 'ok',
      unhealthy,
      checkedVmIds: [...Object.keys(this.state.vms), ...Object.keys(unhealthy)],
      ...extra,
    };
    const v = applyObservation(this.state, obs, this.settings, at(++this.n));
    this.state = v.state;
    this.verdicts.push(v);
    return v;
  }

  cloudDown(detail = 'Nova: 503 on GET /servers/detail'): HealthVerdict {
    return this.check({}, { cloudOk: false, cloudDetail: detail, checkedVmIds: [] });
  }

  get vmChanges() {
    return this.verdicts.flatMap((v) => v.vmChanges);
  }

  get cloudChanges() {
    return this.verdicts.flatMap((v) => (v.cloudChange ? [v.cloudChange] : []));
  }
}

describe('health verdicts (applyObservation)', () => {
  it('when a VM fails fewer checks than the threshold and recovers, then nothing is reported and no counter remains', () => {
    const m = new Monitor();
    m.check({ vm1: 'SHUTOFF' });
    m.check({ vm1: 'SHUTOFF' });
    assert.deepEqual(m.state.vms.vm1, { healthy: true, failures: 2, successes: 0, firstFailedAt: at(1), status: 'SHUTOFF' });
    m.check();
    m.check({ vm1: 'SHUTOFF' });
    m.check();
    assert.deepEqual(m.vmChanges, []);
    assert.deepEqual(m.state.vms, {});
    assert.equal(m.state.checks, 5);
  });

  it('when a VM fails exactly the threshold, then one unhealthy change carries the time of the first bad check', () => {
    const m = new Monitor();
    m.check();
    m.check({ vm1: 'ERROR' });
    m.check({ vm1: 'ERROR' });
    const third = m.check({ vm1: 'ERROR' });
    assert.deepEqual(third.vmChanges, [{ vmId: 'vm1', healthy: false, status: 'ERROR', firstFailedAt: at(2), observedAt: at(4) }]);
    m.check({ vm1: 'MISSING' });
    m.check({ vm1: 'ERROR' });
    assert.equal(m.vmChanges.length, 1, 'an unhealthy VM is reported once, whatever its status does next');
    assert.equal(m.state.vms.vm1.healthy, false);
    assert.equal(m.state.vms.vm1.firstFailedAt, at(2));
    assert.equal(m.state.vms.vm1.status, 'ERROR');
  });

  it('when an unhealthy VM is ACTIVE again, then it is reported healthy only after successThreshold good checks in a row', () => {
    const m = new Monitor();
    for (let i = 0; i < 3; i++) m.check({ vm1: 'ERROR' });
    m.check();
    assert.equal(m.vmChanges.length, 1, 'one good check is not enough');
    m.check({ vm1: 'ERROR' });
    m.check();
    assert.equal(m.vmChanges.length, 1, 'a bad check in between starts the count again');
    const back = m.check();
    assert.deepEqual(back.vmChanges, [{ vmId: 'vm1', healthy: true, status: 'ACTIVE', firstFailedAt: at(1), observedAt: at(7) }]);
    assert.deepEqual(m.state.vms, {}, 'a healthy VM again costs nothing');
  });

  it('when a VM flaps bad/good around the thresholds, then every reported change alternates and follows a full run', () => {
    const m = new Monitor({ intervalSeconds: 30, failureThreshold: 2, successThreshold: 2 });
    const pattern = ['bad', 'good', 'bad', 'good', 'bad', 'bad', 'good', 'bad', 'good', 'good', 'bad', 'bad', 'good', 'good'];
    for (const p of pattern) m.check(p === 'bad' ? { vm1: 'ERROR' } : {});
    assert.deepEqual(
      m.vmChanges.map((c) => [c.healthy, c.observedAt]),
      [
        [false, at(6)],
        [true, at(10)],
        [false, at(12)],
        [true, at(14)],
      ],
    );
    assert.equal(m.vmChanges[0].firstFailedAt, at(5));
    assert.equal(m.vmChanges[2].firstFailedAt, at(11));
  });

  it('when the cloud API fails, then VM counters are frozen and the cloud goes down after the threshold, once', () => {
    const m = new Monitor();
    m.check({ vm1: 'ERROR' });
    m.check({ vm1: 'ERROR' });
    const frozen = structuredClone(m.state.vms);
    m.cloudDown();
    m.cloudDown();
    assert.deepEqual(m.cloudChanges, [], 'two failed checks are a blip');
    const third = m.cloudDown('Keystone: connection refused');
    assert.deepEqual(third.cloudChange, { accountId: 'acc-1', healthy: false, detail: 'Keystone: connection refused', firstFailedAt: at(3), observedAt: at(5) });
    m.cloudDown();
    m.cloudDown();
    assert.equal(m.cloudChanges.length, 1);
    assert.deepEqual(m.state.vms, frozen, 'no VM verdicts from a dead API');
    assert.deepEqual(m.vmChanges, []);
    // The API answers again: the VM's run continues where it stopped.
    const next = m.check({ vm1: 'ERROR' });
    assert.deepEqual(next.vmChanges, [{ vmId: 'vm1', healthy: false, status: 'ERROR', firstFailedAt: at(1), observedAt: at(8) }]);
  });

  it('when a down cloud answers successThreshold times in a row, then it is reported up with the outage start', () => {
    const m = new Monitor();
    for (let i = 0; i < 3; i++) m.cloudDown();
    m.check();
    m.cloudDown();
    m.check();
    assert.equal(m.cloudChanges.length, 1, 'a failure in between restarts the success count');
    const up = m.check();
    assert.deepEqual(up.cloudChange, { accountId: 'acc-1', healthy: true, detail: 'ok', firstFailedAt: at(1), observedAt: at(7) });
    assert.deepEqual(m.state.cloud, { healthy: true, failures: 0, successes: 0 });
  });

  it('when the cloud blips shorter than the threshold, then no change and its counters reset', () => {
    const m = new Monitor();
    m.cloudDown();
    m.cloudDown();
    m.check();
    assert.deepEqual(m.cloudChanges, []);
    assert.deepEqual(m.state.cloud, { healthy: true, failures: 0, successes: 0 });
  });

  it('when the cloud answers 429 for many checks, then it is neither failed nor recovered by them: counters stand still', () => {
    const m = new Monitor();
    const throttled = () => m.check({}, { cloudOk: false, throttled: true, cloudDetail: 'Keystone: HTTP 429 on POST /identity/v3/auth/tokens', checkedVmIds: [] });
    for (let i = 0; i < 10; i++) throttled();
    assert.equal(m.cloudChanges.length, 0, 'a rate limit never fails the cloud over');
    assert.equal(m.state.checks, 10);
    // A real outage that starts meanwhile still counts: two 503s, a 429 between them, a third 503.
    m.cloudDown();
    m.cloudDown();
    throttled();
    assert.deepEqual(m.state.cloud, { healthy: true, failures: 2, successes: 0, firstFailedAt: at(11) });
    m.cloudDown();
    assert.equal(m.cloudChanges.length, 1);
    assert.equal(m.cloudChanges[0].healthy, false);
    assert.equal(m.cloudChanges[0].firstFailedAt, at(11));
    // Throttled while down: still down (no success counted).
    throttled();
    throttled();
    assert.equal(m.state.cloud.healthy, false);
    assert.equal(m.cloudChanges.length, 1);
  });

  it('when two of many VMs break, then only those two are reported and only they are kept in the state', () => {
    const m = new Monitor();
    const broken = { 'vm-00042': 'ERROR', 'vm-07777': 'MISSING' };
    for (let i = 0; i < 3; i++) {
      // Healthy VMs never appear in an observation: their number changes nothing.
      const v = m.check(broken);
      if (i < 2) assert.deepEqual(v.vmChanges, []);
    }
    assert.deepEqual(
      m.vmChanges.map((c) => [c.vmId, c.status]),
      [
        ['vm-00042', 'ERROR'],
        ['vm-07777', 'MISSING'],
      ],
    );
    assert.deepEqual(Object.keys(m.state.vms).sort(), ['vm-00042', 'vm-07777']);
  });

  it('when a VM that failed moves to another server which fails before the VM was seen healthy, then the new failure is signalled again (soak seed 5)', () => {
    const m = new Monitor();
    // Server A breaks: one "unhealthy" after three checks (the VM fails over to its base standby B).
    for (let i = 0; i < 3; i++) m.check({ vm1: 'SHUTOFF' }, { serverOf: { vm1: 'server-a' } });
    assert.equal(m.vmChanges.length, 1);
    // B runs for one check (fewer than the success threshold), then breaks too.
    m.check({}, { serverOf: { vm1: 'server-b' } });
    for (let i = 0; i < 3; i++) m.check({ vm1: 'ERROR' }, { serverOf: { vm1: 'server-b' } });
    assert.deepEqual(
      m.vmChanges.map((c) => [c.healthy, c.status, c.firstFailedAt]),
      [
        [false, 'SHUTOFF', at(1)],
        [false, 'ERROR', at(5)],
      ],
    );
    assert.equal(m.state.vms.vm1?.serverId, 'server-b');
  });

  it('when probes carry no server (recorded before they did), then counters continue across a move as they did', () => {
    const m = new Monitor();
    for (let i = 0; i < 3; i++) m.check({ vm1: 'SHUTOFF' });
    m.check();
    for (let i = 0; i < 3; i++) m.check({ vm1: 'ERROR' });
    assert.equal(m.vmChanges.length, 1);
  });

  it('when a tracked VM is no longer protected, then it is dropped without a signal', () => {
    const m = new Monitor();
    for (let i = 0; i < 3; i++) m.check({ vm1: 'ERROR', vm2: 'ERROR' });
    assert.equal(m.vmChanges.length, 2);
    const v = m.check({ vm2: 'ERROR' }, { checkedVmIds: ['vm2'] });
    assert.deepEqual(v.vmChanges, []);
    assert.deepEqual(Object.keys(m.state.vms), ['vm2']);
  });

  it('when the thresholds are lowered between checks, then the next check applies them to the running counters', () => {
    const m = new Monitor();
    m.check({ vm1: 'ERROR' });
    m.check({ vm1: 'ERROR' });
    const v = applyObservation(m.state, { accountId: 'acc-1', cloudOk: true, cloudDetail: 'ok', unhealthy: { vm1: 'ERROR' }, checkedVmIds: ['vm1'] }, { ...SETTINGS, failureThreshold: 1 }, at(9));
    assert.equal(v.vmChanges.length, 1);
    assert.equal(v.vmChanges[0].firstFailedAt, at(1));
  });

  it('when a threshold is 0, then it counts as 1, and the input state is never modified', () => {
    const state = initialMonitorState();
    const before = structuredClone(state);
    const v = applyObservation(state, { accountId: 'a', cloudOk: false, cloudDetail: 'down', unhealthy: {}, checkedVmIds: [] }, { intervalSeconds: 1, failureThreshold: 0, successThreshold: 0 }, at(1));
    assert.equal(v.cloudChange?.healthy, false);
    assert.deepEqual(state, before);
  });

  it('when settings are zero, fractional or missing, then they are made safe: interval ≥ 1 s, whole thresholds ≥ 1', () => {
    assert.deepEqual(normalizeMonitorSettings({ intervalSeconds: 0, failureThreshold: 2.7, successThreshold: -1 }), { intervalSeconds: 1, failureThreshold: 2, successThreshold: 1 });
    assert.deepEqual(normalizeMonitorSettings({} as MonitorSettings), { intervalSeconds: 30, failureThreshold: 3, successThreshold: 3 });
    assert.deepEqual(normalizeMonitorSettings({ intervalSeconds: 2.5, failureThreshold: 4, successThreshold: 2 }), { intervalSeconds: 2.5, failureThreshold: 4, successThreshold: 2 });
  });
  it('when a tracked VM is not judged by a check (its guest was not due), then its counters stand still; judged again, they move on', () => {
    const m = new Monitor();
    m.check({ vm1: 'GUEST_FAILED (tcp :80 connection refused)' });
    m.check({}, { unjudged: ['vm1'] });
    m.check({}, { unjudged: ['vm1'] });
    assert.equal(m.state.vms.vm1.failures, 1, 'unjudged checks neither count as failures nor clear the run');
    m.check({ vm1: 'GUEST_FAILED (tcp :80 connection refused)' });
    m.check({ vm1: 'GUEST_FAILED (tcp :80 connection refused)' });
    assert.deepEqual(m.vmChanges, [{ vmId: 'vm1', healthy: false, status: 'GUEST_FAILED (tcp :80 connection refused)', firstFailedAt: at(1), observedAt: at(5) }]);
    // An unjudged VM that is listed unhealthy (its server broke) is judged all the same.
    const n = new Monitor();
    for (let i = 0; i < 3; i++) n.check({ vm2: 'ERROR' }, { unjudged: ['vm2'] });
    assert.equal(n.vmChanges.length, 1);
  });

  it('when a VM declares its own thresholds with its guest check, then they replace the monitor’s for that VM only', () => {
    const m = new Monitor();
    const own = { vmThresholds: { vm1: { failureThreshold: 1, successThreshold: 1 } } };
    m.check({ vm1: 'GUEST_FAILED (http :80 / answered 503)', vm2: 'SHUTOFF' }, own);
    assert.deepEqual(
      m.vmChanges.map((c) => [c.vmId, c.healthy]),
      [['vm1', false]],
      'vm1 fails at its own threshold of 1; vm2 waits for the monitor’s 3',
    );
    m.check({ vm2: 'SHUTOFF' }, own);
    assert.deepEqual(
      m.vmChanges.map((c) => [c.vmId, c.healthy]),
      [
        ['vm1', false],
        ['vm1', true],
      ],
      'one good check is enough for vm1 to recover',
    );
    m.check({ vm2: 'SHUTOFF' }, own);
    assert.equal(m.vmChanges.at(-1)?.vmId, 'vm2');
  });
});
