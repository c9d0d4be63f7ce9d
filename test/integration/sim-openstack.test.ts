import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startOpenStackSimulator, type OpenStackSimulator, type SimUserSpec } from '../../src/sim/openstack';

type J = any;

interface Res {
  status: number;
  headers: Headers;
  body: J;
  text: string;
}

const USERS: SimUserSpec[] = [
  { name: 'demo', password: 'demo-secret', project: 'demo' },
  { name: 'admin', password: 'admin-secret', project: 'admin', roles: ['admin', 'member'] },
  { name: 'alice', password: 'alice-secret', project: 'other' },
  { name: 'bob', password: 'bob-secret', project: 'bobs' },
  // Makes networks of its own: its servers never ask for networks "auto" elsewhere in this file.
  { name: 'carol', password: 'carol-secret', project: 'carols' },
];

let sim: OpenStackSimulator;

async function call(method: string, url: string, opts: { token?: string; json?: unknown; body?: Buffer | string; headers?: Record<string, string>; redirect?: 'follow' | 'manual'; signal?: AbortSignal } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers['X-Auth-Token'] = opts.token;
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers, body, redirect: opts.redirect ?? 'follow', signal: opts.signal ?? AbortSignal.timeout(15_000) });
  const text = await res.text();
  let parsed: J;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

function authBody(user: string, password: string, project: string) {
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password } } },
      scope: { project: { name: project, domain: { name: 'Default' } } },
    },
  };
}

interface Session {
  token: string;
  projectId: string;
  userId: string;
  compute(method: string, p: string, json?: unknown, headers?: Record<string, string>): Promise<Res>;
  image(method: string, p: string, json?: unknown, headers?: Record<string, string>): Promise<Res>;
  heat(method: string, p: string, json?: unknown, opts?: { redirect?: 'follow' | 'manual' }): Promise<Res>;
  network(method: string, p: string, json?: unknown): Promise<Res>;
}

async function login(name = 'demo'): Promise<Session> {
  const u = USERS.find((x) => x.name === name)!;
  const r = await call('POST', `${sim.authUrl}/auth/tokens`, { json: authBody(u.name, u.password, u.project) });
  assert.equal(r.status, 201, r.text);
  const token = r.headers.get('x-subject-token')!;
  const projectId = r.body.token.project.id;
  return {
    token,
    projectId,
    userId: r.body.token.user.id,
    compute: (m, p, json, headers) => call(m, `${sim.url}/compute/v2.1${p}`, { token, json, headers: { 'OpenStack-API-Version': 'compute 2.79', ...(headers ?? {}) } }),
    image: (m, p, json, headers) => call(m, `${sim.url}/image/v2${p}`, { token, json, headers }),
    heat: (m, p, json, opts) => call(m, `${sim.url}/heat-api/v1/${projectId}${p}`, { token, json, redirect: opts?.redirect }),
    network: (m, p, json) => call(m, `${sim.url}/networking/v2.0${p}`, { token, json }),
  };
}

/** Polls `fn` (every 25 ms, at most `timeoutMs`) until it returns something other than undefined/false. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    last = v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function admin(method: string, p: string, json?: unknown): Promise<Res> {
  return call(method, `${sim.url}/_sim${p}`, { json });
}

let ubuntuId: string;

async function createServer(s: Session, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await s.compute('POST', '/servers', { server: { name, flavorRef: '1', imageRef: ubuntuId, networks: 'auto', ...extra } });
  assert.equal(r.status, 202, r.text);
  return r.body.server.id;
}

async function waitStatus(s: Session, id: string, status: string): Promise<J> {
  return eventually(`server ${id} ${status}`, async () => {
    const r = await s.compute('GET', `/servers/${id}`);
    return r.status === 200 && r.body.server.status === status && r.body.server['OS-EXT-STS:task_state'] === null ? r.body.server : undefined;
  });
}

async function waitStack(s: Session, name: string, status: string): Promise<J> {
  return eventually(
    `stack ${name} ${status}`,
    async () => {
      const r = await s.heat('GET', `/stacks/${name}`);
      if (r.status !== 200) return undefined;
      if (r.body.stack.stack_status.endsWith('_FAILED') && !status.endsWith('_FAILED')) throw new Error(`stack ${name}: ${r.body.stack.stack_status_reason}`);
      return r.body.stack.stack_status === status ? r.body.stack : undefined;
    },
    15_000,
  );
}

const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');
const sha512 = (b: Buffer) => crypto.createHash('sha512').update(b).digest('hex');

describe('OpenStack simulator', function () {
  this.timeout(30_000);
  let demo: Session;

  before(async () => {
    // Transitions long enough that a state seen right after an action is still that state on a
    // loaded machine (the tests read them once, never measure them), short enough to keep it quick.
    sim = await startOpenStackSimulator({
      port: 0,
      users: USERS,
      seed: 42,
      timings: { serverBuildMs: 300, serverStopMs: 200, serverStartMs: 100, serverRebootMs: 200, serverHardRebootMs: 200, snapshotMs: 400 },
    });
    demo = await login('demo');
    const r = await demo.image('GET', '/images?name=ubuntu-24.04');
    ubuntuId = r.body.images[0].id;
  });

  after(async () => {
    await sim?.stop();
  });

  afterEach(async () => {
    await admin('DELETE', '/faults');
    await admin('DELETE', '/outage');
  });

  describe('Keystone', () => {
    it('when the identity root and /v3 are fetched, then keystoneauth and gophercloud find v3', async () => {
      const root = await call('GET', `${sim.url}/identity`);
      assert.equal(root.status, 300);
      const v = root.body.versions.values[0];
      assert.match(v.id, /^v3\./);
      assert.equal(v.status, 'stable');
      assert.equal(v.links[0].href, `${sim.url}/identity/v3/`);
      const v3 = await call('GET', `${sim.authUrl}/`);
      assert.equal(v3.status, 200);
      assert.equal(v3.body.version.status, 'stable');
      assert.equal(v3.body.version['media-types'][0].type, 'application/vnd.openstack.identity-v3+json');
    });

    it('when demo authenticates by names, then 201 carries X-Subject-Token and a catalog pointing at the simulator', async () => {
      const r = await call('POST', `${sim.authUrl}/auth/tokens`, { json: authBody('demo', 'demo-secret', 'demo') });
      assert.equal(r.status, 201);
      assert.ok(r.headers.get('x-subject-token'));
      const t = r.body.token;
      assert.deepEqual(t.methods, ['password']);
      assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(t.project.name, 'demo');
      assert.equal(t.project.domain.name, 'Default');
      assert.equal(t.user.name, 'demo');
      assert.ok(t.roles.some((x: J) => x.name === 'member'));
      const byType = Object.fromEntries(t.catalog.map((c: J) => [c.type, c]));
      assert.deepEqual(Object.keys(byType).sort(), ['compute', 'identity', 'image', 'network', 'orchestration']);
      for (const entry of t.catalog) {
        assert.deepEqual(entry.endpoints.map((e: J) => e.interface).sort(), ['admin', 'internal', 'public']);
        for (const e of entry.endpoints) assert.equal(e.region, 'RegionOne');
      }
      const url = (type: string) => byType[type].endpoints.find((e: J) => e.interface === 'public').url;
      assert.equal(url('compute'), `${sim.url}/compute/v2.1`);
      assert.equal(url('image'), `${sim.url}/image`);
      assert.equal(url('orchestration'), `${sim.url}/heat-api/v1/${t.project.id}`);
      assert.equal(url('network'), `${sim.url}/networking`);
      assert.equal(url('identity'), `${sim.url}/identity`);
      assert.deepEqual(sim.credentials, { username: 'demo', password: 'demo-secret', projectName: 'demo', userDomainName: 'Default', projectDomainName: 'Default', region: 'RegionOne' });
    });

    it('when authenticating by ids with ?nocatalog, then the token has no catalog', async () => {
      const r = await call('POST', `${sim.authUrl}/auth/tokens?nocatalog`, {
        json: { auth: { identity: { methods: ['password'], password: { user: { id: demo.userId, password: 'demo-secret' } } }, scope: { project: { id: demo.projectId } } } },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.token.catalog, undefined);
      assert.equal(r.body.token.project.id, demo.projectId);
    });

    it('when the password, user or project is wrong, then 401 with the Keystone body and WWW-Authenticate', async () => {
      for (const body of [authBody('demo', 'wrong', 'demo'), authBody('nobody', 'x', 'demo'), authBody('demo', 'demo-secret', 'admin')]) {
        const r = await call('POST', `${sim.authUrl}/auth/tokens`, { json: body });
        assert.equal(r.status, 401);
        assert.deepEqual(r.body, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
        assert.equal(r.headers.get('www-authenticate'), `Keystone uri="${sim.url}/identity"`);
      }
      const bad = await call('POST', `${sim.authUrl}/auth/tokens`, { json: { auth: {} } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 400);
    });

    it('when a token is validated, revoked or expired, then services accept it and then answer 401', async () => {
      const bob = await login('bob');
      const v = await call('GET', `${sim.authUrl}/auth/tokens`, { token: bob.token, headers: { 'X-Subject-Token': bob.token } });
      assert.equal(v.status, 200);
      assert.equal(v.body.token.user.name, 'bob');
      assert.equal((await bob.compute('GET', '/flavors')).status, 200);

      const del = await call('DELETE', `${sim.authUrl}/auth/tokens`, { token: bob.token, headers: { 'X-Subject-Token': bob.token } });
      assert.equal(del.status, 204);
      for (const r of [await bob.compute('GET', '/servers'), await bob.image('GET', '/images'), await bob.heat('GET', '/stacks'), await bob.network('GET', '/networks')]) {
        assert.equal(r.status, 401);
        assert.equal(r.body.error.title, 'Unauthorized');
        assert.match(r.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
      }

      const bob2 = await login('bob');
      const expired = await admin('POST', '/tokens/expire', { user: 'bob' });
      assert.ok(expired.body.expired >= 1);
      assert.equal((await bob2.compute('GET', '/servers')).status, 401);
      const unknown = await call('GET', `${sim.url}/compute/v2.1/servers`, { token: 'gAAAAAnot-a-token' });
      assert.equal(unknown.status, 401);
    });

    it('when the simulator is started with a token TTL, then expires_at is that far after issued_at and the token dies', async () => {
      const short = await startOpenStackSimulator({ port: 0, tokenTtlSeconds: 1 });
      try {
        const r = await call('POST', `${short.authUrl}/auth/tokens`, { json: authBody('demo', 'demo-secret', 'demo') });
        assert.equal(Date.parse(r.body.token.expires_at) - Date.parse(r.body.token.issued_at), 1000);
        const token = r.headers.get('x-subject-token')!;
        await eventually('token expiry', async () => (await call('GET', `${short.url}/compute/v2.1/flavors`, { token })).status === 401, 5_000);
      } finally {
        await short.stop();
      }
    });

    it('when each catalog endpoint root is fetched, then it answers with a version document', async () => {
      const compute = await call('GET', `${sim.url}/compute/v2.1`);
      assert.equal(compute.status, 200);
      assert.equal(compute.body.version.id, 'v2.1');
      assert.equal(compute.body.version.min_version, '2.1');
      assert.equal(compute.body.version.version, '2.96');
      const computeRoot = await call('GET', `${sim.url}/compute/`);
      assert.equal(computeRoot.body.versions[0].status, 'CURRENT');
      const image = await call('GET', `${sim.url}/image`);
      assert.equal(image.status, 300);
      assert.equal(image.body.versions[0].status, 'CURRENT');
      assert.equal(image.body.versions[0].links[0].href, `${sim.url}/image/v2/`);
      const heat = await call('GET', `${sim.url}/heat-api/`);
      assert.equal(heat.status, 300);
      assert.equal(heat.body.versions[0].id, 'v1.0');
      const net = await call('GET', `${sim.url}/networking`);
      assert.equal(net.body.versions[0].id, 'v2.0');
      const unknown = await call('GET', `${sim.url}/nothing/here`);
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 404);
    });
  });

  describe('Nova', () => {
    it('when microversions are requested, then both headers are echoed with Vary, latest is 2.96 and out of range is 406', async () => {
      const none = await call('GET', `${sim.url}/compute/v2.1/flavors`, { token: demo.token });
      assert.equal(none.headers.get('openstack-api-version'), 'compute 2.1');
      assert.equal(none.headers.get('x-openstack-nova-api-version'), '2.1');
      assert.match(none.headers.get('vary') ?? '', /OpenStack-API-Version/);
      assert.match(none.headers.get('x-openstack-request-id') ?? '', /^req-[0-9a-f-]{36}$/);
      assert.equal(none.headers.get('x-compute-request-id'), none.headers.get('x-openstack-request-id'));
      const modern = await demo.compute('GET', '/flavors', undefined, { 'OpenStack-API-Version': 'compute 2.53' });
      assert.equal(modern.headers.get('openstack-api-version'), 'compute 2.53');
      assert.equal(modern.headers.get('x-openstack-nova-api-version'), '2.53');
      const legacy = await call('GET', `${sim.url}/compute/v2.1/flavors`, { token: demo.token, headers: { 'X-OpenStack-Nova-API-Version': '2.40' } });
      assert.equal(legacy.headers.get('openstack-api-version'), 'compute 2.40');
      const latest = await demo.compute('GET', '/flavors', undefined, { 'OpenStack-API-Version': 'compute latest' });
      assert.equal(latest.headers.get('openstack-api-version'), 'compute 2.96');
      const tooNew = await demo.compute('GET', '/flavors', undefined, { 'OpenStack-API-Version': 'compute 2.97' });
      assert.equal(tooNew.status, 406);
      assert.match(tooNew.body.computeFault.message, /Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96/);
      const garbage = await demo.compute('GET', '/flavors', undefined, { 'OpenStack-API-Version': 'compute two' });
      assert.equal(garbage.status, 400);
      assert.equal(garbage.body.badRequest.code, 400);
    });

    it('when flavors are listed and shown, then m1.tiny..m1.xlarge have string ids and sizes', async () => {
      const list = await demo.compute('GET', '/flavors');
      assert.deepEqual(
        list.body.flavors.map((f: J) => f.name),
        ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge'],
      );
      const detail = await demo.compute('GET', '/flavors/detail');
      const small = detail.body.flavors.find((f: J) => f.name === 'm1.small');
      assert.deepEqual([small.id, small.ram, small.vcpus, small.disk], ['2', 2048, 1, 20]);
      const show = await demo.compute('GET', '/flavors/3');
      assert.equal(show.body.flavor.name, 'm1.medium');
      const missing = await demo.compute('GET', '/flavors/m1.small');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.itemNotFound.code, 404);
    });

    it('when a server is created, then 202 with Location and adminPass, BUILD, then ACTIVE with the full shape', async () => {
      const r = await demo.compute('POST', '/servers', { server: { name: 'shape-vm', flavorRef: '2', imageRef: ubuntuId, networks: 'auto', metadata: { role: 'web' } } });
      assert.equal(r.status, 202);
      const id = r.body.server.id;
      assert.equal(r.headers.get('location'), `${sim.url}/compute/v2.1/servers/${id}`);
      assert.ok(r.body.server.adminPass);
      assert.deepEqual(r.body.server.security_groups, [{ name: 'default' }]);
      const first = await demo.compute('GET', `/servers/${id}`);
      assert.equal(first.body.server.status, 'BUILD');
      assert.equal(first.body.server['OS-EXT-STS:vm_state'], 'building');
      const s = await waitStatus(demo, id, 'ACTIVE');
      assert.equal(s.name, 'shape-vm');
      assert.equal(s.tenant_id, demo.projectId);
      assert.equal(s.user_id, demo.userId);
      assert.equal(s['OS-EXT-STS:vm_state'], 'active');
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.equal(s.image.id, ubuntuId);
      assert.equal(s.flavor.original_name, 'm1.small');
      assert.deepEqual(s.metadata, { role: 'web' });
      const addr = s.addresses.private[0];
      assert.match(addr.addr, /^10\.0\.0\.\d+$/);
      assert.equal(addr.version, 4);
      assert.equal(addr['OS-EXT-IPS:type'], 'fixed');
      assert.match(addr['OS-EXT-IPS-MAC:mac_addr'], /^fa:16:3e(:[0-9a-f]{2}){3}$/);
      assert.equal(s.fault, undefined);
      const old = await demo.compute('GET', `/servers/${id}`, undefined, { 'OpenStack-API-Version': 'compute 2.1' });
      assert.deepEqual(Object.keys(old.body.server.flavor).sort(), ['id', 'links']);
    });

    it('when the create body is invalid, then 400 badRequest says why', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ flavorRef: '1', imageRef: ubuntuId, networks: 'auto' }, /'name' is a required property/],
        [{ name: 'x', flavorRef: '1', imageRef: ubuntuId }, /'networks' is a required property/],
        [{ name: 'x', flavorRef: '99', imageRef: ubuntuId, networks: 'auto' }, /Flavor 99 could not be found/],
        [{ name: 'x', flavorRef: '1', imageRef: crypto.randomUUID(), networks: 'auto' }, /Image .* could not be found/],
        [{ name: 'x', flavorRef: '1', imageRef: ubuntuId, networks: 'auto', key_name: 'nokey' }, /Invalid key_name provided/],
        [{ name: 'x', flavorRef: '1', imageRef: ubuntuId, networks: 'auto', user_data: 'not base64!' }, /user_data.*is not a 'base64'/],
        [{ name: 'x', flavorRef: '1', imageRef: ubuntuId, networks: 'auto', user_data: 'QUJD'.repeat(16384) }, /user_data.*too long/],
        [{ name: 'x', flavorRef: '1', imageRef: ubuntuId, networks: [{ uuid: crypto.randomUUID() }] }, /Network .* could not be found/],
      ];
      for (const [server, message] of cases) {
        const r = await demo.compute('POST', '/servers', { server });
        assert.equal(r.status, 400, `${JSON.stringify(server).slice(0, 80)} → ${r.status}`);
        assert.equal(r.body.badRequest.code, 400);
        assert.match(r.body.badRequest.message, message);
      }
      const oldVersion = await demo.compute('POST', '/servers', { server: { name: 'nonet', flavorRef: '1', imageRef: ubuntuId } }, { 'OpenStack-API-Version': 'compute 2.1' });
      assert.equal(oldVersion.status, 202, 'before 2.37 networks may be omitted');
    });

    it('when the create body carries the image → local boot mapping openstacksdk sends, then the server boots; other mappings are 400', async () => {
      const bootMapping = { uuid: ubuntuId, boot_index: 0, source_type: 'image', destination_type: 'local', delete_on_termination: true };
      const r = await demo.compute(
        'POST',
        '/servers',
        { server: { name: 'bdm-vm', flavorRef: '2', imageRef: ubuntuId, networks: 'auto', min_count: 1, max_count: 1, block_device_mapping_v2: [bootMapping] } },
        { 'OpenStack-API-Version': 'compute 2.96' },
      );
      assert.equal(r.status, 202, r.text);
      const s = await waitStatus(demo, r.body.server.id, 'ACTIVE');
      assert.equal(s.image.id, ubuntuId);
      const rejected: [Record<string, unknown>[], RegExp][] = [
        [[{ ...bootMapping, boot_index: 1 }], /Mapping image to local is not supported/],
        [[{ uuid: ubuntuId, boot_index: 0, source_type: 'image', destination_type: 'volume', volume_size: 10 }], /no block storage service/],
        [[bootMapping, { source_type: 'blank', destination_type: 'volume', volume_size: 1 }], /no block storage service/],
      ];
      for (const [mappings, message] of rejected) {
        const bad = await demo.compute('POST', '/servers', { server: { name: 'bdm-bad', flavorRef: '1', imageRef: ubuntuId, networks: 'auto', block_device_mapping_v2: mappings } });
        assert.equal(bad.status, 400, JSON.stringify(mappings));
        assert.match(bad.body.badRequest.message, message);
      }
    });

    it('when the project quota is used up, then create answers 403 forbidden', async () => {
      const bob = await login('bob');
      await admin('PATCH', '/quotas', { project: 'bobs', instances: 1 });
      await createServer(bob, 'bob-1');
      const r = await bob.compute('POST', '/servers', { server: { name: 'bob-2', flavorRef: '1', imageRef: ubuntuId, networks: 'auto' } });
      assert.equal(r.status, 403);
      assert.match(r.body.forbidden.message, /Quota exceeded for instances: Requested 1, but already used 1 of 1 instances/);
      const limits = await bob.compute('GET', '/limits');
      assert.equal(limits.body.limits.absolute.maxTotalInstances, 1);
      assert.equal(limits.body.limits.absolute.totalInstancesUsed, 1);
    });

    it('when stop, start and reboot are asked in the right and wrong states, then 202 or 409 conflictingRequest', async () => {
      const id = await createServer(demo, 'power-vm');
      const building = await demo.compute('POST', `/servers/${id}/action`, { 'os-stop': null });
      assert.equal(building.status, 409);
      assert.match(building.body.conflictingRequest.message, new RegExp(`Cannot 'stop' instance ${id} while it is in (vm_state building|task_state)`));
      await waitStatus(demo, id, 'ACTIVE');
      const start = await demo.compute('POST', `/servers/${id}/action`, { 'os-start': null });
      assert.equal(start.status, 409);
      assert.deepEqual(start.body, { conflictingRequest: { code: 409, message: `Cannot 'start' instance ${id} while it is in vm_state active` } });

      assert.equal((await demo.compute('POST', `/servers/${id}/action`, { 'os-stop': null })).status, 202);
      const stopping = await demo.compute('GET', `/servers/${id}`);
      assert.equal(stopping.body.server['OS-EXT-STS:task_state'], 'powering-off');
      const again = await demo.compute('POST', `/servers/${id}/action`, { 'os-stop': null });
      assert.equal(again.status, 409);
      assert.match(again.body.conflictingRequest.message, /task_state powering-off/);
      const off = await waitStatus(demo, id, 'SHUTOFF');
      assert.equal(off['OS-EXT-STS:power_state'], 4);
      const soft = await demo.compute('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } });
      assert.equal(soft.status, 409);
      assert.match(soft.body.conflictingRequest.message, /Cannot 'reboot' instance .* vm_state stopped/);

      assert.equal((await demo.compute('POST', `/servers/${id}/action`, { 'os-start': null })).status, 202);
      await waitStatus(demo, id, 'ACTIVE');
      assert.equal((await demo.compute('POST', `/servers/${id}/action`, { reboot: { type: 'SOFT' } })).status, 202);
      assert.equal((await demo.compute('GET', `/servers/${id}`)).body.server.status, 'REBOOT');
      await waitStatus(demo, id, 'ACTIVE');
      assert.equal((await demo.compute('POST', `/servers/${id}/action`, { reboot: { type: 'HARD' } })).status, 202);
      assert.equal((await demo.compute('GET', `/servers/${id}`)).body.server.status, 'HARD_REBOOT');
      await waitStatus(demo, id, 'ACTIVE');
      const bogus = await demo.compute('POST', `/servers/${id}/action`, { reboot: { type: 'GENTLE' } });
      assert.equal(bogus.status, 400);
      const unknown = await demo.compute('POST', `/servers/${id}/action`, { levitate: {} });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.badRequest.message, /There is no such action: levitate/);
    });

    it('when servers are filtered by name, then the name is a regular expression as in Nova', async () => {
      const alice = await login('alice');
      for (const n of ['bob', 'bobb', 'rob']) await createServer(alice, n);
      const names = async (q: string) => (await alice.compute('GET', `/servers?${q}`)).body.servers.map((s: J) => s.name).sort();
      assert.deepEqual(await names('name=bob'), ['bob', 'bobb']);
      assert.deepEqual(await names('name=%5Ebob%24'), ['bob']);
      assert.deepEqual(await names('name=ob'), ['bob', 'bobb', 'rob']);
      const detail = await alice.compute('GET', '/servers/detail?name=%5Erob%24');
      assert.equal(detail.body.servers[0].name, 'rob');
      await eventually('all ACTIVE', async () => (await alice.compute('GET', '/servers/detail?status=ACTIVE')).body.servers.length === 3);
      assert.deepEqual((await alice.compute('GET', '/servers/detail?status=SHUTOFF')).body.servers, []);
    });

    it('when servers are paged with limit and marker, then servers_links lead through every server once', async () => {
      const s = await login('admin');
      const ids = new Set<string>();
      for (let i = 0; i < 5; i++) ids.add(await createServer(s, `page-${i}`));
      const seen: string[] = [];
      let url = `${sim.url}/compute/v2.1/servers/detail?limit=2&name=%5Epage-`;
      for (let guard = 0; guard < 10 && url; guard++) {
        const r = await call('GET', url, { token: s.token });
        assert.equal(r.status, 200);
        seen.push(...r.body.servers.map((x: J) => x.id));
        url = r.body.servers_links?.find((l: J) => l.rel === 'next')?.href;
        if (url) assert.ok(url.startsWith(`${sim.url}/compute/v2.1/servers/detail?`));
      }
      assert.equal(seen.length, 5);
      assert.deepEqual(new Set(seen), ids);
      const badMarker = await s.compute('GET', `/servers/detail?marker=${crypto.randomUUID()}`);
      assert.equal(badMarker.status, 400);
    });

    it('when a server is deleted, then 204 and it disappears after the deleting phase with its port', async () => {
      const id = await createServer(demo, 'doomed');
      await waitStatus(demo, id, 'ACTIVE');
      const portIds = sim.state().servers.items.find((x) => x.id === id)!.portIds;
      assert.equal(portIds.length, 1);
      const del = await demo.compute('DELETE', `/servers/${id}`);
      assert.equal(del.status, 204);
      await eventually('404 after delete', async () => (await demo.compute('GET', `/servers/${id}`)).status === 404);
      const gone = await demo.compute('GET', `/servers/${id}`);
      assert.deepEqual(gone.body, { itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } });
      assert.equal(sim.state().ports.items.some((p) => p.id === portIds[0]), false);
    });

    it('when key pairs are created, imported, listed and deleted, then Nova shapes and codes are returned', async () => {
      const gen = await demo.compute('POST', '/os-keypairs', { keypair: { name: 'gen-key' } });
      assert.equal(gen.status, 201);
      assert.match(gen.body.keypair.public_key, /^ssh-rsa AAAA/);
      assert.match(gen.body.keypair.private_key, /BEGIN RSA PRIVATE KEY/);
      assert.match(gen.body.keypair.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
      const pub = gen.body.keypair.public_key;
      const imported = await demo.compute('POST', '/os-keypairs', { keypair: { name: 'imported', public_key: pub } });
      assert.equal(imported.status, 201);
      assert.equal(imported.body.keypair.private_key, undefined);
      assert.equal(imported.body.keypair.fingerprint, gen.body.keypair.fingerprint);
      const dup = await demo.compute('POST', '/os-keypairs', { keypair: { name: 'imported', public_key: pub } });
      assert.equal(dup.status, 409);
      assert.match(dup.body.conflictingRequest.message, /Key pair 'imported' already exists/);
      const bad = await demo.compute('POST', '/os-keypairs', { keypair: { name: 'bad', public_key: 'ssh-rsa !!!' } });
      assert.equal(bad.status, 400);
      const list = await demo.compute('GET', '/os-keypairs');
      assert.deepEqual(list.body.keypairs.map((k: J) => k.keypair.name).sort(), ['gen-key', 'imported']);
      const show = await demo.compute('GET', '/os-keypairs/imported');
      assert.equal(show.body.keypair.user_id, demo.userId);
      const id = await createServer(demo, 'keyed', { key_name: 'imported' });
      assert.equal((await waitStatus(demo, id, 'ACTIVE')).key_name, 'imported');
      assert.equal((await demo.compute('DELETE', '/os-keypairs/gen-key')).status, 204);
      assert.equal((await demo.compute('GET', '/os-keypairs/gen-key')).status, 404);
    });

    it('when createImage runs (2.45+), then image_id comes back, task states advance and Glance gets matching bytes', async () => {
      const id = await createServer(demo, 'snap-src');
      await waitStatus(demo, id, 'ACTIVE');
      const r = await demo.compute('POST', `/servers/${id}/action`, { createImage: { name: 'snap-1', metadata: { backup: 'daily' } } });
      assert.equal(r.status, 202);
      const imageId = r.body.image_id;
      assert.ok(imageId);
      const during = await demo.compute('GET', `/servers/${id}`);
      assert.equal(during.body.server['OS-EXT-STS:task_state'], 'image_snapshot');
      const busy = await demo.compute('POST', `/servers/${id}/action`, { 'os-stop': null });
      assert.equal(busy.status, 409);
      const seenTasks = new Set<string>();
      const seenImage = new Set<string>();
      const img = await eventually('snapshot active', async () => {
        const s = await demo.compute('GET', `/servers/${id}`);
        seenTasks.add(String(s.body.server['OS-EXT-STS:task_state']));
        const i = await demo.image('GET', `/images/${imageId}`);
        seenImage.add(i.body.status);
        return i.body.status === 'active' ? i.body : undefined;
      });
      await waitStatus(demo, id, 'ACTIVE');
      for (const t of seenTasks) assert.ok(['image_snapshot', 'image_pending_upload', 'image_uploading', 'null'].includes(t), t);
      for (const st of seenImage) assert.ok(['queued', 'saving', 'active'].includes(st), st);
      assert.equal(img.name, 'snap-1');
      assert.equal(img.image_type, 'snapshot');
      assert.equal(img.instance_uuid, id);
      assert.equal(img.backup, 'daily');
      assert.equal(img.visibility, 'private');
      assert.equal(img.owner, demo.projectId);
      assert.equal(img.os_hash_algo, 'sha512');
      const dl = await fetch(`${sim.url}/image/v2/images/${imageId}/file`, { headers: { 'X-Auth-Token': demo.token } });
      assert.equal(dl.status, 200);
      assert.equal(dl.headers.get('content-md5'), img.checksum);
      const bytes = Buffer.from(await dl.arrayBuffer());
      assert.equal(bytes.length, img.size);
      assert.equal(bytes.length, 1024 * 1024);
      assert.equal(md5(bytes), img.checksum);
      assert.equal(sha512(bytes), img.os_hash_value);
    });

    it('when createImage is called below 2.45, then the answer is empty with a Location naming the image', async () => {
      const id = await createServer(demo, 'snap-old');
      await waitStatus(demo, id, 'ACTIVE');
      const r = await demo.compute('POST', `/servers/${id}/action`, { createImage: { name: 'snap-old-1' } }, { 'OpenStack-API-Version': 'compute 2.44' });
      assert.equal(r.status, 202);
      assert.equal(r.text, '');
      const location = r.headers.get('location')!;
      const imageId = location.slice(location.lastIndexOf('/') + 1);
      assert.equal((await demo.image('GET', `/images/${imageId}`)).body.name, 'snap-old-1');
      const missingName = await demo.compute('POST', `/servers/${id}/action`, { createImage: {} });
      assert.equal(missingName.status, 400);
      await eventually('snapshot done', async () => (await demo.image('GET', `/images/${imageId}`)).body.status === 'active');
    });
  });

  describe('Glance', () => {
    let dataServer: http.Server;
    let dataUrl: string;
    const served = crypto.randomBytes(300 * 1024 + 7);

    before(async () => {
      dataServer = http.createServer((req, res) => {
        if (req.url === '/disk.qcow2') {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': served.length });
          res.end(served);
        } else {
          res.writeHead(404);
          res.end('not here');
        }
      });
      await new Promise<void>((r) => dataServer.listen(0, '127.0.0.1', r));
      dataUrl = `http://127.0.0.1:${(dataServer.address() as AddressInfo).port}`;
    });

    after(async () => {
      dataServer.closeAllConnections();
      await new Promise<void>((r) => dataServer.close(() => r()));
    });

    it('when the seeded images are listed, then the public catalog images are active with bytes', async () => {
      const r = await demo.image('GET', '/images?visibility=public&limit=100');
      const byName = Object.fromEntries(r.body.images.map((i: J) => [i.name, i]));
      for (const name of ['ubuntu-24.04', 'ubuntu-22.04', 'centos-stream-9', 'fedora-41']) {
        assert.equal(byName[name]?.status, 'active', name);
        assert.equal(byName[name].visibility, 'public');
        assert.ok(byName[name].size > 0);
        assert.match(byName[name].checksum, /^[0-9a-f]{32}$/);
        assert.equal(byName[name].file, `/v2/images/${byName[name].id}/file`);
      }
      const active = await demo.image('GET', '/images?status=active&name=fedora-41');
      assert.equal(active.body.images.length, 1);
      assert.equal(active.body.first, '/v2/images');
      assert.equal(active.body.schema, '/v2/schemas/images');
    });

    it('when images are paged, then next links carry marker and limit until the list ends', async () => {
      const seen: string[] = [];
      let next: string | undefined = '/v2/images?limit=3&visibility=public';
      for (let guard = 0; guard < 10 && next; guard++) {
        const r = await call('GET', `${sim.url}/image${next}`, { token: demo.token });
        seen.push(...r.body.images.map((i: J) => i.name));
        next = r.body.next;
        if (next) assert.match(next, /^\/v2\/images\?.*marker=/);
      }
      assert.deepEqual([...seen].sort(), ['centos-stream-9', 'fedora-41', 'ubuntu-22.04', 'ubuntu-24.04']);
    });

    it('when an image is created and uploaded, then queued → active with md5 and sha512, and a second upload is 409', async () => {
      const created = await demo.image('POST', '/images', { name: 'upload-1', disk_format: 'qcow2', container_format: 'bare', os_distro: 'ubuntu' });
      assert.equal(created.status, 201);
      assert.equal(created.body.status, 'queued');
      assert.equal(created.body.os_distro, 'ubuntu');
      assert.equal(created.headers.get('location'), `${sim.url}/image/v2/images/${created.body.id}`);
      const id = created.body.id;
      const empty = await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token } });
      assert.equal(empty.status, 204);
      await empty.arrayBuffer();
      const data = crypto.randomBytes(256 * 1024 + 3);
      const put = await call('PUT', `${sim.url}/image/v2/images/${id}/file`, { token: demo.token, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(put.status, 204, put.text);
      const img = (await demo.image('GET', `/images/${id}`)).body;
      assert.equal(img.status, 'active');
      assert.equal(img.size, data.length);
      assert.equal(img.checksum, md5(data));
      assert.equal(img.os_hash_value, sha512(data));
      const again = await call('PUT', `${sim.url}/image/v2/images/${id}/file`, { token: demo.token, body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      assert.equal(again.status, 409);
      assert.match(again.body.message, /Image status transition from active to saving is not allowed/);
      assert.equal(again.body.code, '409 Conflict');

      const full = await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token } });
      assert.equal(full.headers.get('content-md5'), md5(data));
      assert.ok(Buffer.from(await full.arrayBuffer()).equals(data));
      const part = await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token, Range: 'bytes=1000-1999' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${data.length}`);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000)));
      const tail = await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token, Range: 'bytes=-10' } });
      assert.ok(Buffer.from(await tail.arrayBuffer()).equals(data.subarray(data.length - 10)));
      const bad = await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token, Range: `bytes=${data.length + 5}-` } });
      assert.equal(bad.status, 416);
      await bad.arrayBuffer();
    });

    it('when a generated image is read with a Range, then the bytes equal the same slice of the full download', async () => {
      const full = Buffer.from(await (await fetch(`${sim.url}/image/v2/images/${ubuntuId}/file`, { headers: { 'X-Auth-Token': demo.token } })).arrayBuffer());
      const part = await fetch(`${sim.url}/image/v2/images/${ubuntuId}/file`, { headers: { 'X-Auth-Token': demo.token, Range: 'bytes=17-100016' } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(full.subarray(17, 100017)));
    });

    it('when an upload breaks off, then the image is killed', async () => {
      const created = await demo.image('POST', '/images', { name: 'broken', disk_format: 'raw', container_format: 'bare' });
      const id = created.body.id;
      await new Promise<void>((resolve) => {
        const url = new URL(`${sim.url}/image/v2/images/${id}/file`);
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PUT', headers: { 'X-Auth-Token': demo.token, 'Content-Type': 'application/octet-stream', 'Content-Length': '100000' } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(1000));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      await eventually('killed', async () => (await demo.image('GET', `/images/${id}`)).body.status === 'killed');
    });

    it('when images are patched with JSON patch, then properties change; read-only ones are 403 and the media type is enforced', async () => {
      const id = (await demo.image('POST', '/images', { name: 'patch-me', disk_format: 'raw', container_format: 'bare' })).body.id;
      const url = `${sim.url}/image/v2/images/${id}`;
      const patch = (ops: unknown, type = 'application/openstack-images-v2.1-json-patch') => call('PATCH', url, { token: demo.token, body: JSON.stringify(ops), headers: { 'Content-Type': type } });
      const ok = await patch([
        { op: 'replace', path: '/name', value: 'patched' },
        { op: 'add', path: '/backup_of', value: 'vm-1' },
        { op: 'add', path: '/protected', value: true },
      ]);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.name, 'patched');
      assert.equal(ok.body.backup_of, 'vm-1');
      assert.equal((await patch([{ op: 'remove', path: '/backup_of' }])).body.backup_of, undefined);
      assert.equal((await patch([{ op: 'replace', path: '/status', value: 'active' }])).status, 403);
      assert.equal((await patch([{ op: 'remove', path: '/nothing' }])).status, 409);
      assert.equal((await patch([{ op: 'replace', path: '/name', value: 'x' }], 'application/json')).status, 415);
      const protectedDelete = await demo.image('DELETE', `/images/${id}`);
      assert.equal(protectedDelete.status, 403);
      assert.match(protectedDelete.body.message, /is protected and cannot be deleted/);
      await patch([{ op: 'replace', path: '/protected', value: false }]);
      assert.equal((await demo.image('DELETE', `/images/${id}`)).status, 204);
      assert.equal((await demo.image('GET', `/images/${id}`)).status, 404);
    });

    it('when web-download imports from a reachable URL, then the image goes importing → active with the served bytes', async () => {
      const info = await demo.image('GET', '/info/import');
      assert.ok(info.body['import-methods'].value.includes('web-download'));
      const id = (await demo.image('POST', '/images', { name: 'imported', disk_format: 'qcow2', container_format: 'bare' })).body.id;
      const r = await demo.image('POST', `/images/${id}/import`, { method: { name: 'web-download', uri: `${dataUrl}/disk.qcow2` } });
      assert.equal(r.status, 202, r.text);
      const img = await eventually('import active', async () => {
        const i = (await demo.image('GET', `/images/${id}`)).body;
        assert.ok(['importing', 'active'].includes(i.status), i.status);
        return i.status === 'active' ? i : undefined;
      });
      assert.equal(img.size, served.length);
      assert.equal(img.checksum, md5(served));
      assert.equal(img.os_hash_value, sha512(served));
      const bytes = Buffer.from(await (await fetch(`${sim.url}/image/v2/images/${id}/file`, { headers: { 'X-Auth-Token': demo.token } })).arrayBuffer());
      assert.ok(bytes.equals(served));
      const again = await demo.image('POST', `/images/${id}/import`, { method: { name: 'web-download', uri: `${dataUrl}/disk.qcow2` } });
      assert.equal(again.status, 409);
    });

    it('when web-download cannot fetch the URL, then the image returns to queued with os_glance_failed_import', async () => {
      const id = (await demo.image('POST', '/images', { name: 'import-fails', disk_format: 'qcow2', container_format: 'bare' })).body.id;
      assert.equal((await demo.image('POST', `/images/${id}/import`, { method: { name: 'web-download', uri: `${dataUrl}/missing` } })).status, 202);
      const img = await eventually('import failure', async () => {
        const i = (await demo.image('GET', `/images/${id}`)).body;
        return i.status === 'queued' && i.os_glance_failed_import ? i : undefined;
      });
      assert.equal(img.os_glance_failed_import, 'file');
      const tasks = await demo.image('GET', `/images/${id}/tasks`);
      assert.equal(tasks.body.tasks[0].status, 'failure');
      assert.match(tasks.body.tasks[0].message, /HTTP 404/);
      const badScheme = await demo.image('POST', `/images/${id}/import`, { method: { name: 'web-download', uri: 'file:///etc/passwd' } });
      assert.equal(badScheme.status, 400);
    });
  });

  describe('Heat', () => {
    const TEMPLATE = `
heat_template_version: 2018-08-31
description: VM from requirements
parameters:
  key_name: {type: string}
  flavor: {type: string, default: m1.small}
  packages: {type: comma_delimited_list, default: "vim,ftp"}
resources:
  key:
    type: OS::Nova::KeyPair
    properties: {name: {get_param: key_name}}
  port:
    type: OS::Neutron::Port
    properties: {network: private}
  config:
    type: OS::Heat::CloudConfig
    properties:
      cloud_config:
        packages: {get_param: packages}
  server:
    type: OS::Nova::Server
    properties:
      image: ubuntu-24.04
      flavor: {get_param: flavor}
      key_name: {get_resource: key}
      networks: [{port: {get_resource: port}}]
      user_data_format: RAW
      user_data: {get_resource: config}
      metadata: {owner: vmflow}
  fip:
    type: OS::Neutron::FloatingIP
    properties: {floating_network: public, port_id: {get_resource: port}}
outputs:
  server_ip:
    description: fixed address
    value: {get_attr: [server, first_address]}
  floating_ip:
    value: {get_attr: [fip, floating_ip_address]}
  server_id:
    value: {get_resource: server}
`;
    let stackId: string;
    let serverId: string;

    it('when a stack is created from a YAML string, then 201, CREATE_COMPLETE, a real server and live outputs', async () => {
      const r = await demo.heat('POST', '/stacks', { stack_name: 'web', template: TEMPLATE, parameters: { key_name: 'web-key' }, timeout_mins: 10 });
      assert.equal(r.status, 201, r.text);
      stackId = r.body.stack.id;
      const self = r.body.stack.links[0].href;
      assert.equal(self, `${sim.url}/heat-api/v1/${demo.projectId}/stacks/web/${stackId}`);
      assert.equal(r.headers.get('location'), self);
      const dup = await demo.heat('POST', '/stacks', { stack_name: 'web', template: TEMPLATE, parameters: { key_name: 'other' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.type, 'StackExists');

      const stack = await waitStack(demo, 'web', 'CREATE_COMPLETE');
      assert.equal(stack.stack_status_reason, 'Stack CREATE completed successfully');
      assert.equal(stack.parameters.key_name, 'web-key');
      assert.equal(stack.parameters['OS::stack_id'], stackId);
      const outputs = Object.fromEntries(stack.outputs.map((o: J) => [o.output_key, o.output_value]));
      serverId = outputs.server_id;
      const server = (await demo.compute('GET', `/servers/${serverId}`)).body.server;
      assert.equal(server.status, 'ACTIVE');
      assert.equal(server.key_name, 'web-key');
      assert.deepEqual(server.metadata, { owner: 'vmflow' });
      const fixed = server.addresses.private.find((a: J) => a['OS-EXT-IPS:type'] === 'fixed');
      const floating = server.addresses.private.find((a: J) => a['OS-EXT-IPS:type'] === 'floating');
      assert.equal(outputs.server_ip, fixed.addr);
      assert.equal(outputs.floating_ip, floating.addr);
      const raw = (await admin('GET', `/servers/${serverId}`)).body;
      assert.ok(raw.userDataDecoded.startsWith('#cloud-config\n'), raw.userDataDecoded);
      assert.match(raw.userDataDecoded, /packages:\n\s*- vim\n\s*- ftp/);
    });

    it('when a stack is fetched by name, then 302 to the canonical URL; by id too', async () => {
      const byName = await demo.heat('GET', '/stacks/web', undefined, { redirect: 'manual' });
      assert.equal(byName.status, 302);
      assert.equal(byName.headers.get('location'), `${sim.url}/heat-api/v1/${demo.projectId}/stacks/web/${stackId}`);
      const byId = await demo.heat('GET', `/stacks/${stackId}`, undefined, { redirect: 'manual' });
      assert.equal(byId.headers.get('location'), byName.headers.get('location'));
      const list = await demo.heat('GET', '/stacks');
      assert.deepEqual(list.body.stacks.map((s: J) => s.stack_name), ['web']);
      const missing = await demo.heat('GET', '/stacks/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.type, 'EntityNotFound');
    });

    it('when resources and events are listed, then they carry physical ids and the stack-level completion event', async () => {
      const res = await demo.heat('GET', `/stacks/web/${stackId}/resources`);
      const byName = Object.fromEntries(res.body.resources.map((x: J) => [x.resource_name, x]));
      assert.equal(byName.server.physical_resource_id, serverId);
      assert.equal(byName.server.resource_status, 'CREATE_COMPLETE');
      assert.equal(byName.key.physical_resource_id, 'web-key');
      assert.deepEqual(byName.port.required_by.sort(), ['fip', 'server']);
      const detail = await demo.heat('GET', `/stacks/web/${stackId}/resources/server`);
      assert.equal(detail.body.resource.attributes.name, (await demo.compute('GET', `/servers/${serverId}`)).body.server.name);
      // As python-heatclient polls: by name, sort_dir=asc, then with a marker.
      const events = await demo.heat('GET', '/stacks/web/events?sort_dir=asc');
      assert.equal(events.status, 200);
      const list = events.body.events;
      assert.equal(list[0].resource_name, 'web');
      assert.equal(list[0].resource_status, 'CREATE_IN_PROGRESS');
      const last = list[list.length - 1];
      assert.deepEqual([last.resource_name, last.resource_status, last.physical_resource_id], ['web', 'CREATE_COMPLETE', stackId]);
      assert.ok(list.some((e: J) => e.resource_name === 'server' && e.resource_status === 'CREATE_COMPLETE'));
      const afterMarker = await demo.heat('GET', `/stacks/web/${stackId}/events?sort_dir=asc&marker=${list[list.length - 2].id}`);
      assert.deepEqual(afterMarker.body.events.map((e: J) => e.id), [last.id]);
      const outputs = await demo.heat('GET', `/stacks/web/${stackId}/outputs/server_ip`);
      assert.equal(outputs.body.output.output_key, 'server_ip');
    });

    it('when PATCH changes only the flavor, then the server is resized in place and omitted parameters are kept', async () => {
      const r = await demo.heat('PATCH', `/stacks/web/${stackId}`, { parameters: { flavor: 'm1.medium' } });
      assert.equal(r.status, 202, r.text);
      const stack = await waitStack(demo, 'web', 'UPDATE_COMPLETE');
      assert.equal(stack.parameters.key_name, 'web-key');
      assert.equal(stack.parameters.flavor, 'm1.medium');
      const server = (await demo.compute('GET', `/servers/${serverId}`)).body.server;
      assert.equal(server.status, 'ACTIVE');
      assert.equal(server.flavor.original_name, 'm1.medium');
    });

    it('when PUT changes the cloud-config, then the server is replaced and the old one deleted', async () => {
      const r = await demo.heat('PUT', `/stacks/web/${stackId}`, { template: TEMPLATE, parameters: { key_name: 'web-key', flavor: 'm1.medium', packages: 'vim,synaptic' } });
      assert.equal(r.status, 202, r.text);
      const stack = await waitStack(demo, 'web', 'UPDATE_COMPLETE');
      const newId = stack.outputs.find((o: J) => o.output_key === 'server_id').output_value;
      assert.notEqual(newId, serverId);
      assert.equal((await demo.compute('GET', `/servers/${serverId}`)).status, 404);
      const raw = (await admin('GET', `/servers/${newId}`)).body;
      assert.match(raw.userDataDecoded, /- synaptic/);
      serverId = newId;
      const busy = await demo.heat('PUT', `/stacks/web/${stackId}`, {});
      assert.equal(busy.status, 400, 'PUT without a template is refused');
    });

    it('when the stack is deleted, then DELETE_COMPLETE, its server, port, floating IP and key pair are gone, and it stays visible by id', async () => {
      const before = sim.state();
      assert.equal((await demo.heat('DELETE', `/stacks/web/${stackId}`)).status, 204);
      await eventually('DELETE_COMPLETE', async () => {
        const r = await demo.heat('GET', `/stacks/web/${stackId}`);
        return r.body.stack.stack_status === 'DELETE_COMPLETE';
      });
      assert.equal((await demo.compute('GET', `/servers/${serverId}`)).status, 404);
      assert.equal((await demo.compute('GET', '/os-keypairs/web-key')).status, 404);
      const after = sim.state();
      assert.equal(after.ports.total, before.ports.total - 1);
      assert.equal(after.floatingIps.total, before.floatingIps.total - 1);
      const byId = await demo.heat('GET', `/stacks/${stackId}`);
      assert.equal(byId.body.stack.stack_status, 'DELETE_COMPLETE');
      assert.equal((await demo.heat('GET', '/stacks/web')).status, 404);
      assert.deepEqual((await demo.heat('GET', '/stacks')).body.stacks, []);
      assert.equal((await demo.heat('DELETE', `/stacks/web/${stackId}`)).status, 404);
    });

    it('when an update that replaces the server fails, then the old server stays the stack\'s and goes with the stack (never orphaned)', async () => {
      const r = await demo.heat('POST', '/stacks', { stack_name: 'web-replace', template: TEMPLATE, parameters: { key_name: 'replace-key' } });
      assert.equal(r.status, 201, r.text);
      const id = r.body.stack.id as string;
      const created = await waitStack(demo, 'web-replace', 'CREATE_COMPLETE');
      const oldServer = created.outputs.find((o: J) => o.output_key === 'server_id').output_value as string;
      // New user data makes Heat replace the server; with the instance quota used up the replacement cannot be made.
      const used = (await demo.compute('GET', '/servers')).body.servers.length as number;
      await admin('PATCH', '/quotas', { project: 'demo', instances: used });
      try {
        assert.equal((await demo.heat('PATCH', `/stacks/web-replace/${id}`, { parameters: { packages: 'vim' } })).status, 202);
        await waitStack(demo, 'web-replace', 'UPDATE_FAILED');
      } finally {
        await admin('PATCH', '/quotas', { project: 'demo', instances: 10 });
      }
      assert.equal((await demo.compute('GET', `/servers/${oldServer}`)).status, 200, 'the old server is still there');
      assert.equal((await demo.heat('DELETE', `/stacks/web-replace/${id}`)).status, 204);
      await eventually('DELETE_COMPLETE', async () => ((await demo.heat('GET', `/stacks/${id}`)).body.stack.stack_status === 'DELETE_COMPLETE' ? true : undefined));
      assert.equal((await demo.compute('GET', `/servers/${oldServer}`)).status, 404, 'deleted with its stack');
      assert.equal((await demo.compute('GET', '/servers')).body.servers.length, used - 1, 'no server of the stack is left');
    });

    it('when the template or parameters are invalid, then 400 with the Heat error body', async () => {
      const cases: [unknown, string, RegExp][] = [
        [{ stack_name: 'bad1', template: 'heat_template_version: 2099-01-01\nresources: {}' }, 'InvalidTemplateVersion', /is not valid heat_template_version/],
        [{ stack_name: 'bad2', template: { heat_template_version: '2018-08-31', resources: { x: { type: 'OS::Fake::Thing' } } } }, 'StackValidationFailed', /The Resource Type \(OS::Fake::Thing\) could not be found/],
        [{ stack_name: 'bad3', template: TEMPLATE }, 'UserParameterMissing', /The Parameter \(key_name\) was not provided/],
        [
          { stack_name: 'bad4', template: { heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Nova::Server', properties: { image: 'x', flavor: 'm1.tiny', networks: [{ port: { get_resource: 'p' } }] } } } } },
          'InvalidTemplateReference',
          /The specified reference "p"/,
        ],
        [{ stack_name: 'bad5', template: { heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Nova::Server', properties: { flavor: 'm1.tiny' } } } } }, 'StackValidationFailed', /Property image not assigned/],
        [{ stack_name: '9bad', template: TEMPLATE, parameters: { key_name: 'k' } }, 'StackValidationFailed', /Invalid stack name 9bad/],
      ];
      for (const [body, type, message] of cases) {
        const r = await demo.heat('POST', '/stacks', body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.code, 400);
        assert.equal(r.body.title, 'Bad Request');
        assert.match(r.body.explanation, /malformed or otherwise incorrect/);
        assert.equal(r.body.error.type, type, r.text);
        assert.match(r.body.error.message, message);
        assert.ok('traceback' in r.body.error);
      }
      assert.equal(sim.state().stacks.items.filter((s) => s.name.startsWith('bad')).length, 0);
    });

    it('when a server cannot be built or its image does not exist, then CREATE_FAILED with the reason; rollback cleans up', async () => {
      const tpl = (image: string, name: string) => ({
        heat_template_version: '2018-08-31',
        resources: {
          port: { type: 'OS::Neutron::Port', properties: { network: 'private' } },
          vm: { type: 'OS::Nova::Server', properties: { name, image, flavor: 'm1.tiny', networks: [{ port: { get_resource: 'port' } }] } },
        },
      });
      assert.equal((await demo.heat('POST', '/stacks', { stack_name: 'noimage', template: tpl('no-such-image', 'a') })).status, 201);
      const failed = await waitStack(demo, 'noimage', 'CREATE_FAILED');
      assert.match(failed.stack_status_reason, /^Resource CREATE failed: StackValidationFailed: resources\.vm: .*No images matching \{'name': 'no-such-image'\}/);

      await admin('POST', '/build-failures', { count: 1, namePattern: '^doomed-' });
      assert.equal((await demo.heat('POST', '/stacks', { stack_name: 'nohost', template: tpl('ubuntu-22.04', 'doomed-vm') })).status, 201);
      const err = await waitStack(demo, 'nohost', 'CREATE_FAILED');
      assert.match(err.stack_status_reason, /ResourceInError: resources\.vm: Went to status ERROR due to "Message: No valid host was found/);

      const ports = sim.state().ports.total;
      await admin('POST', '/build-failures', { count: 1, namePattern: '^rolled-' });
      assert.equal((await demo.heat('POST', '/stacks', { stack_name: 'rolled', template: tpl('ubuntu-22.04', 'rolled-vm'), disable_rollback: false })).status, 201);
      await waitStack(demo, 'rolled', 'ROLLBACK_COMPLETE');
      assert.equal(sim.state().ports.total, ports);
      for (const name of ['noimage', 'nohost', 'rolled']) await demo.heat('DELETE', `/stacks/${name}`);
    });
  });

  describe('Neutron', () => {
    it('when networks are listed, then the private tenant network and the external public network are there', async () => {
      const nets = (await demo.network('GET', '/networks')).body.networks;
      const priv = nets.find((n: J) => n.name === 'private');
      const pub = nets.find((n: J) => n.name === 'public');
      assert.equal(priv['router:external'], false);
      assert.equal(pub['router:external'], true);
      const filtered = await demo.network('GET', '/networks?name=public');
      assert.deepEqual(filtered.body.networks.map((n: J) => n.id), [pub.id]);
      const subnet = (await demo.network('GET', `/subnets/${priv.subnets[0]}`)).body.subnet;
      assert.equal(subnet.cidr, '10.0.0.0/24');
      const sgs = await demo.network('GET', '/security-groups');
      assert.ok(sgs.body.security_groups.some((g: J) => g.name === 'default'));
      const missing = await demo.network('GET', `/networks/${crypto.randomUUID()}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.NeutronError.type, 'NetworkNotFound');
    });

    it('when the simulator is started with a bigger private network, then its subnet and allocation pool span it (benchmarks make hundreds of VMs)', async () => {
      const big = await startOpenStackSimulator({ port: 0, privatePrefixLength: 16 });
      try {
        const token = (await call('POST', `${big.authUrl}/auth/tokens`, { json: authBody('demo', 'demo-secret', 'demo') })).headers.get('x-subject-token')!;
        const nets = (await call('GET', `${big.url}/networking/v2.0/networks?name=private`, { token })).body.networks;
        const subnet = (await call('GET', `${big.url}/networking/v2.0/subnets/${nets[0].subnets[0]}`, { token })).body.subnet;
        assert.equal(subnet.cidr, '10.0.0.0/16');
        assert.deepEqual(subnet.allocation_pools, [{ start: '10.0.0.2', end: '10.0.255.254' }]);
      } finally {
        await big.stop();
      }
    });

    it('when a floating IP is associated and disassociated, then the server addresses follow', async () => {
      const priv = (await demo.network('GET', '/networks?name=private')).body.networks[0];
      const pub = (await demo.network('GET', '/networks?name=public')).body.networks[0];
      const port = (await demo.network('POST', '/ports', { port: { network_id: priv.id, name: 'mine' } })).body.port;
      assert.equal(port.fixed_ips.length, 1);
      const id = await createServer(demo, 'fip-vm', { networks: [{ port: port.id }] });
      await waitStatus(demo, id, 'ACTIVE');
      assert.equal((await demo.network('GET', `/ports/${port.id}`)).body.port.device_id, id);

      const fip = (await demo.network('POST', '/floatingips', { floatingip: { floating_network_id: pub.id } })).body.floatingip;
      assert.match(fip.floating_ip_address, /^172\.24\.4\.\d+$/);
      assert.equal(fip.status, 'DOWN');
      const assoc = await demo.network('PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: port.id } });
      assert.equal(assoc.status, 200);
      assert.equal(assoc.body.floatingip.fixed_ip_address, port.fixed_ips[0].ip_address);
      assert.equal(assoc.body.floatingip.status, 'ACTIVE');
      const withFip = (await demo.compute('GET', `/servers/${id}`)).body.server.addresses.private;
      assert.deepEqual(
        withFip.map((a: J) => [a.addr, a['OS-EXT-IPS:type']]),
        [
          [port.fixed_ips[0].ip_address, 'fixed'],
          [fip.floating_ip_address, 'floating'],
        ],
      );
      const byPort = await demo.network('GET', `/floatingips?port_id=${port.id}`);
      assert.deepEqual(byPort.body.floatingips.map((f: J) => f.id), [fip.id]);
      const onExternal = await demo.network('POST', '/floatingips', { floatingip: { floating_network_id: priv.id } });
      assert.equal(onExternal.status, 400);

      await demo.network('PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: null } });
      const without = (await demo.compute('GET', `/servers/${id}`)).body.server.addresses.private;
      assert.deepEqual(without.map((a: J) => a['OS-EXT-IPS:type']), ['fixed']);
      assert.equal((await demo.network('DELETE', `/floatingips/${fip.id}`)).status, 204);
      assert.equal((await demo.network('GET', `/floatingips/${fip.id}`)).status, 404);

      await demo.compute('DELETE', `/servers/${id}`);
      await eventually('server gone', async () => (await demo.compute('GET', `/servers/${id}`)).status === 404);
      const unbound = (await demo.network('GET', `/ports/${port.id}`)).body.port;
      assert.equal(unbound.device_id, '', 'a port the user made survives the server, unbound');
      assert.equal((await demo.network('DELETE', `/ports/${port.id}`)).status, 204);
    });
  });

  describe('Neutron: networks, subnets and routers of a project', () => {
    it('when a network, subnet and router are made and a server boots on the network, then it gets an address from the subnet and deletes in the wrong order are refused', async () => {
      const carol = await login('carol');
      const pub = (await carol.network('GET', '/networks?name=public')).body.networks[0];
      const n = await carol.network('POST', '/networks', { network: { name: 'env-a', admin_state_up: true } });
      assert.equal(n.status, 201, n.text);
      const netId = n.body.network.id;
      assert.equal(n.body.network.project_id, carol.projectId);
      assert.equal(n.body.network.status, 'ACTIVE');
      assert.equal(n.body.network.shared, false);
      assert.equal(n.body.network['router:external'], false);
      assert.deepEqual(n.body.network.subnets, []);
      const noSubnet = await carol.compute('POST', '/servers', { server: { name: 'early', flavorRef: '1', imageRef: ubuntuId, networks: [{ uuid: netId }] } });
      assert.equal(noSubnet.status, 400);
      assert.match(noSubnet.body.badRequest.message, /requires a subnet/);

      const sn = await carol.network('POST', '/subnets', { subnet: { network_id: netId, ip_version: 4, cidr: '10.20.0.0/24', name: 'env-a-subnet', dns_nameservers: ['8.8.8.8'] } });
      assert.equal(sn.status, 201, sn.text);
      const subnetId = sn.body.subnet.id;
      assert.equal(sn.body.subnet.gateway_ip, '10.20.0.1');
      assert.deepEqual(sn.body.subnet.allocation_pools, [{ start: '10.20.0.2', end: '10.20.0.254' }]);
      assert.deepEqual(sn.body.subnet.dns_nameservers, ['8.8.8.8']);
      assert.equal(sn.body.subnet.ip_version, 4);
      assert.deepEqual((await carol.network('GET', `/networks/${netId}`)).body.network.subnets, [subnetId]);

      const subnetErr = async (subnet: Record<string, unknown>, status: number, type: string, message?: RegExp) => {
        const r = await carol.network('POST', '/subnets', { subnet: { network_id: netId, ip_version: 4, ...subnet } });
        assert.equal(r.status, status, `${JSON.stringify(subnet)}: ${r.text}`);
        assert.equal(r.body.NeutronError.type, type, r.text);
        if (message) assert.match(r.body.NeutronError.message, message);
      };
      await subnetErr({ cidr: '10.21.0.0/33' }, 400, 'HTTPBadRequest', /not a valid IP subnet/);
      await subnetErr({ cidr: 'ten-dot-twenty' }, 400, 'HTTPBadRequest', /not a valid IP subnet/);
      await subnetErr({ cidr: '10.20.0.128/25' }, 400, 'InvalidInput', /overlaps with another subnet/);
      await subnetErr({ cidr: '10.21.0.0/24', gateway_ip: '10.22.0.1' }, 400, 'InvalidInput', /Gateway is not valid/);
      await subnetErr({ cidr: '10.21.0.0/24', allocation_pools: [{ start: '10.21.0.10', end: '10.21.1.5' }] }, 400, 'OutOfBoundsAllocationPool', /spans beyond the subnet cidr 10\.21\.0\.0\/24/);
      await subnetErr({ cidr: '10.21.0.0/24', gateway_ip: '10.21.0.20', allocation_pools: [{ start: '10.21.0.10', end: '10.21.0.30' }] }, 409, 'GatewayConflictWithAllocationPools');
      await subnetErr({ cidr: '10.21.0.0/24', dns_nameservers: ['dns.example'] }, 400, 'HTTPBadRequest');
      const noVersion = await carol.network('POST', '/subnets', { subnet: { network_id: netId, cidr: '10.21.0.0/24' } });
      assert.equal(noVersion.status, 400);
      assert.match(noVersion.body.NeutronError.message, /ip_version/);
      const unknown = await carol.network('POST', '/subnets', { subnet: { network_id: netId, ip_version: 4, cidr: '10.21.0.0/24', colour: 'blue' } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.NeutronError.message, /Unrecognized attribute\(s\) 'colour'/);
      const onShared = await carol.network('POST', '/subnets', { subnet: { network_id: (await carol.network('GET', '/networks?name=private')).body.networks[0].id, ip_version: 4, cidr: '10.99.0.0/24' } });
      assert.equal(onShared.status, 403, 'a subnet on another project\'s (shared) network needs admin');

      const rt = await carol.network('POST', '/routers', { router: { name: 'env-a-router', external_gateway_info: { network_id: pub.id } } });
      assert.equal(rt.status, 201, rt.text);
      const routerId = rt.body.router.id;
      assert.equal(rt.body.router.status, 'ACTIVE');
      assert.equal(rt.body.router.external_gateway_info.network_id, pub.id);
      assert.match(rt.body.router.external_gateway_info.external_fixed_ips[0].ip_address, /^172\.24\.4\.\d+$/);
      const badGateway = await carol.network('POST', '/routers', { router: { name: 'bad', external_gateway_info: { network_id: netId } } });
      assert.equal(badGateway.status, 400);
      assert.match(badGateway.body.NeutronError.message, /is not an external network/);
      const add = await carol.network('PUT', `/routers/${routerId}/add_router_interface`, { subnet_id: subnetId });
      assert.equal(add.status, 200, add.text);
      assert.equal(add.body.id, routerId);
      assert.equal(add.body.subnet_id, subnetId);
      assert.equal(add.body.network_id, netId);
      const again = await carol.network('PUT', `/routers/${routerId}/add_router_interface`, { subnet_id: subnetId });
      assert.equal(again.status, 400);
      assert.match(again.body.NeutronError.message, /already has a port on subnet/);
      const iface = (await carol.network('GET', `/ports/${add.body.port_id}`)).body.port;
      assert.equal(iface.device_owner, 'network:router_interface');
      assert.equal(iface.device_id, routerId);
      assert.deepEqual(iface.fixed_ips, [{ subnet_id: subnetId, ip_address: '10.20.0.1' }]);
      const direct = await carol.network('DELETE', `/ports/${iface.id}`);
      assert.equal(direct.status, 409);
      assert.equal(direct.body.NeutronError.type, 'L3PortInUse');
      assert.deepEqual((await carol.network('GET', `/routers?name=env-a-router`)).body.routers.map((x: J) => x.id), [routerId]);

      const id = await createServer(carol, 'env-a-vm', { networks: [{ uuid: netId }] });
      const server = await waitStatus(carol, id, 'ACTIVE');
      const addr = server.addresses['env-a'][0].addr;
      assert.match(addr, /^10\.20\.0\.\d+$/);
      assert.notEqual(addr, '10.20.0.1', 'the gateway is the router\'s');

      const netDel = await carol.network('DELETE', `/networks/${netId}`);
      assert.equal(netDel.status, 409);
      assert.equal(netDel.body.NeutronError.type, 'NetworkInUse');
      const subDel = await carol.network('DELETE', `/subnets/${subnetId}`);
      assert.equal(subDel.status, 409);
      assert.equal(subDel.body.NeutronError.type, 'SubnetInUse');
      const rtDel = await carol.network('DELETE', `/routers/${routerId}`);
      assert.equal(rtDel.status, 409);
      assert.equal(rtDel.body.NeutronError.type, 'RouterInUse');

      // A floating IP reaches the server through the project's router.
      const port = (await carol.network('GET', `/ports?device_id=${id}`)).body.ports[0];
      const fip = await carol.network('POST', '/floatingips', { floatingip: { floating_network_id: pub.id, port_id: port.id } });
      assert.equal(fip.status, 201, fip.text);
      assert.equal(fip.body.floatingip.router_id, routerId);
      const busy = await carol.network('PUT', `/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId });
      assert.equal(busy.status, 409);
      assert.equal(busy.body.NeutronError.type, 'RouterInterfaceInUseByFloatingIP');
      const ungate = await carol.network('PUT', `/routers/${routerId}`, { router: { external_gateway_info: null } });
      assert.equal(ungate.status, 409);
      assert.equal(ungate.body.NeutronError.type, 'RouterExternalGatewayInUseByFloatingIp');
      assert.equal((await carol.network('DELETE', `/floatingips/${fip.body.floatingip.id}`)).status, 204);

      // The right order: server, interface, router, network (its subnet goes with it).
      assert.equal((await carol.compute('DELETE', `/servers/${id}`)).status, 204);
      await eventually('server gone', async () => (await carol.compute('GET', `/servers/${id}`)).status === 404);
      const rm = await carol.network('PUT', `/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId });
      assert.equal(rm.status, 200, rm.text);
      assert.equal(rm.body.port_id, iface.id);
      assert.equal((await carol.network('GET', `/ports/${iface.id}`)).status, 404);
      const rmAgain = await carol.network('PUT', `/routers/${routerId}/remove_router_interface`, { subnet_id: subnetId });
      assert.equal(rmAgain.status, 404);
      assert.equal(rmAgain.body.NeutronError.type, 'RouterInterfaceNotFoundForSubnet');
      assert.equal((await carol.network('DELETE', `/routers/${routerId}`)).status, 204);
      assert.equal((await carol.network('GET', `/routers/${routerId}`)).status, 404);
      assert.equal((await carol.network('DELETE', `/networks/${netId}`)).status, 204);
      assert.equal((await carol.network('GET', `/subnets/${subnetId}`)).status, 404);
      assert.equal((await carol.network('GET', `/networks/${netId}`)).status, 404);
      assert.equal((await carol.network('DELETE', `/networks/${netId}`)).status, 404);
    });

    it('when a port on a network without a router to the external network gets a floating IP, then 404 ExternalGatewayForFloatingIPNotFound', async () => {
      const carol = await login('carol');
      const pub = (await carol.network('GET', '/networks?name=public')).body.networks[0];
      const netId = (await carol.network('POST', '/networks', { network: { name: 'isolated' } })).body.network.id;
      assert.equal((await carol.network('POST', '/subnets', { subnet: { network_id: netId, ip_version: 4, cidr: '10.40.0.0/24', gateway_ip: null } })).body.subnet.gateway_ip, null);
      const port = (await carol.network('POST', '/ports', { port: { network_id: netId } })).body.port;
      assert.match(port.fixed_ips[0].ip_address, /^10\.40\.0\./);
      const fip = await carol.network('POST', '/floatingips', { floatingip: { floating_network_id: pub.id, port_id: port.id } });
      assert.equal(fip.status, 404);
      assert.equal(fip.body.NeutronError.type, 'ExternalGatewayForFloatingIPNotFound');
      const rt = (await carol.network('POST', '/routers', { router: { name: 'r' } })).body.router;
      const noGateway = await carol.network('PUT', `/routers/${rt.id}/add_router_interface`, { subnet_id: port.fixed_ips[0].subnet_id });
      assert.equal(noGateway.status, 400, 'a subnet without gateway cannot be a router interface');
      assert.equal((await carol.network('DELETE', `/routers/${rt.id}`)).status, 204);
      assert.equal((await carol.network('DELETE', `/ports/${port.id}`)).status, 204);
      assert.equal((await carol.network('DELETE', `/networks/${netId}`)).status, 204);
    });

    it('when network quotas are read and set, then Neutron and Nova answer as `openstack quota show` expects and creates beyond the limit are 409 OverQuota', async () => {
      const carol = await login('carol');
      const adminS = await login('admin');
      const q = await carol.network('GET', `/quotas/${carol.projectId}`);
      assert.equal(q.status, 200, q.text);
      assert.equal(q.body.quota.network, 100);
      assert.equal(q.body.quota.router, 10);
      assert.equal((await carol.network('GET', `/quotas/${demo.projectId}`)).status, 403);
      assert.equal((await carol.network('PUT', `/quotas/${carol.projectId}`, { quota: { network: 1 } })).status, 403);
      const set = await adminS.network('PUT', `/quotas/${carol.projectId}`, { quota: { network: 1 } });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.body.quota.network, 1);
      assert.equal((await adminS.network('PUT', `/quotas/${carol.projectId}`, { quota: { network: -2 } })).status, 400);
      const first = await carol.network('POST', '/networks', { network: { name: 'q1' } });
      assert.equal(first.status, 201);
      const second = await carol.network('POST', '/networks', { network: { name: 'q2' } });
      assert.equal(second.status, 409);
      assert.equal(second.body.NeutronError.type, 'OverQuota');
      assert.match(second.body.NeutronError.message, /Quota exceeded for resources: \['network'\]/);
      const details = await carol.network('GET', `/quotas/${carol.projectId}/details`);
      assert.deepEqual(details.body.quota.network, { limit: 1, used: 1, reserved: 0 });
      assert.equal((await carol.network('GET', `/quotas/${carol.projectId}/default`)).body.quota.network, 100);
      const listed = await adminS.network('GET', '/quotas');
      assert.ok(listed.body.quotas.some((x: J) => x.project_id === carol.projectId && x.network === 1));
      const sharedNet = await carol.network('POST', '/networks', { network: { name: 'mine-for-all', shared: true } });
      assert.equal(sharedNet.status, 403);
      assert.equal(sharedNet.body.NeutronError.type, 'PolicyNotAuthorized');

      // With a network of its own besides the shared one, "auto" is ambiguous, as in Nova.
      assert.equal((await carol.network('POST', '/subnets', { subnet: { network_id: first.body.network.id, ip_version: 4, cidr: '10.50.0.0/24' } })).status, 201);
      const amb = await carol.compute('POST', '/servers', { server: { name: 'amb', flavorRef: '1', imageRef: ubuntuId, networks: 'auto' } });
      assert.equal(amb.status, 409);
      assert.match(amb.body.conflictingRequest.message, /Multiple possible networks found/);
      assert.equal((await carol.network('DELETE', `/networks/${first.body.network.id}`)).status, 204);
      assert.equal((await adminS.network('DELETE', `/quotas/${carol.projectId}`)).status, 204);
      assert.equal((await carol.network('GET', `/quotas/${carol.projectId}`)).body.quota.network, 100);

      const nova = await carol.compute('GET', `/os-quota-sets/${carol.projectId}/detail`);
      assert.equal(nova.status, 200, nova.text);
      assert.equal(nova.body.quota_set.instances.limit, 10);
      assert.equal(typeof nova.body.quota_set.instances.in_use, 'number');
      assert.equal((await carol.compute('GET', `/os-quota-sets/${carol.projectId}/defaults`)).body.quota_set.cores, 20);
      assert.equal((await carol.compute('GET', `/os-quota-sets/${demo.projectId}/detail`)).status, 403);
    });

    it('when availability zones are listed, then Nova and Neutron name the nova zone; the detailed list is for admins', async () => {
      const carol = await login('carol');
      const adminS = await login('admin');
      assert.deepEqual((await carol.compute('GET', '/os-availability-zone')).body.availabilityZoneInfo.map((z: J) => [z.zoneName, z.zoneState.available]), [['nova', true]]);
      assert.equal((await carol.compute('GET', '/os-availability-zone/detail')).status, 403);
      const detail = (await adminS.compute('GET', '/os-availability-zone/detail')).body.availabilityZoneInfo;
      assert.ok(detail.find((z: J) => z.zoneName === 'nova').hosts['sim-compute-1']['nova-compute'].available);
      const net = await carol.network('GET', '/availability_zones');
      assert.deepEqual(net.body.availability_zones.map((z: J) => `${z.name}/${z.resource}/${z.state}`).sort(), ['nova/network/available', 'nova/router/available']);
    });

    it('when a Heat stack has a net, subnet, router, interface, a server on the net and a floating IP, then they are made in dependency order and all deleted with the stack', async () => {
      const carol = await login('carol');
      const before = (await admin('GET', '/state')).body;
      const template = {
        heat_template_version: '2018-08-31',
        resources: {
          net: { type: 'OS::Neutron::Net', properties: { name: 'heat-env' } },
          subnet: { type: 'OS::Neutron::Subnet', properties: { network: { get_resource: 'net' }, cidr: '10.30.0.0/24', dns_nameservers: ['8.8.8.8'] } },
          router: { type: 'OS::Neutron::Router', properties: { external_gateway_info: { network: 'public' } } },
          iface: { type: 'OS::Neutron::RouterInterface', properties: { router: { get_resource: 'router' }, subnet: { get_resource: 'subnet' } } },
          port: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' } } },
          web: { type: 'OS::Nova::Server', properties: { image: 'ubuntu-24.04', flavor: 'm1.tiny', networks: [{ port: { get_resource: 'port' } }], user_data_format: 'RAW' } },
          db: { type: 'OS::Nova::Server', properties: { image: 'ubuntu-24.04', flavor: 'm1.tiny', networks: [{ network: { get_resource: 'net' } }], user_data_format: 'RAW' } },
          fip: { type: 'OS::Neutron::FloatingIP', properties: { floating_network: 'public', port_id: { get_resource: 'port' } } },
        },
        outputs: {
          web_ip: { value: { get_attr: ['web', 'first_address'] } },
          db_ip: { value: { get_attr: ['db', 'first_address'] } },
          subnets: { value: { get_attr: ['net', 'subnets'] } },
          gateway: { value: { get_attr: ['subnet', 'gateway_ip'] } },
          fip: { value: { get_attr: ['fip', 'floating_ip_address'] } },
          router_gw: { value: { get_attr: ['router', 'external_gateway_info', 'network_id'] } },
        },
      };
      const r = await carol.heat('POST', '/stacks', { stack_name: 'env-net', template });
      assert.equal(r.status, 201, r.text);
      const stack = await waitStack(carol, 'env-net', 'CREATE_COMPLETE');
      const out = Object.fromEntries(stack.outputs.map((o: J) => [o.output_key, o.output_value]));
      assert.match(out.web_ip, /^10\.30\.0\.\d+$/);
      assert.match(out.db_ip, /^10\.30\.0\.\d+$/);
      assert.equal(out.gateway, '10.30.0.1');
      assert.equal(out.subnets.length, 1);
      assert.match(out.fip, /^172\.24\.4\.\d+$/);
      const pub = (await carol.network('GET', '/networks?name=public')).body.networks[0];
      assert.equal(out.router_gw, pub.id);
      const mid = (await admin('GET', '/state')).body;
      assert.equal(mid.networks.total, before.networks.total + 1);
      assert.equal(mid.subnets.total, before.subnets.total + 1);
      assert.equal(mid.routers.total, before.routers.total + 1);
      assert.equal(mid.routers.items.find((x: J) => x.projectId === carol.projectId).interfaces, 1);

      assert.equal((await carol.heat('DELETE', `/stacks/env-net/${stack.id}`)).status, 204);
      await waitStack(carol, `env-net/${stack.id}`, 'DELETE_COMPLETE');
      const after = (await admin('GET', '/state')).body;
      for (const k of ['networks', 'subnets', 'routers', 'ports', 'floatingIps', 'servers']) assert.equal(after[k].total, before[k].total, `${k} after the stack is deleted`);
    });
  });

  describe('tenant isolation', () => {
    it("when another project's server, image and stack are asked for, then they are invisible; public images are shared", async () => {
      const alice = await login('alice');
      const sid = await createServer(alice, 'alice-private');
      const img = (await alice.image('POST', '/images', { name: 'alice-img', disk_format: 'raw', container_format: 'bare' })).body;
      const st = await alice.heat('POST', '/stacks', { stack_name: 'alice-stack', template: { heat_template_version: '2018-08-31', resources: {} } });
      assert.equal(st.status, 201);
      assert.equal((await demo.compute('GET', `/servers/${sid}`)).status, 404);
      assert.ok(!(await demo.compute('GET', '/servers')).body.servers.some((s: J) => s.id === sid));
      assert.equal((await demo.image('GET', `/images/${img.id}`)).status, 404);
      assert.ok(!(await demo.image('GET', '/images?limit=1000')).body.images.some((i: J) => i.id === img.id));
      assert.equal((await alice.image('GET', `/images/${ubuntuId}`)).status, 200);
      const foreignTenant = await call('GET', `${sim.url}/heat-api/v1/${alice.projectId}/stacks`, { token: demo.token });
      assert.equal(foreignTenant.status, 403);
      assert.ok(!(await demo.heat('GET', '/stacks')).body.stacks.some((s: J) => s.stack_name === 'alice-stack'));
      const adminSession = await login('admin');
      assert.equal((await adminSession.compute('GET', `/servers/${sid}`)).status, 200, 'admins see every project');
      assert.ok(!(await adminSession.compute('GET', '/servers')).body.servers.some((s: J) => s.id === sid), 'without all_tenants admins list their own');
      assert.ok((await adminSession.compute('GET', '/servers?all_tenants=1')).body.servers.some((s: J) => s.id === sid));
    });
  });

  describe('fault injection', () => {
    it('when an error fault has a count, then exactly that many matching requests fail in the service shape', async () => {
      const f = await admin('POST', '/faults', { service: 'compute', method: 'GET', path: '/servers/detail$', status: 500, count: 2 });
      assert.equal(f.status, 201);
      const a = await demo.compute('GET', '/servers/detail');
      const b = await demo.compute('GET', '/servers/detail');
      const c = await demo.compute('GET', '/servers/detail');
      assert.deepEqual([a.status, b.status, c.status], [500, 500, 200]);
      assert.equal(a.body.computeFault.code, 500);
      assert.equal((await demo.compute('GET', '/flavors')).status, 200, 'other paths are untouched');
      assert.deepEqual((await admin('GET', '/faults')).body.faults, []);
      await admin('POST', '/faults', { service: 'image', status: 503 });
      const g = await demo.image('GET', '/images');
      assert.equal(g.status, 503);
      assert.equal(g.body.code, '503 Service Unavailable');
      await admin('POST', '/faults', { service: 'orchestration', status: 500 });
      assert.equal((await demo.heat('GET', '/stacks')).body.error.type, 'HTTPInternalServerError');
      await admin('POST', '/faults', { service: 'network', status: 503, rate: 0 });
      assert.equal((await demo.network('GET', '/networks')).status, 200, 'rate 0 never fires');
      const bad = await admin('POST', '/faults', { service: 'nova' });
      assert.equal(bad.status, 400);
    });

    it('when a 429 fault carries retryAfter, then Retry-After and overLimit.retryAfter are set', async () => {
      await admin('POST', '/faults', { service: 'compute', path: '/servers$', method: 'POST', status: 429, retryAfter: 7, count: 1 });
      const r = await demo.compute('POST', '/servers', { server: { name: 'limited', flavorRef: '1', imageRef: ubuntuId, networks: 'auto' } });
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '7');
      assert.equal(r.body.overLimit.code, 429);
      assert.equal(r.body.overLimit.retryAfter, '7');
      assert.ok(!sim.state().servers.items.some((s) => s.name === 'limited'), 'a faulted create makes nothing');
    });

    it('when a latency fault is set, then requests still succeed after the delay', async () => {
      const f = (await admin('POST', '/faults', { service: 'network', latencyMs: 150, count: 1 })).body;
      const r = await demo.network('GET', '/networks');
      assert.equal(r.status, 200);
      assert.equal(sim.state().faults.active.find((x) => x.id === f.id), undefined, 'the single hit used it up');
    });

    it('when a hang fault is set, then a client with a timeout gives up, and clearing the fault releases waiting requests', async () => {
      const f = (await admin('POST', '/faults', { service: 'compute', path: '/os-keypairs$', hang: true })).body;
      await assert.rejects(call('GET', `${sim.url}/compute/v2.1/os-keypairs`, { token: demo.token, signal: AbortSignal.timeout(200) }), (err: Error) => err.name === 'TimeoutError' || err.name === 'AbortError');
      const waiting = call('GET', `${sim.url}/compute/v2.1/os-keypairs`, { token: demo.token });
      await eventually('second request hung', async () => sim.state().faults.active.find((x) => x.id === f.id)?.hits === 2);
      assert.equal((await admin('DELETE', `/faults/${f.id}`)).status, 204);
      assert.equal((await waiting).status, 200);
    });

    it('when the cloud has a 503 outage, then every service answers 503 until recovery; /_sim keeps working', async () => {
      await admin('POST', '/outage', { mode: '503' });
      const id = await call('POST', `${sim.authUrl}/auth/tokens`, { json: authBody('demo', 'demo-secret', 'demo') });
      assert.equal(id.status, 503);
      assert.equal(id.body.error.code, 503);
      const nova = await demo.compute('GET', '/servers');
      assert.equal(nova.status, 503);
      assert.equal(nova.body.serviceUnavailable.code, 503);
      assert.equal((await demo.network('GET', '/networks')).body.NeutronError.type, 'ServiceUnavailable');
      assert.equal((await admin('GET', '/state')).body.outage, '503');
      await admin('DELETE', '/outage');
      assert.equal((await demo.compute('GET', '/servers')).status, 200);
    });

    it('when the cloud refuses, then connections are dropped without an answer until recovery', async () => {
      await admin('POST', '/outage', { mode: 'refuse' });
      await assert.rejects(call('GET', `${sim.url}/compute/v2.1/servers`, { token: demo.token }), TypeError);
      await assert.rejects(call('GET', `${sim.url}/image/v2/images`, { token: demo.token }), TypeError);
      assert.equal((await admin('GET', '/outage')).body.mode, 'refuse');
      await admin('DELETE', '/outage');
      assert.equal((await demo.compute('GET', '/servers')).status, 200);
    });

    it('when a VM is broken into error, shutoff or gone, then Nova reports ERROR with a fault, SHUTOFF, or 404', async () => {
      const ids = [await createServer(demo, 'break-err'), await createServer(demo, 'break-off'), await createServer(demo, 'break-gone')];
      for (const id of ids) await waitStatus(demo, id, 'ACTIVE');
      await admin('POST', `/servers/${ids[0]}/break`, { mode: 'error' });
      const err = (await demo.compute('GET', `/servers/${ids[0]}`)).body.server;
      assert.equal(err.status, 'ERROR');
      assert.equal(err.fault.code, 500);
      assert.match(err.fault.message, /Simulated failure/);
      await admin('POST', `/servers/${ids[1]}/break`, { mode: 'shutoff' });
      assert.equal((await demo.compute('GET', `/servers/${ids[1]}`)).body.server.status, 'SHUTOFF');
      assert.equal((await demo.compute('POST', `/servers/${ids[1]}/action`, { 'os-start': null })).status, 202);
      await waitStatus(demo, ids[1], 'ACTIVE');
      const ports = sim.state().servers.items.find((s) => s.id === ids[2])!.portIds;
      await admin('POST', `/servers/${ids[2]}/break`, { mode: 'gone' });
      assert.equal((await demo.compute('GET', `/servers/${ids[2]}`)).status, 404);
      assert.ok(!sim.state().ports.items.some((p) => ports.includes(p.id)));
      assert.equal((await demo.compute('POST', `/servers/${ids[0]}/action`, { reboot: { type: 'HARD' } })).status, 202);
      await waitStatus(demo, ids[0], 'ACTIVE');
      assert.equal((await admin('POST', `/servers/${crypto.randomUUID()}/break`, { mode: 'error' })).status, 404);
    });
  });

  describe('/_sim state, timings and reset', () => {
    it('when servers are created, then /_sim/state counts them by status and counts each create request once', async () => {
      const before = (await admin('GET', '/state')).body;
      const bob = await login('bob');
      await admin('PATCH', '/quotas', { project: 'bobs', instances: 10 });
      const ids = [await createServer(bob, 'count-1'), await createServer(bob, 'count-2')];
      for (const id of ids) await waitStatus(bob, id, 'ACTIVE');
      const after = (await admin('GET', '/state')).body;
      assert.equal(after.servers.total, before.servers.total + 2);
      assert.equal(after.servers.byStatus.ACTIVE, (before.servers.byStatus.ACTIVE ?? 0) + 2);
      assert.equal(after.requests.byRoute['POST /compute/v2.1/servers'], before.requests.byRoute['POST /compute/v2.1/servers'] + 2);
      assert.ok(after.requests.byService.compute > before.requests.byService.compute);
      assert.ok(after.tokens.issued > before.tokens.issued);
      assert.equal(after.ports.total, before.ports.total + 2);
      assert.deepEqual(sim.state().servers.total, after.servers.total);
    });

    it('when timings are patched, then the new values apply and bad ones are refused', async () => {
      const r = await admin('PATCH', '/timings', { serverBuildMs: 250, snapshotBytes: 4096 });
      assert.equal(r.body.serverBuildMs, 250);
      assert.equal(r.body.snapshotBytes, 4096);
      assert.equal((await admin('GET', '/timings')).body.serverStopMs, 200);
      assert.equal((await admin('PATCH', '/timings', { serverBuildMs: -1 })).status, 400);
      assert.equal((await admin('PATCH', '/timings', { warpSpeed: 9 })).status, 400);
      await admin('PATCH', '/timings', { serverBuildMs: 300, snapshotBytes: 1024 * 1024 });
    });

    it('when the simulator is reset, then resources are gone and seeded flavors, networks and images remain', async () => {
      const r = await admin('POST', '/reset');
      assert.equal(r.status, 200);
      assert.equal(r.body.servers.total, 0);
      assert.equal(r.body.stacks.total, 0);
      assert.equal(r.body.keypairs.total, 0);
      assert.equal(r.body.images.total, 4);
      assert.equal(r.body.requests.total, 0);
      assert.deepEqual(r.body.requests.byRoute, {});
      assert.equal((await demo.compute('GET', '/servers')).body.servers.length, 0, 'tokens survive a reset');
      assert.equal((await demo.compute('GET', '/flavors')).body.flavors.length, 5);
      assert.equal((await demo.network('GET', '/networks')).body.networks.length, 2);
      assert.equal((await demo.image('GET', `/images/${ubuntuId}`)).body.status, 'active');
    });
  });

  describe('state file', () => {
    it('when the simulator restarts on the same state file, then servers, key pairs and tokens are still there', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'os-sim-state-'));
      const stateFile = path.join(dir, 'state.json');
      try {
        const first = await startOpenStackSimulator({ stateFile, dataDir: path.join(dir, 'data'), seed: 7 });
        const auth = await call('POST', `${first.authUrl}/auth/tokens`, { json: authBody('demo', 'demo-secret', 'demo') });
        const token = auth.headers.get('x-subject-token')!;
        const h = { 'OpenStack-API-Version': 'compute 2.79' };
        await call('POST', `${first.url}/compute/v2.1/os-keypairs`, { token, headers: h, json: { keypair: { name: 'kept' } } });
        const c = await call('POST', `${first.url}/compute/v2.1/servers`, { token, headers: h, json: { server: { name: 'survivor', flavorRef: '1', imageRef: ubuntuId, networks: 'auto' } } });
        const id = c.body.server.id;
        await eventually('ACTIVE', async () => (await call('GET', `${first.url}/compute/v2.1/servers/${id}`, { token })).body.server.status === 'ACTIVE');
        await first.stop();
        assert.ok(fs.existsSync(stateFile));

        const second = await startOpenStackSimulator({ stateFile, dataDir: path.join(dir, 'data'), seed: 7 });
        try {
          const s = await call('GET', `${second.url}/compute/v2.1/servers/${id}`, { token });
          assert.equal(s.status, 200, 'the token issued before the restart still works');
          assert.equal(s.body.server.name, 'survivor');
          assert.equal(s.body.server.status, 'ACTIVE');
          assert.equal((await call('GET', `${second.url}/compute/v2.1/os-keypairs/kept`, { token })).status, 200);
          const fresh = await call('POST', `${second.url}/compute/v2.1/servers`, { token, headers: h, json: { server: { name: 'newcomer', flavorRef: '1', imageRef: ubuntuId, networks: 'auto' } } });
          assert.notEqual(fresh.body.server.id, id, 'a restored seeded simulator does not reuse ids');
        } finally {
          await second.stop();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
