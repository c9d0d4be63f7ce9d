/**
 * drVm in approval mode (time skipping, mocked clouds, the real VM owner): after a failover to
 * the backup cloud, a failback waits for the base cloud to be healthy for
 * failbackAfterHealthySeconds and then for the owner's approval — approved before the base
 * recovers (refused: nothing waits for it yet) and after.
 */
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approveFailbackUpdate, cloudHealthSignal } from './dr-signals';
import { FakeDrWorld, cloudSignal, startDr, withDrWorker, type StartedDr } from './dr-fake';
import { timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

const HEALTHY_FOR_S = 300;
const TICK_S = 30;
const SETTINGS = { failbackMode: 'approval' as const, failbackAfterHealthySeconds: HEALTHY_FOR_S };

describe('drVm (time skipping): approval-mode failback', function () {
  const env = timeSkippingSuite(this);

  /** Base cloud down → failed over to the backup cloud. */
  async function failedOver(w: FakeDrWorld, taskQueue: string): Promise<StartedDr> {
    w.baseHealthy = false;
    const dr = await startDr(env.client, taskQueue, w, SETTINGS, TICK_S);
    await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
    await skipUntil(env, 'failed over to the backup cloud', async () => (await dr.status()).state === 'FailedOver', { stepMs: 5_000, maxMs: 120_000 });
    const s = await dr.status();
    assert.equal(s.target, 'backup-cloud');
    assert.equal(w.plan.placement?.cloud, 'cloudstack');
    return dr;
  }

  it('when the owner approves before the base cloud recovers, then the approval is refused and the failback still waits for one after recovery', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue);
      await assert.rejects(dr.handle.executeUpdate(approveFailbackUpdate), (err: unknown) => err instanceof WorkflowUpdateFailedError);

      w.baseHealthy = true;
      const recoveredBy = (await env.currentTimeMs()) + TICK_S * 1000;
      await skipUntil(env, 'waiting for approval', async () => (await dr.status()).awaitingApproval, { stepMs: 10_000, maxMs: (HEALTHY_FOR_S + 3 * TICK_S) * 1000 });
      const asked = w.events.find((e) => e.kind === 'failback.waiting-approval')!;
      const recovered = w.events.find((e) => e.kind === 'cloud.recovered')!;
      assert.ok(Date.parse(recovered.at) <= recoveredBy, 'the workflow saw the base cloud recover within one check');
      assert.ok(Date.parse(asked.at) - Date.parse(recovered.at) >= HEALTHY_FOR_S * 1000, 'asked only after the base cloud was healthy long enough');

      // The early approval was not remembered: five minutes later nothing has moved.
      await env.sleep(300_000);
      assert.equal((await dr.status()).state, 'FailedOver');
      assert.deepEqual(w.callsOf('csStopVmAndWait'), []);
      assert.equal(w.events.filter((e) => e.kind === 'failback.waiting-approval').length, 1, 'asked once');

      const approvedAt = await env.currentTimeMs();
      await dr.handle.executeUpdate(approveFailbackUpdate);
      await skipUntil(env, 'failed back', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: 120_000 });
      const started = w.events.find((e) => e.kind === 'failback.started')!;
      assert.ok(Date.parse(started.at) >= approvedAt, 'the failback started after the approval');
      assert.ok(w.eventKinds().includes('failback.completed'));
      assert.equal(w.plan.placement?.cloud, 'openstack');
    });
  });

  it('when the owner approves after the base cloud has recovered, then the failback starts at once and the VM is home', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue);
      w.baseHealthy = true;
      await skipUntil(env, 'waiting for approval', async () => (await dr.status()).awaitingApproval, { stepMs: 10_000, maxMs: (HEALTHY_FOR_S + 3 * TICK_S) * 1000 });
      assert.deepEqual(w.callsOf('csStopVmAndWait'), [], 'no failback before the approval');

      const approvedAt = await env.currentTimeMs();
      const answer = await dr.handle.executeUpdate(approveFailbackUpdate);
      assert.equal(answer.awaitingApproval, true);
      await skipUntil(env, 'failed back', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: 120_000 });
      const [stop] = w.callsOf('csStopVmAndWait');
      assert.ok(stop.at - approvedAt < 5_000, `the failback began ${stop.at - approvedAt} ms after the approval`);
      const s = await dr.status();
      assert.equal(s.awaitingApproval, false);
      assert.equal(s.target, undefined);
      assert.deepEqual(
        w.eventKinds().filter((k) => k.startsWith('failback')),
        ['failback.waiting-approval', 'failback.started', 'failback.completed'],
      );
      assert.equal(w.plan.placement?.cloud, 'openstack');
    });
  });
});
