/**
 * drVm's back-off of failing steps (time skipping, mocked clouds): a failover that fails is tried
 * again 15 s later, then 30, 60 … (at most 10 min apart) and gives up after 8 failures; a failback
 * that fails is tried again 60 s later, then 120 … and gives up after 6. One event per distinct
 * failure, one "gave up" at the end, and no try after that. Attempt times are skipped time, as
 * Temporal scheduled the activities; each may be late by at most one health-check tick (the loop
 * looks at the schedule once per tick).
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { cloudHealthSignal } from './dr-signals';
import { FakeDrWorld, cloudSignal, hardFailure, startDr, withDrWorker } from './dr-fake';
import { timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

/** Health-check ticks: the waits are multiples of them (each tick of a failed-over VM runs three activities: keep them few). */
const FAILOVER_TICK_S = 15;
const FAILBACK_TICK_S = 60;

/** Gaps between consecutive attempts, in seconds. */
const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => (t - times[i]) / 1000);

function assertGaps(actual: number[], expected: number[], tickS: number): void {
  assert.equal(actual.length, expected.length, `gaps ${JSON.stringify(actual)}`);
  actual.forEach((g, i) => assert.ok(g >= expected[i] && g <= expected[i] + tickS + 1, `gap ${i + 1}: ${g} s, expected ${expected[i]} s (+ at most one ${tickS} s tick); all: ${JSON.stringify(actual)}`));
}

describe('drVm (time skipping): back-off of failing steps', function () {
  const env = timeSkippingSuite(this);

  it('when every failover attempt fails, then it is retried after 15, 30, 60 … 600 s, gives up after 8, with one event per distinct failure', async () => {
    const w = new FakeDrWorld();
    w.baseHealthy = false;
    // Starting the CloudStack standby fails: three times one way, then another way.
    w.fail.csStartVmAndWait = () => hardFailure(w.callsOf('csStartVmAndWait').length <= 3 ? 'CloudStack job failed: no capacity' : 'CloudStack job failed: host in maintenance');
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 300 }, FAILOVER_TICK_S);
      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await skipUntil(env, 'failover gave up', async () => !!(await dr.status()).failoverRetry?.gaveUp, { stepMs: 60_000, maxMs: 3600_000 });
      // Nothing more is tried once it gave up (until a command or the cause clears).
      await env.sleep(300_000);

      const attempts = w.callsOf('csStartVmAndWait');
      assert.equal(attempts.length, 8);
      assertGaps(gaps(attempts.map((c) => c.at)), [15, 30, 60, 120, 240, 480, 600], FAILOVER_TICK_S);
      const s = await dr.status();
      assert.equal(s.state, 'Degraded');
      assert.equal(s.failoverRetry?.failures, 8);
      assert.equal(s.failoverRetry?.nextAttemptAt, undefined);
      assert.deepEqual(w.eventKinds(), ['disaster.cloud', 'failover.started', 'failover.failed', 'failover.failed', 'failover.gave-up']);
      const [first, second] = w.events.filter((e) => e.kind === 'failover.failed');
      assert.match(first.message, /next try in 15 s: .*no capacity/);
      assert.match(second.message, /next try in 120 s: .*host in maintenance/);
    });
  });

  it('when every failback attempt fails, then it is retried after 60, 120 … 960 s, gives up after 6, with one event per distinct failure', async () => {
    const w = new FakeDrWorld();
    w.baseHealthy = false;
    w.fail.csStopVmAndWait = () => hardFailure('the CloudStack VM did not stop', 'VmNotStopped');
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 60 }, FAILBACK_TICK_S);
      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await skipUntil(env, 'failed over', async () => (await dr.status()).state === 'FailedOver', { stepMs: 15_000, maxMs: 300_000 });
      w.baseHealthy = true;
      await skipUntil(env, 'failback gave up', async () => !!(await dr.status()).failbackRetry?.gaveUp, { stepMs: 60_000, maxMs: 3600_000 });
      await env.sleep(300_000);

      const attempts = w.callsOf('csStopVmAndWait');
      assert.equal(attempts.length, 6);
      assertGaps(gaps(attempts.map((c) => c.at)), [60, 120, 240, 480, 960], FAILBACK_TICK_S);
      // Each failed attempt started the stopped copy again: the VM kept running in the backup cloud.
      assert.equal(w.callsOf('csStartVmAndWait').length, 1 + 6);
      const s = await dr.status();
      assert.equal(s.state, 'FailedOver');
      assert.equal(s.target, 'backup-cloud');
      assert.equal(s.failbackRetry?.failures, 6);
      const failback = w.eventKinds().filter((k) => k.startsWith('failback'));
      assert.deepEqual(failback, ['failback.started', 'failback.failed', 'failback.gave-up']);
      assert.match(w.events.find((e) => e.kind === 'failback.failed')!.message, /next try in 60 s: stop-cloudstack-vm: .*did not stop/);
    });
  });
  it('when CloudStack answers 503 to the standby start for 70 s, then the start is retried at most 10 s apart and the VM runs within 10 s of CloudStack answering again (soak seed 2)', async () => {
    const w = new FakeDrWorld();
    w.baseHealthy = false;
    let answersAgainAt = Number.POSITIVE_INFINITY;
    // A retryable failure, as from a cloud that is down: the activity's own retries, not drVm's.
    w.fail.csStartVmAndWait = (call) => (call.at < answersAgainAt ? ApplicationFailure.retryable('CloudStack listVirtualMachines: 503', 'Unavailable') : undefined);
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'approval', failbackAfterHealthySeconds: 24 * 3600 }, FAILOVER_TICK_S);
      answersAgainAt = (await env.currentTimeMs()) + 70_000;
      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await skipUntil(env, 'failed over', async () => (await dr.status()).state === 'FailedOver', { stepMs: 2_000, maxMs: 600_000 });

      const attempts = w.callsOf('csStartVmAndWait').map((c) => c.at);
      assert.ok(attempts.length >= 8, `retried through the outage: ${attempts.length} attempts`);
      for (const g of gaps(attempts)) assert.ok(g <= 10.5, `attempts at most 10 s apart: ${JSON.stringify(gaps(attempts))}`);
      const started = attempts[attempts.length - 1];
      assert.ok(started >= answersAgainAt && started - answersAgainAt <= 10_500, `started ${(started - answersAgainAt) / 1000} s after CloudStack answered`);
      assert.deepEqual(w.eventKinds().slice(0, 3), ['disaster.cloud', 'failover.started', 'failover.completed']);
    });
  });
});
