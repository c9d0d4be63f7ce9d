/**
 * Issue 12, item 1 — the attack as reported: a member registers a cloud account whose URL points
 * at a simulator's /_sim/reset (in a real deployment: Temporal, the image store's routes, a
 * metadata service) and asks vmflow to verify it. The simulators here are this suite's own, and
 * their API paths are allow-listed exactly as `npm start` does; their /_sim routes are not.
 * Only loopback targets are ever contacted; the metadata case is refused before any connection.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { CloudAccountStore } from '../../src/cloud-accounts/store';
import { CloudApiError } from '../../src/clouds/errors';
import { ComputeClient, OpenStackSession, TokenCache } from '../../src/clouds/openstack';
import { startCloudStackSimulator, type CloudStackSimulator } from '../../src/sim/cloudstack';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/sim/openstack';
import { startTestApi, type TestApi } from '../harness/api';
import { allowSimulators, sharedClouds, simAdmin } from '../harness/clouds';
import { registerTestSecret, testKeyring, testLogger } from '../harness/secrets';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('SSRF: a member URL pointed at internal services is refused, and the simulator keeps its state', function () {
  this.timeout(120_000);
  let os: OpenStackSimulator;
  let cs: CloudStackSimulator;
  let api: TestApi;
  let mallory: TestUser;
  let serverId: string;

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${api.url}${path}`, { method, headers: { ...mallory.authHeaders, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const openstackAccount = (authUrl: string) => ({
    kind: 'openstack',
    name: `mallory ${crypto.randomBytes(3).toString('hex')}`,
    authUrl,
    projectName: os.credentials.projectName,
    username: os.credentials.username,
    password: os.credentials.password,
  });
  const cloudstackAccount = (apiUrl: string) => ({ kind: 'cloudstack', name: `mallory cs ${crypto.randomBytes(3).toString('hex')}`, apiUrl, apiKey: cs.credentials.apiKey, secretKey: cs.credentials.secretKey });

  /** What /_sim/reset would wipe: the server made in before(), and one injected (never firing) fault per simulator. */
  async function assertSimulatorsIntact(): Promise<void> {
    const state = await simAdmin<Json>(os.url, 'GET', '/state');
    assert.deepEqual(state.servers.items.map((s: Json) => s.id), [serverId], 'the OpenStack simulator still has its server');
    assert.equal(state.faults.active.length, 1, 'the OpenStack simulator still has its fault');
    const csFaults = await simAdmin<Json>(cs.url, 'GET', '/faults');
    assert.equal(csFaults.faults.length, 1, 'the CloudStack simulator still has its fault');
  }

  /** A refusal: 400 naming the field, and nothing in the answer from the target. */
  function assertRefused(res: { status: number; body: Json }, field: string, why: RegExp): void {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'url_not_allowed', JSON.stringify(res.body));
    assert.deepEqual(res.body.error.fields.map((f: Json) => f.field), [field]);
    assert.match(res.body.error.message, why);
  }

  before(async () => {
    [os, cs] = await Promise.all([startOpenStackSimulator({ timings: 'fast', logger: testLogger('ssrf-openstack') }), startCloudStackSimulator({ timings: 'fast', logger: testLogger('ssrf-cloudstack') })]);
    registerTestSecret(os.credentials.password, cs.credentials.apiKey, cs.credentials.secretKey);
    const clouds = await sharedClouds();
    // Like `npm start`: the simulators' cloud APIs are allow-listed (member accounts on them work), /_sim is not.
    api = await startTestApi({ env: { ...clouds.env, VMFLOW_OUTBOUND_ALLOW: allowSimulators({ openstack: os, cloudstack: cs }) } });
    mallory = await signupAndLogin(api.url);

    const compute = new ComputeClient(new OpenStackSession({ ...os.credentials, authUrl: os.authUrl }, { tokenCache: new TokenCache() }));
    const image = (await simAdmin<Json>(os.url, 'GET', '/state')).images.items.find((i: Json) => i.name === 'ubuntu-24.04');
    serverId = (await compute.createServer({ name: 'victim', flavorRef: '1', imageRef: image.id, networks: 'none' })).id;
    await simAdmin(os.url, 'POST', '/faults', { service: 'compute', method: 'DELETE', path: '/never-called', status: 500, count: 1 });
    await simAdmin(cs.url, 'POST', '/faults', { command: 'neverCalled', status: 530, count: 1 });
    await assertSimulatorsIntact();
  });
  after(async () => {
    await api?.close();
    await Promise.all([os?.stop(), cs?.stop()]);
  });

  it('when a member registers an OpenStack account whose authUrl is the simulator\'s /_sim/reset, then 400 names authUrl and the simulator is untouched', async () => {
    const res = await call('POST', '/api/v1/cloud-accounts', openstackAccount(`${os.url}/_sim/reset?`));
    if (res.status === 201) {
      // The code before the fix stored it; the verify that followed is the request that reset the cloud.
      assertRefused(await call('POST', `/api/v1/cloud-accounts/${res.body.id}/verify`), 'authUrl', /not allowed/);
    } else {
      assertRefused(res, 'authUrl', /only \/identity\/.* may be reached/);
    }
    await assertSimulatorsIntact();
  });

  it('when such an account is already stored (registered before the guard), then verify answers 400 naming authUrl and sends nothing', async () => {
    const stored = await new CloudAccountStore(api.deps.db, testKeyring()).createForMember(mallory.userId, { kind: 'openstack', name: 'legacy', authUrl: `${os.url}/_sim/reset?`, projectName: 'demo', projectDomainName: 'Default', username: 'demo', userDomainName: 'Default', password: os.credentials.password });
    assertRefused(await call('POST', `/api/v1/cloud-accounts/${stored.id}/verify`), 'authUrl', /authUrl is not allowed/);
    await assertSimulatorsIntact();
  });

  it('when a worker resolves such an account (an activity), then the call fails non-retryably as refused and the simulator is untouched', async () => {
    const stored = await new CloudAccountStore(api.deps.db, testKeyring()).createForMember(mallory.userId, { kind: 'openstack', name: 'legacy-2', authUrl: `${os.url}/_sim/reset?`, projectName: 'demo', projectDomainName: 'Default', username: 'demo', userDomainName: 'Default', password: os.credentials.password });
    const resolver = new CloudAccountResolver({ db: api.deps.db, keyring: testKeyring(), logger: testLogger('ssrf-resolver') });
    const client = await resolver.openstack(stored.id);
    await assert.rejects(client.compute.listServers(), (e: unknown) => e instanceof CloudApiError && e.kind === 'BadRequest' && !e.retryable && /refused/.test(e.message));
    await assertSimulatorsIntact();
  });

  it('when a CloudStack apiUrl names /_sim/reset on 127.0.0.1, [::1] or ::ffff:127.0.0.1, then 400 names apiUrl and the simulator is untouched', async () => {
    const port = new URL(cs.url).port;
    for (const apiUrl of [`${cs.url}/_sim/reset?`, `http://[::1]:${port}/_sim/reset?`, `http://[::ffff:127.0.0.1]:${port}/_sim/reset?`, `http://localhost:${port}/_sim/reset?`]) {
      const res = await call('POST', '/api/v1/cloud-accounts', cloudstackAccount(apiUrl));
      if (res.status === 201) assertRefused(await call('POST', `/api/v1/cloud-accounts/${res.body.id}/verify`), 'apiUrl', /not allowed/);
      else assertRefused(res, 'apiUrl', /not allowed/);
    }
    await assertSimulatorsIntact();
  });

  it('when an authUrl names the cloud metadata service or a private address, then registration is refused without any connection', async () => {
    for (const [authUrl, why] of [
      ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', /link-local/],
      ['http://[fd00:ec2::254]/latest/meta-data/', /unique-local/],
      ['http://10.0.0.1:7233/', /private/],
      ['http://100.100.100.200/latest/meta-data/', /carrier-grade NAT/],
    ] as const) {
      const res = await call('POST', '/api/v1/cloud-accounts', openstackAccount(authUrl));
      assertRefused(res, 'authUrl', why);
    }
  });

  it('when a member registers an account on the simulator\'s real API paths, then it is accepted and verifies (the allow-list works)', async () => {
    const created = await call('POST', '/api/v1/cloud-accounts', { ...openstackAccount(os.authUrl), region: os.credentials.region });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const verified = await call('POST', `/api/v1/cloud-accounts/${created.body.id}/verify`);
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
    await assertSimulatorsIntact();
  });
});
