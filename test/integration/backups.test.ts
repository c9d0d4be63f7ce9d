/**
 * Periodic backup end to end (UC-008): a VM created with a backup period of a few seconds gets a
 * Temporal Schedule; at least three scheduled runs make backups with checksums, a stopped standby
 * waits in each cloud, and retention keeps the newest N — checked through the API and the
 * simulators' counts. Faults: Glance 503s during export and a CloudStack template download that
 * fails end consistent (no duplicate, nothing leaked). Restore rebuilds the VM from a backup, and
 * deleting the VM removes the schedule, the standbys and every backup artifact.
 */
import { startApiAndWorker } from '../harness/api-worker';
import assert from 'node:assert/strict';
import { ScheduleNotFoundError } from '@temporalio/client';
import { ScheduleSpecRefusedError, upsertBackupSchedule } from '../../src/backups/schedule';
import { backupScheduleId } from '../../src/contracts/backup';
import { startTestImageStore, type TestImageStore } from '../harness/image-store';
import type { TestApi } from '../harness/api';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import type { TestWorker } from '../harness/temporal';
import { signupAndLogin, assertOwnerScoped, type TestUser } from '../harness/users';
import { apiCall, apiFetch, waitUntil } from '../harness/http';

type Json = any;

describe('periodic backup, standbys, retention and restore', function () {
  this.timeout(400_000);
  let clouds: TestClouds;
  let api: TestApi;
  let tw: TestWorker;
  let imageStore: TestImageStore;
  let alice: TestUser;
  let bob: TestUser;

  const call = (user: TestUser, method: string, p: string, body?: unknown) => apiCall(api.url, user, method, p, body);
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000) => waitUntil(what, fn, timeoutMs);

  async function createVm(name: string, backup?: unknown): Promise<string> {
    const r = await call(alice, 'POST', '/api/v1/vms', { name, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', ...(backup ? { backup } : {}) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = r.body.vm.id as string;
    await until('VM active', async () => ((await call(alice, 'GET', `/api/v1/vms/${id}`)).body.vm.state === 'active' ? true : undefined));
    return id;
  }

  const backupsOf = async (vmId: string): Promise<Json[]> => (await call(alice, 'GET', `/api/v1/vms/${vmId}/backups`)).body.backups;
  const osState = () => simAdmin(clouds.openstack.url, 'GET', '/state');
  const csState = () => simAdmin(clouds.cloudstack.url, 'GET', '/state');

  before(async () => {
    clouds = await sharedClouds();
    imageStore = await startTestImageStore('backup');
    ({ api, tw } = await startApiAndWorker({
      env: { ...clouds.env, VMFLOW_BACKUP_MIN_INTERVAL_SECONDS: '1' },
      cloudTimeoutMs: 3000,
      deps: { imageStore: imageStore.deps },
    }));
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await tw?.stop();
    await api?.close();
    await imageStore?.stop();
  });
  afterEach(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/faults');
    await simAdmin(clouds.cloudstack.url, 'DELETE', '/faults');
  });

  it('when a VM is created with a 2-second backup period, then three scheduled runs leave checksummed backups, one stopped standby per cloud and retention at 2', async () => {
    const vmId = await createVm('scheduled', { intervalSeconds: 2, retention: 2 });
    const policy = await call(alice, 'GET', `/api/v1/vms/${vmId}/backup-policy`);
    assert.equal(policy.status, 200);
    assert.equal(policy.body.schedule.scheduleId, backupScheduleId(vmId));
    assert.equal(policy.body.intervalSeconds, 2);

    const scheduled = await until('three scheduled successful backups', async () => {
      const list = (await backupsOf(vmId)).filter((b) => b.trigger === 'schedule' && b.status === 'succeeded');
      return list.length >= 3 ? list : undefined;
    }, 180_000);
    await call(alice, 'POST', `/api/v1/vms/${vmId}/backup-policy/pause`);
    // Let a run that was already going finish: the schedule has no running action (a run may not
    // have written its record yet) and no backup record is running.
    await until('the schedule idle', async () => ((await tw.client.schedule.getHandle(backupScheduleId(vmId)).describe()).info.runningActions.length === 0 ? true : undefined));
    await until('no running backup', async () => ((await backupsOf(vmId)).some((b) => b.status === 'running') ? undefined : true));

    for (const b of scheduled) {
      assert.match(b.image.checksum, /^[0-9a-f]{32}$/, 'Glance md5');
      assert.equal(b.store.md5, b.image.checksum, 'the store holds the same bytes Glance had');
      assert.match(b.store.sha256, /^[0-9a-f]{64}$/);
      assert.ok(b.template.id);
      assert.ok(b.tasks.every((t: Json) => t.state === 'succeeded'), JSON.stringify(b.tasks));
    }

    const all = await backupsOf(vmId);
    const live = all.filter((b) => b.image && !b.retiredAt);
    assert.ok(live.length <= 2, `retention keeps 2, found ${live.length} live`);
    assert.ok(all.some((b) => b.retiredAt), 'older backups were retired');

    // The clouds agree: images and templates only for live backups, one standby each, stopped.
    const os1 = await osState();
    const images = (os1.images.items as Json[]).filter((i) => i.name?.startsWith(`vmflow-${vmId}-backup-`) && i.status !== 'deleted');
    assert.deepEqual(images.map((i) => i.id).sort(), live.map((b) => b.image.id).sort());
    const standbys = (os1.servers.items as Json[]).filter((s) => s.name === `vmflow-${vmId}-standby`);
    assert.equal(standbys.length, 1, 'one base standby');
    assert.equal(standbys[0].status, 'SHUTOFF');
    const cs1 = await csState();
    const csStandbys = (cs1.vms.items as Json[]).filter((v) => v.name === `vmflow-${vmId}-standby` && !['Destroyed', 'Expunging'].includes(v.state));
    assert.equal(csStandbys.length, 1, 'one backup-cloud standby');
    assert.equal(csStandbys[0].state, 'Stopped');
    const templates = (cs1.templates.items as Json[]).filter((t) => t.name.startsWith(`vmflow-${vmId}-backup-`));
    assert.deepEqual(templates.map((t) => t.id).sort(), live.map((b) => b.template.id).sort());
    const keys = (await imageStore.client.list(`vms/${vmId}/`)).map((m: Json) => m.key).sort();
    assert.equal(keys.length, live.length);

    // Another member sees none of it.
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/vms/${vmId}/backups` },
        { method: 'GET', path: `/api/v1/vms/${vmId}/backup-policy` },
      ],
    });

    // Restore from the newest backup: the stack's server is replaced by one booted from its image.
    const before = (await call(alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm;
    const newest = live.sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
    const restore = await call(alice, 'POST', `/api/v1/vms/${vmId}/restore`, {});
    assert.equal(restore.status, 202, JSON.stringify(restore.body));
    const restored = await until('restored', async () => {
      const vm = (await call(alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm;
      return vm.history.some((h: Json) => h.reason.startsWith(`restored from backup ${newest.id}`)) && vm.state === 'active' ? vm : undefined;
    });
    assert.notEqual(restored.placement.serverId, before.placement.serverId, 'a new server');
    const os2 = await osState();
    const server = (os2.servers.items as Json[]).find((s) => s.id === restored.placement.serverId);
    assert.equal(server.imageId, newest.image.id, 'booted from the backup image');

    // Deleting the VM removes the schedule, both standbys and every backup artifact.
    const del = await call(alice, 'DELETE', `/api/v1/vms/${vmId}`);
    assert.equal(del.status, 202);
    await until('deleted', async () => ((await call(alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm.state === 'deleted' ? true : undefined));
    await assert.rejects(tw.client.schedule.getHandle(backupScheduleId(vmId)).describe(), ScheduleNotFoundError);
    const os3 = await osState();
    assert.equal((os3.servers.items as Json[]).filter((s) => s.name.startsWith(`vmflow-${vmId}`) || s.name === 'scheduled').length, 0, 'no server left');
    assert.equal((os3.images.items as Json[]).filter((i) => i.name?.startsWith(`vmflow-${vmId}-`)).length, 0, 'no image left');
    const cs3 = await csState();
    assert.equal((cs3.vms.items as Json[]).filter((v) => v.name.startsWith(`vmflow-${vmId}`) && !['Destroyed', 'Expunging'].includes(v.state)).length, 0, 'no CloudStack VM left');
    assert.equal((cs3.templates.items as Json[]).filter((t) => t.name.startsWith(`vmflow-${vmId}-`)).length, 0, 'no template left');
    assert.equal((await imageStore.client.list(`vms/${vmId}/`)).length, 0, 'no store copy left');
  });

  it('when the backup policy is bad, then 400 names the field and no schedule exists', async () => {
    const bad = await call(alice, 'POST', '/api/v1/vms', { name: 'badpolicy', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack', backup: { intervalSeconds: 2, cron: '0 * * * *' } });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.error.fields.some((f: Json) => f.field === 'backup.intervalSeconds'), JSON.stringify(bad.body));
    const bad2 = await call(alice, 'POST', '/api/v1/vms', { name: 'badpolicy2', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack', backup: { intervalSeconds: 5, retention: 0 } });
    assert.equal(bad2.status, 400);
    assert.ok(bad2.body.error.fields.some((f: Json) => f.field === 'backup.retention'), JSON.stringify(bad2.body));
    const cs = await call(alice, 'POST', '/api/v1/vms', { name: 'csbackup', os: 'ubuntu-24.04', size: 'small', cloud: 'cloudstack', backup: { intervalSeconds: 5 } });
    assert.equal(cs.status, 400);
    assert.ok(cs.body.error.fields.some((f: Json) => f.field === 'backup'));
  });

  it('when a cron has five fields that are not cron, then 400 names cron, nothing is saved and the schedule is unchanged', async () => {
    const vmId = await createVm('badcron');
    for (const cron of ['a b c d e', '61 * * * *', '0 3 * * MON-', '5-1 * * * *']) {
      const r = await call(alice, 'PUT', `/api/v1/vms/${vmId}/backup-policy`, { cron });
      assert.equal(r.status, 400, `${cron}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'validation_failed');
      assert.deepEqual(r.body.error.fields.map((f: Json) => f.field), ['cron'], JSON.stringify(r.body));
    }
    assert.equal((await call(alice, 'GET', `/api/v1/vms/${vmId}/backup-policy`)).status, 404, 'no policy saved');
    await assert.rejects(tw.client.schedule.getHandle(backupScheduleId(vmId)).describe(), ScheduleNotFoundError);

    const good = await call(alice, 'PUT', `/api/v1/vms/${vmId}/backup-policy`, { cron: '0 3 * * sun,7', paused: true });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    const patched = await call(alice, 'PATCH', `/api/v1/vms/${vmId}/backup-policy`, { cron: 'x y z w v' });
    assert.equal(patched.status, 400);
    assert.deepEqual(patched.body.error.fields.map((f: Json) => f.field), ['cron']);
    const kept = await call(alice, 'GET', `/api/v1/vms/${vmId}/backup-policy`);
    assert.equal(kept.body.cron, '0 3 * * sun,7', 'the old policy stays');
    assert.equal(kept.body.schedule.paused, true);

    // What slips past the API's check is still not a 500: Temporal's own refusal is a ScheduleSpecRefusedError.
    const schedule = tw.client.schedule.getHandle(backupScheduleId(vmId));
    const specBefore = (await schedule.describe()).spec;
    await assert.rejects(
      upsertBackupSchedule(tw.client, { vmId, ownerId: alice.userId, taskQueue: api.deps.config.temporalTaskQueue }, { cron: 'a b c d e', retention: 1, targets: { baseStandby: true, backupCloudStandby: true }, paused: true }),
      ScheduleSpecRefusedError,
    );
    assert.deepEqual((await schedule.describe()).spec, specBefore, 'the refused spec left the schedule as it was');
  });

  it('when a restore sends an Idempotency-Key that is not printable ASCII, then 400 names Idempotency-Key and no restore starts', async () => {
    const vmId = await createVm('restore-badkey');
    const res = await apiFetch(`${api.url}/api/v1/vms/${vmId}/restore`, {
      method: 'POST',
      headers: { ...alice.authHeaders, 'content-type': 'application/json', 'idempotency-key': 'two words' },
      body: '{}',
    });
    const body = (await res.json()) as Json;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.deepEqual(body.error.fields.map((f: Json) => f.field), ['Idempotency-Key']);
    assert.equal((await call(alice, 'GET', `/api/v1/vms/${vmId}`)).body.vm.state, 'active', 'nothing started');
  });

  it('when Glance answers 503 during the export, then the backup still succeeds with one store copy and one template', async () => {
    const vmId = await createVm('glance-503');
    await simAdmin(clouds.openstack.url, 'POST', '/faults', { service: 'image', method: 'GET', path: '/file$', status: 503, count: 3 });
    const run = await call(alice, 'POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const done = await until('backup finished', async () => (await backupsOf(vmId)).find((b) => b.status !== 'running'));
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal((await imageStore.client.list(`vms/${vmId}/`)).length, 1);
    const cs = await csState();
    assert.equal((cs.templates.items as Json[]).filter((t) => t.name.startsWith(`vmflow-${vmId}-`)).length, 1);
    const os1 = await osState();
    assert.equal((os1.images.items as Json[]).filter((i) => i.name?.startsWith(`vmflow-${vmId}-backup-`)).length, 1, 'one snapshot');
  });

  it('when the CloudStack template download fails, then the backup is partial, the base standby is usable, no failed template is left, and the next run succeeds', async () => {
    const vmId = await createVm('download-fails');
    await simAdmin(clouds.cloudstack.url, 'POST', '/faults', { command: 'registerTemplate', downloadFail: true, count: 1 });
    await call(alice, 'POST', `/api/v1/vms/${vmId}/backups`);
    const first = await until('first backup finished', async () => (await backupsOf(vmId)).find((b) => b.status !== 'running'));
    assert.equal(first.status, 'partial', JSON.stringify(first));
    assert.match(first.reason, /await-template/);
    assert.ok(first.baseStandby?.serverId, 'the base branch finished');
    const tasks = Object.fromEntries(first.tasks.map((t: Json) => [t.name, t.state]));
    assert.equal(tasks['base-standby'], 'succeeded');
    assert.equal(tasks['await-template'], 'failed');
    assert.equal(tasks['backup-cloud-standby'], 'skipped');
    const cs1 = await csState();
    assert.equal((cs1.templates.items as Json[]).filter((t) => t.name.startsWith(`vmflow-${vmId}-`)).length, 0, 'the failed template was removed');

    await call(alice, 'POST', `/api/v1/vms/${vmId}/backups`);
    const second = await until('second backup finished', async () => {
      const list = await backupsOf(vmId);
      return list.length >= 2 && list[0].status !== 'running' ? list[0] : undefined;
    });
    assert.equal(second.status, 'succeeded', JSON.stringify(second));
    const cs2 = await csState();
    assert.equal((cs2.vms.items as Json[]).filter((v) => v.name === `vmflow-${vmId}-standby` && !['Destroyed', 'Expunging'].includes(v.state)).length, 1);
    const os2 = await osState();
    assert.equal((os2.servers.items as Json[]).filter((s) => s.name === `vmflow-${vmId}-standby`).length, 1, 'still one base standby');
  });
});
