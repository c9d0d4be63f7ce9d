/**
 * Environments end to end through the REST API on the real stack (Temporal, worker, FerretDB,
 * both simulators): an OverCloud preset and a Web-App-DB environment created on their own
 * network and destroyed leaving nothing in the simulators; a member that fails mid-create rolled
 * back or kept as chosen; a CloudStack environment on its isolated network; bad requests → 400
 * naming the field; another member's environment → 404.
 */
import { startApiAndWorker } from '../harness/api-worker';
import assert from 'node:assert/strict';
import type { TestApi } from '../harness/api';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { apiCall, waitUntil } from '../harness/http';
import { sharedStack } from '../harness/stack';
import type { TestWorker } from '../harness/temporal';
import { assertOwnerScoped, signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('environments: several VMs on their own network, created and destroyed as one graph', function () {
  this.timeout(600_000);
  let clouds: TestClouds;
  let api: TestApi;
  let tw: TestWorker;
  let alice: TestUser;
  let bob: TestUser;

  const call = (method: string, p: string, body?: unknown, headers?: Record<string, string>) => apiCall(api.url, alice, method, p, body, headers ? { headers } : {});
  const env = async (id: string): Promise<Json> => {
    const r = await call('GET', `/api/v1/environments/${id}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  /** Waits until the environment leaves the transient states (creating, destroying). */
  /** Every member VM these tests' environments had: their stacks count in the footprint. */
  const memberVmIds = new Set<string>();
  const settled = (id: string): Promise<Json> =>
    waitUntil(`environment ${id} settled`, async () => {
      const e = await env(id);
      for (const m of (e.members ?? []) as Json[]) if (m.vmId) memberVmIds.add(m.vmId);
      return e.state === 'creating' || e.state === 'destroying' ? undefined : e;
    }, 240_000);
  const osState = (): Promise<Json> => simAdmin(clouds.openstack.url, 'GET', '/state');
  const csState = (): Promise<Json> => simAdmin(clouds.cloudstack.url, 'GET', '/state');
  const simServer = (id: string): Promise<Json> => simAdmin(clouds.openstack.url, 'GET', `/servers/${id}`);

  /** What an environment leaves in OpenStack: live servers of its name, networks, subnets, routers, live stacks. */
  async function osFootprint(envName: string): Promise<Json> {
    const s = await osState();
    return {
      servers: (s.servers.items as Json[]).filter((x) => x.name.startsWith(`${envName}-`) && x.status !== 'DELETED').length,
      networks: s.networks.total,
      subnets: s.subnets.total,
      routers: s.routers.total,
      // Environments' network stacks and their members' stacks only: other suites' VMs may still be
      // made or removed by workflows running on in the shared simulator meanwhile.
      stacks: (s.stacks.items as Json[]).filter((x) => x.status !== 'DELETE_COMPLETE' && (x.name.startsWith('vmflow-env-') || memberVmIds.has(String(x.name).replace(/^vmflow-/, '')))).length,
    };
  }

  before(async () => {
    clouds = await sharedClouds();
    await sharedStack();
    ({ api, tw } = await startApiAndWorker({ env: clouds.env }));
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await tw?.stop();
    await api?.close();
  });
  afterEach(async () => {
    await simAdmin(clouds.openstack.url, 'DELETE', '/build-failures');
  });

  it('when an OverCloud preset with 3 nodes is created and destroyed, then its network comes first, every member runs on it, and nothing is left after', async () => {
    const before = await osFootprint('oc1');
    const created = await call('POST', '/api/v1/environments', { name: 'oc1', cloud: 'openstack', preset: 'overcloud', number: 3, size: 'small' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    assert.equal(created.headers.get('location'), `/api/v1/environments/${id}`);
    assert.equal(created.body.operation.workflowId, `env-create:${id}`);
    assert.deepEqual(created.body.environment.members.map((m: Json) => m.name), ['devops', 'node-1', 'node-2', 'node-3']);
    await assertOwnerScoped(api.url, { owner: alice, other: bob, requests: [{ method: 'GET', path: `/api/v1/environments/${id}` }] });
    assert.equal((await apiCall(api.url, bob, 'DELETE', `/api/v1/environments/${id}`)).status, 404, 'another member cannot destroy it');
    assert.equal((await apiCall(api.url, bob, 'GET', '/api/v1/environments')).body.environments.length, 0, 'nor list it');

    const e = await settled(id);
    assert.equal(e.state, 'active', JSON.stringify(e));
    assert.ok(e.network?.networkId, 'the network is recorded');
    assert.equal(e.graph.kind, 'create');
    const task = (name: string) => e.graph.tasks.find((t: Json) => t.name === name);
    assert.ok(e.graph.tasks.every((t: Json) => t.state === 'succeeded'), JSON.stringify(e.graph.tasks));
    for (const m of e.members) {
      assert.equal(m.state, 'active', `${m.name}: ${JSON.stringify(m)}`);
      // Each member started only after the network was made, and a node only after the DevOps post.
      assert.ok(task(`member:${m.name}`).startedAt >= task('network').finishedAt, m.name);
      if (m.name !== 'devops') assert.ok(task(`member:${m.name}`).startedAt >= task('member:devops').finishedAt, m.name);
    }
    assert.ok(task('record').startedAt >= e.graph.tasks.filter((t: Json) => t.name.startsWith('member:')).map((t: Json) => t.finishedAt).sort().at(-1));

    // In the simulator: every member's server has its port on the environment's network.
    const s = await osState();
    const net = (s.networks.items as Json[]).find((n) => n.id === e.network.networkId);
    assert.equal(net?.name, e.network.name);
    assert.equal((s.routers.items as Json[]).filter((r) => r.name === `${e.network.name}-router`).length, 1);
    for (const m of e.members) {
      const ports = (s.ports.items as Json[]).filter((p) => p.deviceId === m.placement.serverId);
      assert.deepEqual(ports.map((p) => p.networkId), [e.network.networkId], `${m.name} is on the environment's network`);
    }
    // Members are ordinary VMs, listed with their environment.
    const vms = (await call('GET', '/api/v1/vms')).body.vms as Json[];
    for (const m of e.members) assert.equal(vms.find((v) => v.id === m.vmId)?.environmentId, id);

    const destroyed = await call('DELETE', `/api/v1/environments/${id}`);
    assert.equal(destroyed.status, 202, JSON.stringify(destroyed.body));
    assert.equal(destroyed.body.operation.workflowId, `env-destroy:${id}`);
    const gone = await settled(id);
    assert.equal(gone.state, 'destroyed', JSON.stringify(gone));
    assert.equal(gone.graph.kind, 'destroy');
    assert.ok(gone.members.every((m: Json) => m.state === 'deleted'));
    const dtask = (name: string) => gone.graph.tasks.find((t: Json) => t.name === name);
    // Reverse order: the DevOps post goes after every node, the network after every member.
    for (const n of ['node-1', 'node-2', 'node-3']) assert.ok(dtask('member:devops').startedAt >= dtask(`member:${n}`).finishedAt);
    assert.ok(dtask('network').startedAt >= dtask('member:devops').finishedAt);
    assert.deepEqual(await osFootprint('oc1'), before);
    assert.equal((await call('GET', '/api/v1/environments')).body.environments.some((x: Json) => x.id === id), false, 'destroyed environments are not listed');
    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 409);
  });

  it('when a Web-App-DB environment is created, then the database runs before the application server is made, and that before the web server', async () => {
    const before = await osFootprint('shop');
    const created = await call('POST', '/api/v1/environments', { name: 'shop', cloud: 'openstack', preset: 'web-app-db' }, { 'Idempotency-Key': 'shop-1' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const again = await call('POST', '/api/v1/environments', { name: 'shop', cloud: 'openstack', preset: 'web-app-db' }, { 'Idempotency-Key': 'shop-1' });
    assert.equal(again.status, 202);
    assert.equal(again.body.environment.id, id);
    assert.equal(again.body.operation.started, false);
    const reused = await call('POST', '/api/v1/environments', { name: 'shop2', cloud: 'openstack', preset: 'web-app-db' }, { 'Idempotency-Key': 'shop-1' });
    assert.equal(reused.status, 409);
    assert.equal(reused.body.error.code, 'idempotency_key_reused');

    const e = await settled(id);
    assert.equal(e.state, 'active', JSON.stringify(e));
    const member = (name: string) => e.members.find((m: Json) => m.name === name);
    assert.deepEqual(member('web').requires, ['app']);
    const vm = async (name: string) => (await call('GET', `/api/v1/vms/${member(name).vmId}`)).body.vm;
    assert.deepEqual((await vm('db')).requirements.software, ['postgresql']);
    assert.deepEqual((await vm('web')).requirements.software, ['nginx']);
    const [db, app, web] = await Promise.all(['db', 'app', 'web'].map((n) => simServer(member(n).placement.serverId)));
    assert.ok(db.launchedAt <= app.createdAt, `db ran (${db.launchedAt}) before app was made (${app.createdAt})`);
    assert.ok(app.launchedAt <= web.createdAt, `app ran (${app.launchedAt}) before web was made (${web.createdAt})`);

    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    assert.equal((await settled(id)).state, 'destroyed');
    assert.deepEqual(await osFootprint('shop'), before);
  });

  it('when a member fails mid-create with onMemberFailure rollback, then everything the environment made is removed', async () => {
    const before = await osFootprint('rb');
    await simAdmin(clouds.openstack.url, 'POST', '/build-failures', { count: 1, namePattern: '^rb-app$' });
    const created = await call('POST', '/api/v1/environments', { name: 'rb', cloud: 'openstack', preset: 'web-app-db', onMemberFailure: 'rollback' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const e = await settled(created.body.environment.id);
    assert.equal(e.state, 'failed', JSON.stringify(e));
    assert.deepEqual(e.failedMembers, ['app']);
    assert.match(e.lastError, /member:app/);
    assert.equal(e.graph.kind, 'rollback');
    assert.ok(e.members.every((m: Json) => m.state === 'deleted'), JSON.stringify(e.members));
    assert.equal(e.network, undefined);
    assert.deepEqual(await osFootprint('rb'), before);
  });

  it('when a member fails mid-create with onMemberFailure keep, then the members created stay, the environment names the failed one, a retry makes the failed ones only, and a destroy removes the rest', async () => {
    const before = await osFootprint('kp');
    await simAdmin(clouds.openstack.url, 'POST', '/build-failures', { count: 1, namePattern: '^kp-app$' });
    const created = await call('POST', '/api/v1/environments', { name: 'kp', cloud: 'openstack', preset: 'web-app-db', onMemberFailure: 'keep' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const e = await settled(id);
    assert.equal(e.state, 'partial', JSON.stringify(e));
    assert.deepEqual(e.failedMembers, ['app']);
    const state = Object.fromEntries(e.members.map((m: Json) => [m.name, m.state]));
    assert.deepEqual(state, { db: 'active', app: 'failed', web: 'failed' });
    assert.equal(e.graph.tasks.find((t: Json) => t.name === 'member:web').state, 'skipped');
    assert.ok(e.network?.networkId);
    const s = await osState();
    assert.equal((s.servers.items as Json[]).filter((x) => x.name.startsWith('kp-') && x.status !== 'DELETED').length, 1, 'only the database server is left');
    const dbServer = e.members.find((m: Json) => m.name === 'db').placement.serverId;

    // Retried: the failed members are made, the database is left as it was (the same server).
    const retry = await call('POST', `/api/v1/environments/${id}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.operation.workflowId, `env-create:${id}:retry-1`);
    assert.equal(retry.body.environment.state, 'creating');
    assert.equal((await call('POST', `/api/v1/environments/${id}/retry`)).body.error?.code, 'environment_busy', 'one retry at a time');
    const retried = await settled(id);
    assert.equal(retried.state, 'active', JSON.stringify(retried));
    assert.deepEqual(retried.failedMembers, []);
    assert.deepEqual(Object.fromEntries(retried.members.map((m: Json) => [m.name, m.state])), { db: 'active', app: 'active', web: 'active' });
    assert.equal(retried.members.find((m: Json) => m.name === 'db').placement.serverId, dbServer, 'the database was not made again');
    const again = await osState();
    assert.equal((again.servers.items as Json[]).filter((x) => x.name.startsWith('kp-') && x.status !== 'DELETED').length, 3, 'one server per member, none twice');
    const onlyPartial = await call('POST', `/api/v1/environments/${id}/retry`);
    assert.equal(onlyPartial.status, 409, JSON.stringify(onlyPartial.body));
    assert.equal(onlyPartial.body.error.code, 'environment_not_partial');
    assert.equal((await apiCall(api.url, bob, 'POST', `/api/v1/environments/${id}/retry`)).status, 404, 'another member cannot retry it');

    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    assert.equal((await settled(id)).state, 'destroyed');
    assert.deepEqual(await osFootprint('kp'), before);
  });

  it('when a CloudStack environment is created and destroyed, then its members run on its own isolated network and nothing is left after', async () => {
    const live = (s: Json) => ({ vms: (s.vms.items as Json[]).filter((v) => v.name?.startsWith('vmflow-') && !['Destroyed', 'Expunging', 'Expunged'].includes(v.state)).length, networks: s.networks.total });
    const before = live(await csState());
    const members = [
      { name: 'db', os: 'ubuntu-24.04', software: ['postgresql'], size: 'small' },
      { name: 'app', os: 'ubuntu-24.04', software: ['jdk'], size: 'small', requires: ['db'] },
    ];
    const created = await call('POST', '/api/v1/environments', { name: 'cs1', cloud: 'cloudstack', members });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const id = created.body.environment.id as string;
    const e = await settled(id);
    assert.equal(e.state, 'active', JSON.stringify(e));
    const net = ((await csState()).networks.items as Json[]).find((n) => n.id === e.network.networkId);
    assert.equal(net?.name, e.network.name);
    for (const m of e.members) assert.deepEqual(m.placement.addresses.map((a: Json) => a.network), [e.network.networkId], `${m.name} is on the environment's network`);

    assert.equal((await call('DELETE', `/api/v1/environments/${id}`)).status, 202);
    assert.equal((await settled(id)).state, 'destroyed');
    assert.deepEqual(live(await csState()), before);
  });

  it('when the request is bad, then the answer is 400 naming the field, and nothing is created', async () => {
    const before = (await call('GET', '/api/v1/vms')).body.vms.length;
    const m = (name: string, requires?: string[]) => ({ name, os: 'ubuntu-24.04', size: 'small', ...(requires ? { requires } : {}) });
    const cases: Array<[unknown, string]> = [
      [{ name: 'bad1', cloud: 'openstack', members: [m('a'), m('b'), m('c', ['nope'])] }, 'members[2].requires[0]'],
      [{ name: 'bad2', cloud: 'openstack', members: [m('a', ['b']), m('b', ['a'])] }, 'members[1].requires[0]'],
      [{ name: 'bad3', cloud: 'openstack', members: [m('a'), m('a')] }, 'members[1].name'],
      [{ name: 'bad4', cloud: 'openstack', members: [m('a'), { ...m('b'), software: ['no-such'] }] }, 'members[1].software[0]'],
      [{ name: 'bad5', cloud: 'openstack', preset: 'overcloud' }, 'number'],
      [{ name: 'bad6', cloud: 'openstack', preset: 'web-app-db', size: 'huge' }, 'size'],
      [{ name: 'bad7', cloud: 'openstack', preset: 'overcloud', number: 0 }, 'number'],
      [{ name: 'bad8', cloud: 'moon', preset: 'web-app-db' }, 'cloud'],
    ];
    for (const [body, field] of cases) {
      const r = await call('POST', '/api/v1/environments', body);
      assert.equal(r.status, 400, `${field}: ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.fields.some((f: Json) => f.field === field), `${field} named in ${JSON.stringify(r.body.error.fields)}`);
    }
    assert.equal((await call('GET', '/api/v1/vms')).body.vms.length, before);
    assert.equal((await call('GET', '/api/v1/environments/no-such-env')).status, 404);
  });
});
