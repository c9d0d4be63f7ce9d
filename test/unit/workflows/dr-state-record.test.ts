/**
 * drVm writes its status for readers (recordDrState, a local activity; GET …/dr and the VM list
 * read it instead of querying): once at the start, again at every transition of a failover to the
 * backup cloud — with the state's `since` moving only when the state changes — equal to what the
 * drStatus query answers, never twice the same, and removed when protection stops.
 */
import assert from 'node:assert/strict';
import { defineSignal } from '@temporalio/workflow';
import { DR_SIGNALS, type DrStatus } from '../../../src/contracts/dr';
import { cloudHealthSignal } from './dr-signals';
import { FakeDrWorld, cloudSignal, startDr, withDrWorker } from './dr-fake';
import { timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

const stopProtectionSignal = defineSignal(DR_SIGNALS.stop);
const SETTINGS = { failbackMode: 'approval' as const, failbackAfterHealthySeconds: 300 };

describe('drVm (time skipping): the state written for readers', function () {
  const env = timeSkippingSuite(this);

  it('when the base cloud goes down and the VM fails over, then every state it passes through is written, as the query answers it, and stopping removes the record', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      w.baseHealthy = false;
      const dr = await startDr(env.client, taskQueue, w, SETTINGS, 30);
      await skipUntil(env, 'the first state written', async () => w.recorded.length > 0, { stepMs: 1_000, maxMs: 30_000 });
      assert.equal(w.recorded[0]?.status.state, 'Protected');

      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await skipUntil(env, 'failed over to the backup cloud', async () => (await dr.status()).state === 'FailedOver', { stepMs: 5_000, maxMs: 120_000 });
      await skipUntil(env, 'FailedOver written', async () => w.recorded.at(-1)?.status.state === 'FailedOver', { stepMs: 1_000, maxMs: 30_000 });

      const written = w.recorded as { status: DrStatus; since: string }[];
      const states = written.map((r) => r.status.state);
      // The state changes in order (a state may be written again as its step or events change;
      // Degraded and FailingOver can fall in one workflow step, then only the later is written).
      const changes: string[] = states.filter((s, i) => i === 0 || s !== states[i - 1]);
      const order: string[] = ['Protected', 'Degraded', 'FailingOver', 'FailedOver'];
      assert.deepEqual(changes, order.filter((s) => changes.includes(s)), `in order: ${changes.join(' → ')}`);
      assert.deepEqual([changes[0], ...changes.slice(-2)], ['Protected', 'FailingOver', 'FailedOver'], changes.join(' → '));
      // `since` moves only with the state, and never back.
      for (let i = 1; i < written.length; i++) {
        if (written[i].since !== written[i - 1].since) assert.notEqual(written[i].status.state, written[i - 1].status.state, `write ${i}: since moved with no state change`);
        assert.ok(written[i].since >= written[i - 1].since, `write ${i}: since went back`);
      }
      // Once the workflow is still, the last write is what the query answers.
      const same = (a: DrStatus, b: DrStatus) => JSON.stringify({ ...a, updatedAt: undefined }) === JSON.stringify({ ...b, updatedAt: undefined });
      await skipUntil(env, 'the last write equals the query', async () => same(w.recorded.at(-1)!.status, await dr.status()), { stepMs: 1_000, maxMs: 30_000 });
      assert.equal(w.recorded.at(-1)!.status.target, 'backup-cloud');
      // Never the same status twice in a row (updatedAt aside).
      const keys = written.map((r) => JSON.stringify({ ...r.status, updatedAt: undefined }));
      assert.ok(keys.every((k, i) => i === 0 || k !== keys[i - 1]), 'no write repeats the one before');

      await dr.handle.signal(stopProtectionSignal);
      await skipUntil(env, 'record removed', async () => w.recorded.at(-1) === null, { stepMs: 1_000, maxMs: 30_000 });
      await dr.handle.result();
    });
  });
});
