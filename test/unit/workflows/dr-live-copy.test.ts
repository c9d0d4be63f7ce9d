/**
 * drVm while failed over to the backup cloud, when the copy running there vanishes (time
 * skipping, mocked clouds): one check finding it gone is not enough, two in a row are a disaster;
 * with the base cloud still down it is rebuilt in CloudStack from the newest template, with the
 * base cloud back it is restored into its own stack from the newest backup and protected again.
 */
import assert from 'node:assert/strict';
import { cloudHealthSignal } from './dr-signals';
import { CS_ACCOUNT, FakeDrWorld, cloudSignal, startDr, withDrWorker, type StartedDr } from './dr-fake';
import { timeSkippingSuite, skipUntil } from '../../harness/time-skipping';

const TICK_S = 30;

describe('drVm (time skipping): a vanished live copy in the backup cloud', function () {
  const env = timeSkippingSuite(this);

  async function failedOver(w: FakeDrWorld, taskQueue: string): Promise<StartedDr> {
    w.baseHealthy = false;
    // A failback is far off: this test is about the copy, not about coming home.
    const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'approval', failbackAfterHealthySeconds: 24 * 3600 }, TICK_S);
    await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
    await skipUntil(env, 'failed over to the backup cloud', async () => (await dr.status()).target === 'backup-cloud', { stepMs: 5_000, maxMs: 120_000 });
    assert.equal(w.plan.placement?.serverId, 'cs-standby-1');
    return dr;
  }

  /** Makes the live copy vanish and lets exactly one health check see it. */
  async function vanishForOneCheck(w: FakeDrWorld): Promise<number> {
    const checksBefore = w.callsOf('csLiveCopyState').length;
    w.copyStates['cs-standby-1'] = 'Gone';
    await skipUntil(env, 'one check of the gone copy', () => w.callsOf('csLiveCopyState').length === checksBefore + 1, { stepMs: 1_000, maxMs: (TICK_S + 5) * 1000 });
    return checksBefore;
  }

  it('when the copy is gone and the base cloud is still down, then after two checks it is rebuilt in CloudStack from the newest template', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue);
      await vanishForOneCheck(w);
      assert.ok(!w.eventKinds().includes('disaster.live-copy'), 'one check finding it gone is not a disaster yet');

      await skipUntil(env, 'the copy rebuilt', () => w.eventKinds().includes('live-copy.recovered'), { stepMs: 5_000, maxMs: 3 * TICK_S * 1000 });
      assert.equal(w.events.filter((e) => e.kind === 'disaster.live-copy').length, 1);
      assert.match(w.events.find((e) => e.kind === 'disaster.live-copy')!.message, /lost: it is Gone/);
      const [made] = w.callsOf('csEnsureStandby');
      assert.equal((made.input as { templateId: string; accountId: string }).templateId, 'tpl-b1');
      assert.equal((made.input as { accountId: string }).accountId, CS_ACCOUNT);
      assert.equal(w.plan.placement?.cloud, 'cloudstack');
      assert.notEqual(w.plan.placement?.serverId, 'cs-standby-1');
      assert.ok(w.callsOf('csDestroyStandby').some((c) => (c.input as { csVmId: string }).csVmId === 'cs-standby-1'), 'the lost copy is removed');
      const s = await dr.status();
      assert.equal(s.state, 'FailedOver');
      assert.equal(s.target, 'backup-cloud');

      // The new copy is watched too, and it is fine: no further disaster.
      await env.sleep(5 * TICK_S * 1000);
      assert.equal(w.events.filter((e) => e.kind === 'disaster.live-copy').length, 1);
    });
  });

  it('when the copy is gone and the base cloud is back, then it is restored into its own stack from the newest backup and protected again', async () => {
    const w = new FakeDrWorld();
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await failedOver(w, taskQueue);
      w.baseHealthy = true;
      await skipUntil(env, 'base cloud seen healthy', async () => (await dr.status()).baseCloudHealthy, { stepMs: 5_000, maxMs: 2 * TICK_S * 1000 });
      await vanishForOneCheck(w);
      assert.deepEqual(w.callsOf('osUpdateStack'), []);

      await skipUntil(env, 'protected again', async () => (await dr.status()).state === 'Protected', { stepMs: 5_000, maxMs: 3 * TICK_S * 1000 });
      const [update] = w.callsOf('osUpdateStack');
      assert.deepEqual((update.input as { parameters: unknown }).parameters, { image: 'img-b1' });
      assert.equal(w.plan.placement?.cloud, 'openstack');
      assert.equal(w.plan.placement?.stackId, 'stack-1');
      assert.deepEqual(w.callsOf('csEnsureStandby'), [], 'nothing rebuilt in CloudStack');
      assert.deepEqual(
        w.eventKinds().filter((k) => k.includes('live-copy')),
        ['disaster.live-copy', 'live-copy.recovered'],
      );
    });
  });
});
