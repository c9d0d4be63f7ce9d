/**
 * Group protection end to end (issue 15, item 3) through the REST API on the real stack (Temporal,
 * worker, FerretDB, both simulators, the image store): a Web-App-DB environment created with a
 * group backup policy gets one schedule (`env-backup:<id>`) and none per member; a group backup
 * run by hand makes one backup per member through the ordinary backupVm workflow, a complete
 * group restore point, and a stopped standby of every member in each cloud; a member whose
 * backup fails (Nova refuses its snapshot) leaves an incomplete point naming it while the other
 * members' backups are kept; the schedule runs group backups of its own; bad policies are 400s
 * naming the field; the destroy removes the schedule and leaves nothing in the clouds.
 */
import { startApiAndWorker } from '../harness/api-worker';
import assert from 'node:assert/strict';
import { ScheduleNotFoundError } from '@temporalio/client';
import { backupScheduleId } from '../../src/contracts/backup';
import { environmentBackupScheduleId } from '../../src/contracts/environment-backup';
import { startTestImageStore, type TestImageStore } from '../harness/image-store';
import type { TestApi } from '../harness/api';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { apiCall, waitUntil } from '../harness/http';
import { sharedStack } from '../harness/stack';
import type { TestWorker } from '../harness/temporal';
import { assertOwnerScoped, signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('environments: group protection (one schedule, one group restore point per run)', function () {
  this.timeout(600_000);
  let clouds: TestClouds;
  let api: TestApi;
  let tw: TestWorker;
  let imageStore: TestImageStore;
  let alice: TestUser;
  let bob: TestUser;

  const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => apiCall(api.url, alice, method, p, body, headers ? { headers } : {});
  const settled = (id: string): Promise<Json> =>
    waitUntil(`environment ${id} settled`, async () => {
      const e = (await call('GET', `/api/v1/environments/${id}`)).body;
      return e.state === 'creating' || e.state === 'destroying' ? undefined : e;
    }, 300_000);
  const points = async (id: string): Promise<Json[]> => {
    const r = await call('GET', `/api/v1/environments/${id}/backups`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.backups;
  };
  const pointDone = (envId: string, pointId: string): Promise<Json> =>
    waitUntil(`group point ${pointId} finished`, async () => (await points(envId)).find((p) => p.id === pointId && p.status !== 'running'), 300_000);
  const osState = (): Promise<Json> => simAdmin(clouds.openstack.url, 'GET', '/state');
  const csState = (): Promise<Json> => simAdmin(clouds.cloudstack.url, 'GET', '/state');
  /** Live standbys of a VM in each cloud. */
  async function standbys(vmId: string): Promise<{ openstack: Json[]; cloudstack: Json[] }> {
    const [o, c] = await Promise.all([osState(), csState()]);
    return {
      openstack: (o.servers.items as Json[]).filter((s) => s.name === `vmflow-${vmId}-standby` && s.status !== 'DELETED'),
      cloudstack: (c.vms.items as Json[]).filter((v) => v.name === `vmflow-${vmId}-standby` && !['Destroyed', 'Expunging', 'Expunged'].includes(v.state)),
    };
  }

  before(async () => {
    clouds = await sharedClouds();
    await sharedStack();
    imageStore = await startTestImageStore('env-backup');
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
  });

  it('when a Web-App-DB environment with a group policy is backed up, then every member has a backup and standbys in both clouds, one failing member makes the point incomplete, and the destroy leaves nothing', async () => {
    const created = await call('POST', '/api/v1/environments', { name: 'grp', cloud: 'openstack', preset: 'web-app-db', backup: { intervalSeconds: 86_400, retention: 3, windowSeconds: 120 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const policy = await call('GET', `/api/v1/environments/${id}/backup-policy`);
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    assert.equal(policy.body.schedule.scheduleId, environmentBackupScheduleId(id));
    assert.equal(policy.body.intervalSeconds, 86_400);
    assert.equal(policy.body.windowSeconds, 120);
    assert.match(policy.body.note, /do not run their own per-VM schedules/);
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/environments/${id}/backup-policy` },
        { method: 'GET', path: `/api/v1/environments/${id}/backups` },
      ],
    });
    assert.equal((await apiCall(api.url, bob, 'POST', `/api/v1/environments/${id}/backups`)).status, 404, 'another member cannot back it up');

    const e = await settled(id);
    assert.equal(e.state, 'active', JSON.stringify(e));
    const member = (name: string) => e.members.find((m: Json) => m.name === name);
    // No member has a schedule or policy of its own, and none can be given one while the group's exists.
    for (const m of e.members) {
      await assert.rejects(tw.client.schedule.getHandle(backupScheduleId(m.vmId)).describe(), ScheduleNotFoundError);
      assert.equal((await call('GET', `/api/v1/vms/${m.vmId}/backup-policy`)).status, 404);
    }
    // My VMs shows each member's next backup from the group's schedule (members have no policy of their own).
    const listed = (await call('GET', '/api/v1/vms')).body.vms as Json[];
    for (const m of e.members) {
      const next = listed.find((v) => v.id === m.vmId)?.nextBackupAt;
      assert.ok(next && Date.parse(next) > Date.now() && Date.parse(next) <= Date.now() + 86_400_000 + 300_000, `${m.name}: next backup ${next}`);
    }
    const own = await call('PUT', `/api/v1/vms/${member('db').vmId}/backup-policy`, { intervalSeconds: 3600 });
    assert.equal(own.status, 409, JSON.stringify(own.body));
    assert.equal(own.body.error.code, 'environment_backup_policy');

    // A group backup by hand (idempotent by its key): one backup per member, a complete point.
    const run = await call('POST', `/api/v1/environments/${id}/backups`, undefined, { 'Idempotency-Key': 'grp-first' });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    assert.equal(run.body.started, true);
    const again = await call('POST', `/api/v1/environments/${id}/backups`, undefined, { 'Idempotency-Key': 'grp-first' });
    assert.equal(again.status, 202);
    assert.equal(again.body.id, run.body.id);
    assert.equal(again.body.started, false);
    const first = await pointDone(id, run.body.id);
    assert.equal(first.status, 'complete', JSON.stringify(first));
    assert.equal(first.trigger, 'manual');
    assert.deepEqual(first.members.map((m: Json) => m.name).sort(), ['app', 'db', 'web']);
    for (const m of first.members) {
      assert.equal(m.status, 'succeeded', `${m.name}: ${JSON.stringify(m)}`);
      assert.equal(m.vmId, member(m.name).vmId);
      const own = (await call('GET', `/api/v1/vms/${m.vmId}/backups`)).body.backups as Json[];
      const b = own.find((x) => x.id === m.backupId);
      assert.equal(b?.status, 'succeeded', `${m.name}'s backup is one of its own: ${JSON.stringify(own)}`);
      assert.equal(b.workflowId, m.workflowId);
      const s = await standbys(m.vmId);
      assert.equal(s.openstack.length, 1, `${m.name}: one base standby`);
      assert.equal(s.cloudstack.length, 1, `${m.name}: one backup-cloud standby`);
    }

    // The database's snapshot is refused once: the point is incomplete naming db; app's and web's backups are kept.
    await simAdmin(clouds.openstack.url, 'POST', '/faults', { service: 'compute', method: 'POST', path: `/servers/${member('db').placement.serverId}/action$`, status: 400, count: 1 });
    const failing = await call('POST', `/api/v1/environments/${id}/backups`);
    assert.equal(failing.status, 202, JSON.stringify(failing.body));
    const second = await pointDone(id, failing.body.id);
    assert.equal(second.status, 'incomplete', JSON.stringify(second));
    assert.match(second.reason, /^db: failed/);
    assert.doesNotMatch(second.reason, /(^|; )(app|web):/, 'only db fell short');
    const byName = Object.fromEntries(second.members.map((m: Json) => [m.name, m]));
    assert.equal(byName.db.status, 'failed');
    for (const n of ['app', 'web']) {
      assert.equal(byName[n].status, 'succeeded', `${n}: ${JSON.stringify(byName[n])}`);
      const own = (await call('GET', `/api/v1/vms/${byName[n].vmId}/backups`)).body.backups as Json[];
      const kept = own.filter((b) => b.status === 'succeeded' && !b.retiredAt).map((b) => b.id);
      assert.ok(kept.includes(byName[n].backupId) && kept.includes(first.members.find((m: Json) => m.name === n).backupId), `${n} keeps both its backups: ${JSON.stringify(kept)}`);
    }
    // Newest first; the database still has the standbys of its first backup.
    assert.deepEqual((await points(id)).map((p) => p.id), [failing.body.id, run.body.id]);
    const dbStandbys = await standbys(member('db').vmId);
    assert.equal(dbStandbys.openstack.length + dbStandbys.cloudstack.length, 2);

    // The schedule runs group backups too: a 2-second period, then the policy removed.
    const fast = await call('PUT', `/api/v1/environments/${id}/backup-policy`, { intervalSeconds: 2, retention: 3 });
    assert.equal(fast.status, 200, JSON.stringify(fast.body));
    const scheduled = await waitUntil('a scheduled group point', async () => (await points(id)).find((p) => p.trigger === 'schedule' && p.status !== 'running'), 180_000);
    assert.equal(scheduled.status, 'complete', JSON.stringify(scheduled));
    assert.ok(scheduled.id.startsWith(`${environmentBackupScheduleId(id)}-`), scheduled.id);
    // Paused, and a run already going let finish (no running action, no point running), then removed.
    assert.equal((await call('PUT', `/api/v1/environments/${id}/backup-policy`, { intervalSeconds: 2, retention: 3, paused: true })).body.paused, true);
    await waitUntil('the schedule idle', async () => ((await tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe()).info.runningActions.length === 0 ? true : undefined), 120_000);
    await waitUntil('no group run running', async () => ((await points(id)).some((p) => p.status === 'running') ? undefined : true), 180_000);
    assert.equal((await call('DELETE', `/api/v1/environments/${id}/backup-policy`)).status, 204);
    await assert.rejects(tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe(), ScheduleNotFoundError);

    // Destroy: the schedule goes first, the members (with their standbys and backups) after.
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    await assert.rejects(tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe(), ScheduleNotFoundError);
    const gone = await settled(id);
    assert.equal(gone.state, 'destroyed', JSON.stringify(gone));
    assert.equal((await call('GET', `/api/v1/environments/${id}/backup-policy`)).status, 404);
    for (const m of e.members) {
      const s = await standbys(m.vmId);
      assert.equal(s.openstack.length + s.cloudstack.length, 0, `${m.name}: no standby left`);
    }
    const o = await osState();
    assert.equal((o.images.items as Json[]).filter((i) => e.members.some((m: Json) => i.name?.startsWith(`vmflow-${m.vmId}-backup-`)) && i.status !== 'deleted').length, 0, 'no backup image left');
    assert.equal((await call('POST', `/api/v1/environments/${id}/backups`)).status, 409, 'a destroyed environment is not backed up');
  });

  it('when an environment with a group policy is destroyed, then a final backup comes first: short of one member nothing is deleted; complete, the clouds are left empty and each member keeps its final copy in the image store, from which the environment is made again', async () => {
    const created = await call('POST', '/api/v1/environments', {
      name: 'keep',
      cloud: 'openstack',
      members: [
        { name: 'db', os: 'ubuntu-24.04', size: 'small' },
        { name: 'app', os: 'ubuntu-24.04', size: 'small', requires: ['db'] },
      ],
      backup: { intervalSeconds: 86_400, retention: 2, windowSeconds: 120 },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const e = await settled(id);
    assert.equal(e.state, 'active', JSON.stringify(e));
    const member = (name: string) => e.members.find((m: Json) => m.name === name);
    const bad = await call('DELETE', `/api/v1/environments/${id}?finalBackup=maybe`);
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual(bad.body.error.fields.map((f: Json) => f.field), ['finalBackup']);

    // Protected as a whole: the plan must outlive a destroy that stops.
    assert.equal((await call('POST', `/api/v1/environments/${id}/dr`, {})).status, 200);

    // The database's snapshot is refused once: the final point is incomplete and nothing is
    // deleted; the environment runs on as it was, with its group schedule and its recovery plan.
    await simAdmin(clouds.openstack.url, 'POST', '/faults', { service: 'compute', method: 'POST', path: `/servers/${member('db').placement.serverId}/action$`, status: 400, count: 1 });
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    const stopped = await waitUntil('the destroy stopped', async () => {
      const x = (await call('GET', `/api/v1/environments/${id}`)).body;
      return x.state !== 'destroying' && x.graph?.kind === 'destroy' ? x : undefined;
    }, 300_000);
    assert.equal(stopped.state, 'active', JSON.stringify(stopped));
    assert.match(stopped.lastError, /^destroy stopped: final-backup: .*the final backup fell short, so nothing was deleted.*db: failed/);
    for (const m of stopped.members) assert.equal(m.state, 'active', `${m.name} is still there`);
    assert.equal((await tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe()).scheduleId, environmentBackupScheduleId(id), 'its group schedule is back');
    assert.equal((await call('GET', `/api/v1/environments/${id}/dr`)).body.protected, true, 'still protected');
    const shortPoint = (await points(id))[0];
    assert.equal(shortPoint.trigger, 'final');
    assert.equal(shortPoint.status, 'incomplete', JSON.stringify(shortPoint));
    assert.equal((await call('GET', `/api/v1/environments/${id}/backup-policy`)).status, 200, 'the policy stays for the destroy tried again');
    const tasks = Object.fromEntries((stopped.graph.tasks as Json[]).map((t) => [t.name, t.state]));
    assert.equal(tasks['final-backup'], 'failed');
    assert.equal(tasks['stop-plan'], 'skipped');
    assert.equal(tasks['member:db'], 'skipped');
    assert.equal(tasks['member:app'], 'skipped');

    // Destroyed again: a complete final point first, then members, network and policy go.
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    const gone = await settled(id);
    assert.equal(gone.state, 'destroyed', JSON.stringify(gone));
    const final = (await points(id))[0];
    assert.equal(final.trigger, 'final');
    assert.equal(final.status, 'complete', JSON.stringify(final));
    assert.deepEqual(final.members.map((m: Json) => m.name).sort(), ['app', 'db']);
    assert.equal((await call('GET', `/api/v1/environments/${id}/backup-policy`)).status, 404);
    assert.equal((await call('GET', `/api/v1/environments/${id}/dr`)).body.protected, false, 'the plan ended with it');
    await assert.rejects(tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe(), ScheduleNotFoundError);
    const [o, c] = await Promise.all([osState(), csState()]);
    for (const m of final.members) {
      const named = (n: string | undefined) => !!n?.startsWith(`vmflow-${m.vmId}`);
      assert.deepEqual((o.servers.items as Json[]).filter((x) => named(x.name) && x.status !== 'DELETED').map((x) => x.name), [], `${m.name}: no server left`);
      assert.deepEqual((o.images.items as Json[]).filter((x) => named(x.name) && x.status !== 'deleted').map((x) => x.name), [], `${m.name}: no image left`);
      assert.deepEqual((c.vms.items as Json[]).filter((x) => named(x.name) && !['Destroyed', 'Expunging', 'Expunged'].includes(x.state)).map((x) => x.name), [], `${m.name}: no CloudStack instance left`);
      assert.deepEqual((c.templates.items as Json[]).filter((x) => named(x.name)).map((x) => x.name), [], `${m.name}: no template left`);
      // Its final backup is kept, in the image store only, with the bytes Glance had.
      const own = (await call('GET', `/api/v1/vms/${m.vmId}/backups`)).body.backups as Json[];
      const kept = own.find((b) => b.id === m.backupId);
      assert.equal(kept?.trigger, 'final', JSON.stringify(own));
      assert.equal(kept.status, 'succeeded');
      assert.ok(kept.preservedAt, 'marked preserved');
      assert.equal(kept.store.md5, kept.image.checksum);
      assert.ok(!kept.baseStandby && !kept.backupCloudStandby && !kept.template, 'a final backup makes no standby or template');
      for (const b of own.filter((x) => x.id !== m.backupId && x.store)) assert.ok(b.retiredAt, `${m.name}: an older backup ${b.id} is retired`);
      const inStore = await imageStore.client.list(`vms/${m.vmId}/`);
      assert.ok(inStore.length >= 1, `${m.name}: its copy is in the store`);
      for (const obj of inStore) assert.ok(obj.key.startsWith(`vms/${m.vmId}/${m.backupId}`), `${m.name}: only the final backup is kept, found ${obj.key}`);
      assert.equal(inStore.find((obj) => obj.key.endsWith('.qcow2'))?.size, kept.store.size);
    }

    // Brought back from the final point: a new environment whose members boot from the kept copies.
    const badRestore = await call('POST', '/api/v1/environments', { name: 'back', cloud: 'openstack', preset: 'web-app-db', restoreFrom: { environmentId: id, pointId: 'nope' } });
    assert.equal(badRestore.status, 400, JSON.stringify(badRestore.body));
    assert.deepEqual(badRestore.body.error.fields.map((f: Json) => f.field), ['preset']);
    const noPoint = await call('POST', '/api/v1/environments', { name: 'back', cloud: 'openstack', restoreFrom: { environmentId: id, pointId: 'nope' } });
    assert.equal(noPoint.status, 400, JSON.stringify(noPoint.body));
    assert.deepEqual(noPoint.body.error.fields.map((f: Json) => f.field), ['restoreFrom.pointId']);
    assert.equal((await apiCall(api.url, bob, 'POST', '/api/v1/environments', { name: 'back', cloud: 'openstack', restoreFrom: { environmentId: id, pointId: final.id } })).status, 400, 'another member cannot restore it');
    const restored = await call('POST', '/api/v1/environments', { name: 'back', cloud: 'openstack', restoreFrom: { environmentId: id, pointId: final.id } });
    assert.equal(restored.status, 202, JSON.stringify(restored.body));
    assert.deepEqual(restored.body.environment.restoredFrom, { environmentId: id, pointId: final.id });
    const rid = restored.body.environment.id as string;
    const back = await settled(rid);
    assert.equal(back.state, 'active', JSON.stringify(back));
    assert.deepEqual(Object.fromEntries(back.members.map((m: Json) => [m.name, m.requires])), { db: [], app: ['db'] });
    const o2 = await osState();
    for (const m of back.members) {
      const was = final.members.find((x: Json) => x.name === m.name);
      const kept = ((await call('GET', `/api/v1/vms/${was.vmId}/backups`)).body.backups as Json[]).find((b) => b.id === was.backupId);
      const server = (o2.servers.items as Json[]).find((x) => x.id === m.placement.serverId);
      const image = (o2.images.items as Json[]).find((x) => x.id === server?.imageId);
      assert.equal(image?.name, `vmflow-${m.vmId}-restored-${was.backupId}`, `${m.name} boots from its restored image`);
      assert.equal(image.checksum, kept.store.md5, `${m.name}: the bytes kept in the store`);
    }
    assert.equal((await call('DELETE', `/api/v1/environments/${rid}`)).status, 202);
    assert.equal((await settled(rid)).state, 'destroyed');
    const o3 = await osState();
    for (const m of back.members) {
      assert.deepEqual((o3.images.items as Json[]).filter((x) => x.name?.startsWith(`vmflow-${m.vmId}-`) && x.status !== 'deleted').map((x) => x.name), [], `${m.name}: its restored image went with it`);
    }
  });

  it('when a group policy is bad, then the answer is 400 naming the field, and nothing is created or changed', async () => {
    const before = (await call('GET', '/api/v1/vms')).body.vms.length;
    const cases: Array<[unknown, string]> = [
      [{ intervalSeconds: 'hourly' }, 'backup.intervalSeconds'],
      [{ intervalSeconds: 3600, cron: '0 3 * * *' }, 'backup.intervalSeconds'],
      [{ cron: 'a b c d e' }, 'backup.cron'],
      [{ intervalSeconds: 3600, retention: 0 }, 'backup.retention'],
      [{ intervalSeconds: 3600, windowSeconds: 1 }, 'backup.windowSeconds'],
      [{ intervalSeconds: 3600, backupAccountId: 'no-such-account' }, 'backup.backupAccountId'],
      ['daily', 'backup'],
    ];
    for (const [backup, field] of cases) {
      const r = await call('POST', '/api/v1/environments', { name: 'badgrp', cloud: 'openstack', preset: 'web-app-db', backup });
      assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.fields.some((f: Json) => f.field === field), `${field} named in ${JSON.stringify(r.body.error.fields)}`);
    }
    const cs = await call('POST', '/api/v1/environments', { name: 'badgrp', cloud: 'cloudstack', members: [{ name: 'a', os: 'ubuntu-24.04', size: 'small' }], backup: { intervalSeconds: 3600 } });
    assert.equal(cs.status, 400, JSON.stringify(cs.body));
    assert.deepEqual(cs.body.error.fields.map((f: Json) => f.field), ['backup']);
    assert.equal((await call('GET', '/api/v1/vms')).body.vms.length, before, 'no member was admitted');

    // PUT on an existing environment names the field without the prefix, and keeps no policy.
    const created = await call('POST', '/api/v1/environments', { name: 'plain', cloud: 'openstack', members: [{ name: 'a', os: 'ubuntu-24.04', size: 'small' }] });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    for (const [body, field] of [[{ intervalSeconds: 3600, windowSeconds: 99_999 }, 'windowSeconds'], [{ retention: 2 }, 'intervalSeconds']] as const) {
      const r = await call('PUT', `/api/v1/environments/${id}/backup-policy`, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.ok(r.body.error.fields.some((f: Json) => f.field === field), `${field} named in ${JSON.stringify(r.body.error.fields)}`);
    }
    assert.equal((await call('GET', `/api/v1/environments/${id}/backup-policy`)).status, 404);
    await assert.rejects(tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe(), ScheduleNotFoundError);
    assert.equal((await call('DELETE', `/api/v1/environments/${id}/backup-policy`)).status, 404);

    // A good one, then removed: its schedule goes with it.
    const set = await call('PUT', `/api/v1/environments/${id}/backup-policy`, { cron: '0 3 * * *', retention: 2 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.windowSeconds, 300);
    assert.equal(set.body.schedule.scheduleId, environmentBackupScheduleId(id));
    assert.equal((await call('DELETE', `/api/v1/environments/${id}/backup-policy`)).status, 204);
    await assert.rejects(tw.client.schedule.getHandle(environmentBackupScheduleId(id)).describe(), ScheduleNotFoundError);
    assert.equal((await settled(id)).state, 'active');
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    assert.equal((await settled(id)).state, 'destroyed');
  });
});
