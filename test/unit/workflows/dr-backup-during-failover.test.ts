/**
 * A backup and a failover of the same VM (time skipping, mocked clouds, the real VM owner and the
 * real backupVm): the owner lets one act at a time. A backup asked for during a failover waits
 * behind it; a backup already running when a disaster strikes is cancelled and the failover goes
 * at once, without waiting for the backup's activity to end.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { BACKUP_WORKFLOW, type BackupInput, type BackupResult } from '../../../src/contracts/backup';
import { OWNER_STATUS_QUERY, vmOwnerWorkflowId, type VmOwnerStatus } from '../../../src/contracts/owner';
import { cloudHealthSignal } from './dr-signals';
import { FakeDrWorld, cloudSignal, startDr, withDrWorker } from './dr-fake';
import { pollUntil, timeSkippingSuite, uniqueId } from '../../harness/time-skipping';

describe('drVm (time skipping): a backup requested during a failover', function () {
  const env = timeSkippingSuite(this);

  const startBackup = (w: FakeDrWorld, taskQueue: string) =>
    env.client.workflow.start(BACKUP_WORKFLOW, { taskQueue, workflowId: uniqueId(`vm-backup:${w.vmId}`), args: [{ vmId: w.vmId, ownerId: w.ownerId, trigger: 'schedule' } satisfies BackupInput] });
  const ownerStatus = (w: FakeDrWorld) => env.client.workflow.getHandle(vmOwnerWorkflowId(w.vmId)).query<VmOwnerStatus>(OWNER_STATUS_QUERY);

  it('when a backup is asked for while a failover holds the VM, then it waits in the owner queue and runs only after the switch', async () => {
    const w = new FakeDrWorld();
    w.baseHealthy = false;
    const releaseStandby = w.hold('csStartVmAndWait');
    await withDrWorker(env, w, async (taskQueue) => {
      const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 600 });
      await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
      await pollUntil('the failover is starting the standby', () => w.callsOf('csStartVmAndWait').length === 1);

      const backup = await startBackup(w, taskQueue);
      await pollUntil('the backup waits for the VM', async () => (await ownerStatus(w)).waiting.some((r) => r.operation === 'backup'));
      const owner = await ownerStatus(w);
      assert.equal(owner.holder?.operation, 'failover');
      assert.equal(owner.holder?.workflowId, dr.handle.workflowId);
      assert.deepEqual(w.callsOf('backupPlan'), [], 'the backup has not touched the VM');

      releaseStandby();
      const result = (await backup.result()) as BackupResult;
      // The VM now runs in the backup cloud: the backup's plan says there is nothing to back up.
      assert.equal(result.status, 'skipped');
      const order = w.calls.map((c) => c.name);
      assert.ok(order.indexOf('backupPlan') > order.indexOf('setVmState'), `the backup ran after the switch: ${order.join(', ')}`);
      assert.equal((await dr.status()).state, 'FailedOver');
    });
  });

  it('when a disaster strikes while a backup holds the VM, then the backup is cancelled and the failover does not wait for it', async () => {
    const w = new FakeDrWorld();
    const releasePlan = w.hold('backupPlan');
    try {
      await withDrWorker(env, w, async (taskQueue) => {
        const dr = await startDr(env.client, taskQueue, w, { failbackMode: 'automatic', failbackAfterHealthySeconds: 600 });
        const backup = await startBackup(w, taskQueue);
        await pollUntil('the backup holds the VM', () => w.callsOf('backupPlan').length === 1);
        assert.equal((await ownerStatus(w)).holder?.operation, 'backup');

        w.baseHealthy = false;
        await dr.handle.signal(cloudHealthSignal, cloudSignal(false, await env.currentTimeMs()));
        await pollUntil('failed over', async () => (await dr.status()).state === 'FailedOver');
        assert.ok(w.held.has('backupPlan'), "the backup's activity is still running: the failover did not wait for it");
        assert.equal((await dr.status()).target, 'backup-cloud');

        await assert.rejects(backup.result(), (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
        const events = w.eventKinds();
        assert.deepEqual(events.slice(0, 3), ['disaster.cloud', 'failover.started', 'failover.completed']);
        releasePlan(); // before the worker stops: it waits for its activities
        });
    } finally {
      releasePlan();
    }
  });
});
