/**
 * drVm continuing as new (time skipping, mocked clouds): Temporal suggests it when a history grows
 * long (here a test suggests it: the test server never does, see harness/time-skipping). The new
 * run goes on where the old one was — state, target, settings, the home stack, a pending fence,
 * an open approval request, an accepted approval and the failback back-off all carried; and a
 * Protected drVm, which waits without a timer, still wakes to continue as new. Commands that
 * arrive while a pass of the loop is busy and cannot act yet are not lost by the continue-as-new
 * that ends that pass: a failback asked for is carried, and a stop ends the workflow.
 */
import assert from 'node:assert/strict';
import { defineSignal } from '@temporalio/workflow';
import { DR_SIGNALS, type DrSettings } from '../../../src/contracts/dr';
import { approveFailbackUpdate, cloudHealthSignal, failbackUpdate } from './dr-signals';
import { FakeDrWorld, cloudSignal, hardFailure, startDr, withDrWorker, type StartedDr } from './dr-fake';
import { SUGGEST_CONTINUE_AS_NEW_SIGNAL, timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

const stopProtectionSignal = defineSignal(DR_SIGNALS.stop);

const TICK_S = 30;
const HEALTHY_FOR_S = 120;
const suggestContinueAsNew = defineSignal(SUGGEST_CONTINUE_AS_NEW_SIGNAL);
const settingsSignal = defineSignal<[Partial<DrSettings>]>(DR_SIGNALS.settings);

describe('drVm (time skipping): continue-as-new carries what the next run needs', function () {
  const env = timeSkippingSuite(this);

  async function failedOver(w: FakeDrWorld, taskQueue: string, settings: DrSettings): Promise<StartedDr> {
    w.baseHealthy = false;
    const dr = await startDr(env.client, taskQueue, w, settings, TICK_S);
    await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
    await skipUntil(env, 'failed over to the backup cloud', async () => (await dr.status()).target === 'backup-cloud', { stepMs: 5_000, maxMs: 120_000 });
    return dr;
  }

  /** Suggests continue-as-new and waits for the next run; returns its run id. */
  async function continuedAsNew(dr: StartedDr): Promise<string> {
    const before = (await dr.handle.describe()).runId;
    await dr.handle.signal(suggestContinueAsNew);
    let runId = before;
    await skipUntil(env, 'continued as new', async () => (runId = (await dr.handle.describe()).runId) !== before, { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
    return runId;
  }

  it('when failed over to the backup cloud with a fence pending and changed settings, then the next run keeps them and later fails back into the same home stack', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue, { failbackMode: 'approval', failbackAfterHealthySeconds: 3600 });
      await dr.handle.signal(settingsSignal, { failbackAfterHealthySeconds: 120 });
      const old = await dr.status();
      assert.equal(old.fencePending?.serverId, 'srv-1', 'the old server could not be stopped (base cloud down)');

      await continuedAsNew(dr);
      const s = await dr.status();
      assert.equal(s.state, 'FailedOver');
      assert.equal(s.target, 'backup-cloud');
      assert.equal(s.settings.failbackAfterHealthySeconds, 120);
      assert.deepEqual(s.fencePending, old.fencePending);
      assert.deepEqual(s.recentEvents, old.recentEvents);

      // The next run finishes what the last one started: fence, ask after 120 s, fail back home.
      w.baseHealthy = true;
      await skipUntil(env, 'waiting for approval', async () => (await dr.status()).awaitingApproval, { stepMs: 10_000, maxMs: 300_000 });
      assert.ok(w.eventKinds().includes('fence.completed'));
      const recovered = Date.parse(w.events.find((e) => e.kind === 'cloud.recovered')!.at);
      const asked = Date.parse(w.events.find((e) => e.kind === 'failback.waiting-approval')!.at);
      assert.ok(asked - recovered >= 120_000 && asked - recovered < 120_000 + 2 * TICK_S * 1000, `asked ${(asked - recovered) / 1000} s after recovery`);
      await dr.handle.executeUpdate(approveFailbackUpdate);
      await skipUntil(env, 'failed back', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: 120_000 });
      const [update] = w.callsOf('osUpdateStack');
      assert.deepEqual({ stackId: (update.input as { stackId: string }).stackId, stackName: (update.input as { stackName: string }).stackName }, { stackId: 'stack-1', stackName: `vmflow-${w.vmId}` });
    });
  });

  it('when a failback waits for approval, then the next run still waits for it and the approval brings the VM home', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue, { failbackMode: 'approval', failbackAfterHealthySeconds: 120 });
      w.baseHealthy = true;
      await skipUntil(env, 'waiting for approval', async () => (await dr.status()).awaitingApproval, { stepMs: 10_000, maxMs: 300_000 });

      await continuedAsNew(dr);
      const s = await dr.status();
      assert.equal(s.awaitingApproval, true);
      assert.equal(s.state, 'FailedOver');
      assert.ok(s.baseHealthySince, 'when the base cloud became healthy is carried');
      await env.sleep(5 * TICK_S * 1000);
      assert.equal(w.events.filter((e) => e.kind === 'failback.waiting-approval').length, 1, 'the owner is not asked twice');
      assert.deepEqual(w.callsOf('csStopVmAndWait'), []);

      await dr.handle.executeUpdate(approveFailbackUpdate);
      await skipUntil(env, 'failed back', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: 120_000 });
      assert.equal(w.plan.placement?.cloud, 'openstack');
    });
  });

  it('when a failback has failed once, then the next run keeps its back-off: the second try comes on schedule and is not announced again', async () => {
    const w = new FakeDrWorld();
    w.fail.csStopVmAndWait = (call) => (w.callsOf('csStopVmAndWait').indexOf(call) === 0 ? hardFailure('the CloudStack VM did not stop', 'VmNotStopped') : undefined);
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue, { failbackMode: 'automatic', failbackAfterHealthySeconds: 60 });
      w.baseHealthy = true;
      await skipUntil(env, 'one failed failback', async () => (await dr.status()).failbackRetry?.failures === 1, { stepMs: 10_000, maxMs: 300_000 });
      const retry = (await dr.status()).failbackRetry;

      await continuedAsNew(dr);
      assert.deepEqual((await dr.status()).failbackRetry, retry);
      await skipUntil(env, 'failed back', async () => (await dr.status()).state === 'Protected', { stepMs: 10_000, maxMs: 300_000 });
      const [first, second] = w.callsOf('csStopVmAndWait');
      const gap = (second.at - first.at) / 1000;
      assert.ok(gap >= 60 && gap <= 60 + TICK_S + 1, `second try ${gap} s after the first`);
      assert.equal(w.events.filter((e) => e.kind === 'failback.started').length, 1);
    });
  });

  /** Failed over; the base came back, the owner was asked, then the base went down again and the owner approved meanwhile. */
  async function approvedWhileBaseDown(w: FakeDrWorld, taskQueue: string): Promise<StartedDr> {
    w.baseHealthy = false;
    const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'approval', failbackAfterHealthySeconds: HEALTHY_FOR_S }, TICK_S);
    await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
    await skipUntil(env, 'failed over', async () => (await dr.status()).target === 'backup-cloud', { stepMs: 5_000, maxMs: 120_000 });
    w.baseHealthy = true;
    await skipUntil(env, 'waiting for approval', async () => (await dr.status()).awaitingApproval, { stepMs: 10_000, maxMs: 300_000 });
    w.baseHealthy = false;
    await skipUntil(env, 'base seen down again', async () => !(await dr.status()).baseCloudHealthy, { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
    await dr.handle.executeUpdate(approveFailbackUpdate); // accepted: a failback is waiting for approval
    return dr;
  }

  it('when the owner approved while the base cloud was down again, then the failback runs once it is back for long enough', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await approvedWhileBaseDown(w, taskQueue);
      w.baseHealthy = true;
      await skipUntil(env, 'failed back without a second approval', async () => (await dr.status()).state === 'Protected', { stepMs: 30_000, maxMs: 900_000 });
    });
  });

  it('when drVm continues as new after the owner approved, then the approval is kept and the failback runs once the base is back', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await approvedWhileBaseDown(w, taskQueue);
      await continuedAsNew(dr);
      w.baseHealthy = true;
      await skipUntil(env, 'failed back without a second approval', async () => (await dr.status()).state === 'Protected', { stepMs: 30_000, maxMs: 600_000 });
      assert.equal(w.eventKinds().filter((k) => k === 'failback.waiting-approval').length, 1, 'the owner was asked once');
    });
  });

  it('when Temporal suggests continue-as-new while the VM is Protected and idle, then drVm continues as new, still Protected', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 300 }, TICK_S);
      await continuedAsNew(dr);
      assert.equal((await dr.status()).state, 'Protected');
    });
  });

  /**
   * Failed over, the base cloud back, and a pass of the loop busy checking it (the check held
   * open); `meanwhile` runs then, Temporal suggests continue-as-new, and the check answers that
   * the base is down again: the failback cannot run in that pass, which ends in continue-as-new.
   */
  async function busyPassThenContinueAsNew(w: FakeDrWorld, taskQueue: string, meanwhile: (dr: StartedDr) => Promise<void>): Promise<StartedDr> {
    // A failback only on a command: approval mode, and the base would need a day of health.
    const dr = await failedOver(w, taskQueue, { failbackMode: 'approval', failbackAfterHealthySeconds: 24 * 3600 });
    w.baseHealthy = true;
    await skipUntil(env, 'base cloud seen healthy', async () => (await dr.status()).baseCloudHealthy, { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
    const release = w.hold('baseCloudHealth');
    await skipUntil(env, 'a check of the base cloud under way', () => !!w.held.get('baseCloudHealth')?.entered, { stepMs: 1_000, maxMs: (TICK_S + 5) * 1000 });
    await meanwhile(dr);
    w.baseHealthy = false;
    await dr.handle.signal(suggestContinueAsNew);
    release();
    return dr;
  }

  it('when the owner asks for a failback and the base goes down before it can run, then the next run keeps the command and fails back once the base answers', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      let runBefore = '';
      const dr = await busyPassThenContinueAsNew(w, taskQueue, async (d) => {
        runBefore = (await d.handle.describe()).runId;
        await d.handle.executeUpdate(failbackUpdate); // accepted: the base was healthy
      });
      await skipUntil(env, 'continued as new', async () => (await dr.handle.describe()).runId !== runBefore, { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
      assert.deepEqual(w.callsOf('csStopVmAndWait'), [], 'no failback while the base was down');

      w.baseHealthy = true;
      await skipUntil(env, 'failed back on the command', async () => (await dr.status()).state === 'Protected', { stepMs: 10_000, maxMs: 5 * TICK_S * 1000 });
      assert.equal(w.plan.placement?.cloud, 'openstack');
      assert.ok(!w.eventKinds().includes('failback.waiting-approval'), 'the command needed no approval');
    });
  });

  it('when protection is stopped while a pass is busy and Temporal suggests continue-as-new, then drVm ends instead of continuing as new', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      let runBefore = '';
      const dr = await busyPassThenContinueAsNew(w, taskQueue, async (d) => {
        runBefore = (await d.handle.describe()).runId;
        await d.handle.signal(stopProtectionSignal);
      });
      await skipUntil(env, 'drVm ended', async () => (await dr.handle.describe()).status.name !== 'RUNNING', { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
      const d = await dr.handle.describe();
      assert.equal(d.status.name, 'COMPLETED');
      assert.equal(d.runId, runBefore, 'no new run');
    });
  });
});
