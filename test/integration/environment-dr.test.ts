/**
 * Recovery plans of environments end to end (issue 15 item 4) on the real stack with the DR
 * suite's fast monitor: a Web-App-DB environment protected as a whole; a drill of the whole
 * environment boots every member's copy in the backup cloud in dependency order on a network of
 * its own and leaves nothing behind; OpenStack goes down → the members fail over to CloudStack in
 * dependency order (the CloudStack simulator's start times of their copies: db, then app, then
 * web); OpenStack comes back → they fail back in the same order (the OpenStack simulator's launch
 * times of their new home servers); bad requests → 400 naming the field; another member → 404.
 * Both environments are backed up as a group (one complete restore point) before they are
 * protected; an OverCloud of 3 nodes goes the same way (the DevOps post before its nodes) and its
 * destroy leaves nothing of its members in either cloud.
 */
import assert from 'node:assert/strict';
import type { TestApi } from '../harness/api';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { simAdmin, type TestClouds } from '../harness/clouds';
import { apiCall, waitUntil } from '../harness/http';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('environments: recovery plans — failover and failback in dependency order, drills of the whole environment', function () {
  this.timeout(900_000);
  let clouds: TestClouds;
  let api: TestApi;
  let sys: DrSystem;
  let alice: TestUser;
  let bob: TestUser;

  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, alice, method, p, body);
  /** The plan as last read: a wait that times out shows where it stood. */
  let lastPlan: Json;
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 240_000) => waitUntil(what, fn, timeoutMs, () => `last plan read: ${JSON.stringify(lastPlan)}`);
  const plan = async (id: string): Promise<Json> => {
    const r = await call('GET', `/api/v1/environments/${id}/dr`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    lastPlan = r.body;
    return r.body;
  };
  /** The environment once it is neither being created nor destroyed. */
  const settled = (id: string): Promise<Json> =>
    until(`environment ${id} settled`, async () => {
      const e = (await call('GET', `/api/v1/environments/${id}`)).body;
      return e.state === 'creating' || e.state === 'destroying' ? undefined : e;
    });
  const vm = async (vmId: string): Promise<Json> => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
  const csState = (): Promise<Json> => simAdmin(clouds.cloudstack.url, 'GET', '/state');
  const GONE = ['Destroyed', 'Expunging', 'Expunged'];
  /** A group policy: the schedule's own runs are a day apart, the test runs one by hand. */
  const GROUP_POLICY = { intervalSeconds: 86_400, retention: 2, windowSeconds: 120 };

  /** One group backup by hand: a complete point with a succeeded backup of each member. */
  async function groupBackup(envId: string, names: string[]): Promise<void> {
    const run = await call('POST', `/api/v1/environments/${envId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const point = await until('group restore point', async () => {
      const points = (await call('GET', `/api/v1/environments/${envId}/backups`)).body.backups as Json[];
      const p = points.find((x) => x.id === run.body.id);
      return p && p.status !== 'running' ? p : undefined;
    });
    assert.equal(point.status, 'complete', JSON.stringify(point));
    assert.deepEqual(point.members.map((m: Json) => m.name).sort(), [...names].sort());
    assert.ok(point.members.every((m: Json) => m.status === 'succeeded'), JSON.stringify(point.members));
  }

  /** What of the environment's members is left in either cloud: servers, standbys and stacks by VM id. */
  async function leftInClouds(vmIds: string[]): Promise<string[]> {
    const [o, c] = await Promise.all([simAdmin(clouds.openstack.url, 'GET', '/state'), csState()]);
    const ours = (name: string) => vmIds.some((v) => name.includes(v));
    return [
      ...(o.servers.items as Json[]).filter((x) => x.status !== 'DELETED' && ours(String(x.name))).map((x) => `openstack server ${x.name}`),
      ...(o.stacks.items as Json[]).filter((x) => x.status !== 'DELETE_COMPLETE' && ours(String(x.name))).map((x) => `heat stack ${x.name}`),
      ...(c.vms.items as Json[]).filter((x) => !GONE.includes(x.state) && ours(String(x.name))).map((x) => `cloudstack vm ${x.name}`),
    ];
  }

  before(async () => {
    sys = await startDrSystem();
    ({ api, clouds } = sys);
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage').catch(() => undefined);
    await sys?.stop();
  });

  it('when a protected Web-App-DB environment is drilled, loses OpenStack and gets it back, then its members go and come back in dependency order and the drill leaves nothing behind', async () => {
    const created = await call('POST', '/api/v1/environments', { name: 'edr', cloud: 'openstack', preset: 'web-app-db', backup: GROUP_POLICY });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const env = await settled(id);
    assert.equal(env.state, 'active', JSON.stringify(env));
    const member = Object.fromEntries(env.members.map((m: Json) => [m.name, m.vmId])) as Record<'db' | 'app' | 'web', string>;

    // Backed up as a group: one restore point, complete, a standby of every member in each cloud.
    await groupBackup(id, Object.keys(member));

    // Bad requests name the field; another member's environment is not found.
    const bad = await call('POST', `/api/v1/environments/${id}/dr`, { healthChecks: { nope: { protocol: 'tcp', port: 22 } } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.ok(bad.body.error.fields.some((f: Json) => f.field === 'healthChecks.nope'), JSON.stringify(bad.body));
    const bad2 = await call('POST', `/api/v1/environments/${id}/dr`, { waitSeconds: -1 });
    assert.equal(bad2.status, 400);
    assert.ok(bad2.body.error.fields.some((f: Json) => f.field === 'waitSeconds'), JSON.stringify(bad2.body));
    assert.equal((await apiCall(api.url, bob, 'POST', `/api/v1/environments/${id}/dr`, {})).status, 404);
    assert.equal((await apiCall(api.url, bob, 'GET', `/api/v1/environments/${id}/dr`)).status, 404);
    assert.equal((await apiCall(api.url, bob, 'POST', `/api/v1/environments/${id}/drills`, {})).status, 404);
    assert.equal((await plan(id)).protected, false);

    const protectedNow = await call('POST', `/api/v1/environments/${id}/dr`, { waitSeconds: 1, failbackAfterHealthySeconds: 2 });
    assert.equal(protectedNow.status, 200, JSON.stringify(protectedNow.body));
    assert.deepEqual(protectedNow.body.plan.waves, [['db'], ['app'], ['web']]);
    assert.equal(protectedNow.body.protected, true);
    await until('plan and members Protected', async () => {
      const p = await plan(id);
      return p.state === 'Protected' && p.members.every((m: Json) => m.drState === 'Protected') ? p : undefined;
    });
    for (const vmId of Object.values(member)) assert.equal((await call('GET', `/api/v1/vms/${vmId}/dr`)).body.settings.failbackMode, 'approval', 'members fail back only when the plan approves');

    // A drill of the whole environment: copies up wave by wave on the drill's own network, then nothing left.
    const liveCs = (s: Json) => ({ vms: (s.vms.items as Json[]).filter((v) => !GONE.includes(v.state)).length, networks: s.networks.total });
    const csBefore = liveCs(await csState());
    const drill = await call('POST', `/api/v1/environments/${id}/drills`, {});
    assert.equal(drill.status, 202, JSON.stringify(drill.body));
    assert.equal(drill.body.workflowId, `env-drill:${id}`);
    const drillNetworks = new Set<string>();
    const report = await until('drill report', async () => {
      const cs = await csState();
      for (const n of cs.networks.items as Json[]) if (String(n.name).startsWith(`vmflow-env-${id}-drill-`)) drillNetworks.add(n.name);
      const d = (await plan(id)).lastDrill;
      return d?.finishedAt ? d : undefined;
    });
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.cleanedUp, true);
    assert.ok(report.network?.name.startsWith(`vmflow-env-${id}-drill-`), JSON.stringify(report.network));
    const d = Object.fromEntries(report.members.map((m: Json) => [m.name, m]));
    for (const n of ['db', 'app', 'web']) {
      assert.equal(d[n].result, 'succeeded', JSON.stringify(d[n]));
      assert.ok(d[n].rtoSeconds >= 0 && d[n].startedAt, JSON.stringify(d[n]));
    }
    assert.ok(d.app.startedAt >= d.db.finishedAt && d.web.startedAt >= d.app.finishedAt, `drill in order: ${JSON.stringify(report.members)}`);
    const csAfterDrill = await csState();
    assert.deepEqual(liveCs(csAfterDrill), csBefore, 'no drill copy and no drill network left');
    assert.equal((csAfterDrill.networks.items as Json[]).filter((n) => String(n.name).startsWith(`vmflow-env-${id}-drill-`)).length, 0);
    assert.equal((await plan(id)).state, 'Protected', 'the drill did not touch the plan');

    // OpenStack goes down: db, then app, then web, each only after the one it requires runs in CloudStack.
    const standbyOf = async (vmId: string): Promise<string> => ((await csState()).vms.items as Json[]).find((v) => v.name === `vmflow-${vmId}-standby`).id;
    const standby = { db: await standbyOf(member.db), app: await standbyOf(member.app), web: await standbyOf(member.web) };
    await simAdmin(clouds.openstack.url, 'POST', '/outage', { mode: '503' });
    const over = await until('the plan failed over', async () => {
      const p = await plan(id);
      return p.state === 'FailedOver' && p.lastFailover?.finishedAt ? p : undefined;
    }, 480_000);
    assert.equal(over.lastFailover.ok, true, JSON.stringify(over.lastFailover));
    for (const n of ['db', 'app', 'web'] as const) {
      const v = await vm(member[n]);
      assert.equal(v.placement.cloud, 'cloudstack', `${n} runs in CloudStack`);
      assert.equal(v.placement.serverId, standby[n], `${n} runs on its standby`);
    }
    const started = Object.fromEntries(((await csState()).vms.items as Json[]).filter((v) => Object.values(standby).includes(v.id)).map((v) => [v.id, v.startedAt as string]));
    assert.ok(started[standby.db] && started[standby.db] < started[standby.app] && started[standby.app] < started[standby.web], `CloudStack start times: db ${started[standby.db]}, app ${started[standby.app]}, web ${started[standby.web]}`);
    const f = Object.fromEntries(over.lastFailover.members.map((m: Json) => [m.name, m]));
    assert.ok(f.app.startedAt >= f.db.finishedAt && f.web.startedAt >= f.app.finishedAt, JSON.stringify(over.lastFailover.members));
    for (const n of ['db', 'app', 'web']) assert.ok(f[n].rtoSeconds > 0, `${n}: RTO recorded`);

    // OpenStack comes back: the plan approves the failbacks db first, each wave Protected before the next.
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage');
    const outageEnded = Date.now();
    const back = await until('the plan failed back', async () => {
      const p = await plan(id);
      return p.state === 'Protected' && p.lastFailback?.finishedAt ? p : undefined;
    }, 720_000);
    assert.equal(back.lastFailback.ok, true, JSON.stringify(back.lastFailback));
    const b = Object.fromEntries(back.lastFailback.members.map((m: Json) => [m.name, m]));
    assert.ok(b.app.startedAt >= b.db.finishedAt && b.web.startedAt >= b.app.finishedAt, JSON.stringify(back.lastFailback.members));
    const home = { db: await vm(member.db), app: await vm(member.app), web: await vm(member.web) };
    for (const n of ['db', 'app', 'web'] as const) assert.equal(home[n].placement.cloud, 'openstack', `${n} is home`);
    const launchedAt = Object.fromEntries(await Promise.all((['db', 'app', 'web'] as const).map(async (n) => [n, (await simAdmin(clouds.openstack.url, 'GET', `/servers/${home[n].placement.serverId}`)).launchedAt as number])));
    assert.ok(outageEnded < launchedAt.db && launchedAt.db < launchedAt.app && launchedAt.app < launchedAt.web, `OpenStack launch times after ${outageEnded}: ${JSON.stringify(launchedAt)}`);

    // Unprotected: the plan and the members' protection go; protected again, then destroyed: the plan ends with it.
    const off = await call('DELETE', `/api/v1/environments/${id}/dr`);
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.deepEqual(off.body, { envId: id, protected: false });
    assert.equal((await plan(id)).protected, false);
    // Each member's drVm removes its DR state as it stops.
    await until('members unprotected', async () => ((await plan(id)).members.every((m: Json) => m.drState === undefined) ? true : undefined), 60_000);
    assert.equal((await call('POST', `/api/v1/environments/${id}/dr`, {})).status, 200);
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    const destroyed = await settled(id);
    assert.equal(destroyed.state, 'destroyed', JSON.stringify(destroyed));
    assert.equal((await plan(id)).protected, false);
    await until('the plan workflow ended', async () => ((await sys.tw.client.workflow.getHandle(`env-dr:${id}`).describe()).status.name === 'COMPLETED' ? true : undefined), 60_000);
  });
  it('when a protected OverCloud of 3 nodes is backed up as a group, drilled, loses OpenStack and gets it back, then the DevOps post goes and comes back before its nodes, and its destroy leaves nothing in either cloud', async () => {
    const created = await call('POST', '/api/v1/environments', { name: 'eoc', cloud: 'openstack', preset: 'overcloud', number: 3, size: 'small', backup: GROUP_POLICY });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const env = await settled(id);
    assert.equal(env.state, 'active', JSON.stringify(env));
    const member = Object.fromEntries(env.members.map((m: Json) => [m.name, m.vmId])) as Record<string, string>;
    const nodes = ['node-1', 'node-2', 'node-3'];
    await groupBackup(id, ['devops', ...nodes]);

    const protectedNow = await call('POST', `/api/v1/environments/${id}/dr`, { failbackAfterHealthySeconds: 2 });
    assert.equal(protectedNow.status, 200, JSON.stringify(protectedNow.body));
    assert.deepEqual(protectedNow.body.plan.waves, [['devops'], nodes]);
    await until('plan and members Protected', async () => {
      const p = await plan(id);
      return p.state === 'Protected' && p.members.every((m: Json) => m.drState === 'Protected') ? p : undefined;
    });

    // The drill: the post's copy first, then the nodes'; nothing left after.
    const csVmsBefore = ((await csState()).vms.items as Json[]).filter((v) => !GONE.includes(v.state)).length;
    assert.equal((await call('POST', `/api/v1/environments/${id}/drills`, {})).status, 202);
    const report = await until('drill report', async () => {
      const d = (await plan(id)).lastDrill;
      return d?.finishedAt ? d : undefined;
    });
    assert.equal(report.ok, true, JSON.stringify(report));
    const d = Object.fromEntries(report.members.map((m: Json) => [m.name, m]));
    for (const n of nodes) assert.ok(d[n].result === 'succeeded' && d[n].startedAt >= d.devops.finishedAt, `drill in order: ${JSON.stringify(report.members)}`);
    assert.equal(((await csState()).vms.items as Json[]).filter((v) => !GONE.includes(v.state)).length, csVmsBefore, 'no drill copy left');

    // OpenStack down: the post runs in CloudStack before any node starts there.
    const standbyOf = async (vmId: string): Promise<string> => ((await csState()).vms.items as Json[]).find((v) => v.name === `vmflow-${vmId}-standby`).id;
    const standby = Object.fromEntries(await Promise.all(Object.entries(member).map(async ([n, vmId]) => [n, await standbyOf(vmId)]))) as Record<string, string>;
    await simAdmin(clouds.openstack.url, 'POST', '/outage', { mode: '503' });
    const over = await until('the plan failed over', async () => {
      const p = await plan(id);
      return p.state === 'FailedOver' && p.lastFailover?.finishedAt ? p : undefined;
    }, 480_000);
    assert.equal(over.lastFailover.ok, true, JSON.stringify(over.lastFailover));
    const startedAt = Object.fromEntries(((await csState()).vms.items as Json[]).filter((v) => Object.values(standby).includes(v.id)).map((v) => [v.id, v.startedAt as string]));
    for (const n of nodes) {
      assert.equal((await vm(member[n])).placement.cloud, 'cloudstack', `${n} runs in CloudStack`);
      assert.ok(startedAt[standby.devops] && startedAt[standby.devops] < startedAt[standby[n]], `CloudStack start times: devops ${startedAt[standby.devops]}, ${n} ${startedAt[standby[n]]}`);
    }

    // OpenStack back: the post comes home first.
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage');
    const back = await until('the plan failed back', async () => {
      const p = await plan(id);
      return p.state === 'Protected' && p.lastFailback?.finishedAt ? p : undefined;
    }, 720_000);
    assert.equal(back.lastFailback.ok, true, JSON.stringify(back.lastFailback));
    const b = Object.fromEntries(back.lastFailback.members.map((m: Json) => [m.name, m]));
    for (const n of nodes) assert.ok(b[n].startedAt >= b.devops.finishedAt, JSON.stringify(back.lastFailback.members));
    for (const vmId of Object.values(member)) assert.equal((await vm(vmId)).placement.cloud, 'openstack');

    // Destroyed: the plan ends, and nothing of its members is left in either cloud (servers, standbys, stacks).
    assert.ok((await leftInClouds(Object.values(member))).length >= 8, 'before: each member\'s server and standbys are found by its id');
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    const destroyed = await settled(id);
    assert.equal(destroyed.state, 'destroyed', JSON.stringify(destroyed));
    const left = await until('nothing left in either cloud', async () => {
      const l = await leftInClouds(Object.values(member));
      return l.length === 0 ? l : undefined;
    }, 120_000).catch(async () => leftInClouds(Object.values(member)));
    assert.deepEqual(left, []);
  });
  it('when a member was protected on its own before its environment, then unprotecting the environment gives that member its own protection back and unprotects the others', async () => {
    const created = await call('POST', '/api/v1/environments', {
      name: 'own',
      cloud: 'openstack',
      members: [
        { name: 'db', os: 'ubuntu-24.04', size: 'small' },
        { name: 'app', os: 'ubuntu-24.04', size: 'small', requires: ['db'] },
      ],
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const env = await settled(id);
    assert.equal(env.state, 'active', JSON.stringify(env));
    const member = Object.fromEntries(env.members.map((m: Json) => [m.name, m.vmId])) as Record<'db' | 'app', string>;
    const dr = async (vmId: string): Promise<Json> => (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;

    // The database is protected on its own first, failing back by itself after 30 s of health.
    const own = await call('PUT', `/api/v1/vms/${member.db}/dr`, { failbackMode: 'automatic', failbackAfterHealthySeconds: 30 });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((await call('POST', `/api/v1/environments/${id}/dr`, {})).status, 200);
    for (const vmId of Object.values(member)) assert.equal((await dr(vmId)).settings.failbackMode, 'approval', 'the plan approves every failback');

    const off = await call('DELETE', `/api/v1/environments/${id}/dr`);
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const db = await dr(member.db);
    assert.equal(db.protected, true, 'protected on its own before: still protected');
    assert.deepEqual([db.settings.failbackMode, db.settings.failbackAfterHealthySeconds], ['automatic', 30], 'with its own settings back');
    assert.equal((await dr(member.app)).protected, false, 'protected by the environment only: no longer protected');

    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    const gone = await settled(id);
    assert.equal(gone.state, 'destroyed', JSON.stringify(gone));
  });
});
