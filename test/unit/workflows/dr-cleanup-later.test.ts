/**
 * drVm after a failback (time skipping, mocked clouds): what the switch left behind — the CloudStack
 * copy the VM came home from, its template, the store object — is removed on later ticks, not
 * before the VM is Protected. While CloudStack does not answer, the VM is Protected at home all the
 * same and a broken home server is failed over at once; once CloudStack answers, the leftovers go
 * (soak seed 5: a failback deleting the old server through an outage stayed FailingBack for
 * minutes while its new home server broke, and nothing failed the VM over).
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { cloudHealthSignal, leftoverSignal } from './dr-signals';
import { FakeDrWorld, cloudSignal, startDr, withDrWorker } from './dr-fake';
import { timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

const TICK_S = 30;

describe('drVm (time skipping): a failback leaves its clean-up for later', function () {
  const env = timeSkippingSuite(this);

  it('when CloudStack stops answering as the failback switches home, then the VM is Protected at once and the copy, template and store object are removed once CloudStack answers', async () => {
    const w = new FakeDrWorld();
    let csDown = false;
    const down = () => (csDown ? ApplicationFailure.retryable('CloudStack: 503 (simulated outage)', 'Unavailable') : undefined);
    w.fail.csDestroyStandby = down;
    w.fail.csDeleteTemplate = down;
    // The store is fine; CloudStack goes down as the failback reads the home server it booted.
    const readServer = w.fail.osReadServer;
    w.fail.osReadServer = (c) => {
      csDown = true;
      return readServer?.(c);
    };
    await withDrWorker(env, w, async (taskQueue) => {
      w.baseHealthy = false;
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 60 }, TICK_S);
      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await skipUntil(env, 'failed over', async () => (await dr.status()).state === 'FailedOver', { stepMs: 5_000, maxMs: 120_000 });
      const csCopy = w.plan.placement!.serverId;
      w.baseHealthy = true;
      await skipUntil(env, 'the failback switched home', async () => w.plan.placement?.cloud === 'openstack', { stepMs: 10_000, maxMs: 600_000 });
      // Protected within a tick of the switch, although CloudStack lets nothing be removed (the
      // copy's removal alone would retry for minutes before).
      await skipUntil(env, 'Protected', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: TICK_S * 1000 });
      assert.ok(w.eventKinds().includes('failback.completed'));
      assert.ok(csDown);

      // CloudStack answers again: the next tries remove the copy and the template.
      csDown = false;
      const since = w.calls.length;
      await skipUntil(env, 'the CloudStack copy removed', () => w.calls.slice(since).some((c) => c.name === 'csDestroyStandby' && (c.input as { csVmId: string }).csVmId === csCopy), { stepMs: 10_000, maxMs: 300_000 });
      await skipUntil(env, 'the template removed', () => w.calls.slice(since).some((c) => c.name === 'csDeleteTemplate' && (c.input as { templateId: string }).templateId === 'tpl-failback'), { stepMs: 10_000, maxMs: 300_000 });
      await skipUntil(env, 'the store object removed', () => w.callsOf('storeDeleteImage').length > 0, { stepMs: 10_000, maxMs: 300_000 });
      const attemptsBefore = w.calls.length;
      await env.sleep(10 * TICK_S * 1000);
      assert.equal(w.calls.slice(attemptsBefore).filter((c) => c.name === 'csDestroyStandby' || c.name === 'csDeleteTemplate').length, 0, 'nothing left to remove: no further tries');
      assert.equal((await dr.status()).state, 'Protected');
    });
  });

  it('when a restore hands over the server it could not remove, then a Protected drVm wakes and removes it once the cloud answers, and only once', async () => {
    const w = new FakeDrWorld();
    const left = { kind: 'os-server' as const, accountId: 'os-acc', id: 'promoted-standby-1' };
    let osDown = true;
    let removed = 0;
    w.fail.osDeleteServer = (c) => {
      if (osDown) return ApplicationFailure.retryable('OpenStack: 503 (simulated outage)', 'Unavailable');
      if ((c.input as { serverId: string }).serverId === left.id) removed++;
      return undefined;
    };
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 60 }, TICK_S);
      await skipUntil(env, 'Protected', async () => (await dr.status()).state === 'Protected', { stepMs: 1_000, maxMs: 10_000 });
      // restoreVm's hand-over (workflows/backup.ts), twice: a retried signal is one leftover.
      await dr.handle.signal(leftoverSignal, left);
      await dr.handle.signal(leftoverSignal, left);
      const tries = () => w.callsOf('osDeleteServer').filter((c) => (c.input as { serverId: string }).serverId === left.id).length;
      await skipUntil(env, 'a first try while OpenStack is down', async () => tries() > 0, { stepMs: 1_000, maxMs: TICK_S * 1000 });
      osDown = false;
      await skipUntil(env, 'removed once OpenStack answers', async () => removed > 0, { stepMs: 5_000, maxMs: 5 * TICK_S * 1000 });
      const after = tries();
      await env.sleep(5 * TICK_S * 1000);
      assert.equal(tries(), after, 'removed: no further tries');
      assert.equal(removed, 1);
      assert.equal((await dr.status()).state, 'Protected');
    });
  });
});
