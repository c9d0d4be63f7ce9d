/**
 * Issue 12, item 9 (leftover): a VM's drill schedule goes with the VM (deleteVm's
 * disableProtection activity) and with its member (withdrawal). Left behind, a schedule keeps
 * starting drills of a VM that is gone, under a member who may be gone too.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { createActivities } from '../../activities';
import { DRILL_WORKFLOW, drillScheduleId } from '../../src/contracts/dr';
import { startTestApi, type TestApi } from '../harness/api';
import { quietActivityEnv } from '../harness/activity-clouds';
import { apiFetch } from '../harness/http';
import { testLogger } from '../harness/secrets';
import { uniqueTaskQueue } from '../harness/stack';
import { signupAndLogin } from '../harness/users';

async function scheduleExists(client: Client, vmId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(drillScheduleId(vmId)).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** A paused drill schedule for `vmId`, as DrService makes one (paused: it never fires in the test). */
async function drillSchedule(client: Client, vmId: string, ownerId: string): Promise<void> {
  await client.schedule.create({
    scheduleId: drillScheduleId(vmId),
    spec: { intervals: [{ every: '1 hour' }] },
    action: { type: 'startWorkflow', workflowType: DRILL_WORKFLOW, workflowId: drillScheduleId(vmId), taskQueue: uniqueTaskQueue('no-worker'), args: [{ vmId, ownerId, target: 'backup-cloud' }] },
    state: { paused: true },
  });
}

describe('drill schedules go with their VM and their member (issue 12 item 9)', function () {
  this.timeout(120_000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.close();
  });

  it('when deleteVm disables a VM\'s protection, then its drill schedule is deleted (and doing it again is harmless)', async () => {
    const client = api.deps.temporal.client;
    const vmId = `sched-vm-${crypto.randomUUID()}`;
    await drillSchedule(client, vmId, 'sched-owner');
    assert.equal(await scheduleExists(client, vmId), true);
    const acts = createActivities({ db: api.deps.db, logger: testLogger('drill-schedules'), temporalClient: client });
    await quietActivityEnv().run(acts.disableProtection, { vmId });
    assert.equal(await scheduleExists(client, vmId), false);
    await quietActivityEnv().run(acts.disableProtection, { vmId });
  });

  it('when a member withdraws, then the drill schedules of their (deleted) VMs are deleted and counted', async () => {
    const client = api.deps.temporal.client;
    const member = await signupAndLogin(api.url);
    const vmId = `sched-vm-${crypto.randomUUID()}`;
    await api.deps.db.collection('vms').insertOne({ _id: vmId as never, ownerId: member.userId, state: 'deleted' });
    await drillSchedule(client, vmId, member.userId);
    const res = await apiFetch(`${api.url}/api/v1/auth/me`, { method: 'DELETE', headers: { ...member.authHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ password: member.password }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { removed: Record<string, number> };
    assert.equal(body.removed.drillSchedules, 1);
    assert.equal(await scheduleExists(client, vmId), false);
  });
});
