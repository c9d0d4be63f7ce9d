import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import { prepareApi } from '../../api/app';
import { CloudApiError } from '../../src/clouds/errors';
import { CloudAccountNotFoundError, CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { CloudAccountStore } from '../../src/cloud-accounts/store';
import { OPERATOR_ACCOUNT_IDS } from '../../src/cloud-accounts/types';
import { connectDatabase } from '../../src/db/connection';
import { createLogger } from '../../src/logger';
import { decryptSecret, keyringOf } from '../../src/secrets';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';
import { sharedClouds, type TestClouds } from '../harness/clouds';
import { registerTestSecret, testKeyring } from '../harness/secrets';
import { sharedStack } from '../harness/stack';
import { assertOwnerScoped, signupAndLogin, testPassword, type TestUser } from '../harness/users';

type Json = any;
const json = (res: Response): Promise<Json> => res.json();
const silent = createLogger('silent');

describe('cloud accounts: operator and own accounts, encrypted secrets, verify, resolver', function () {
  this.timeout(120_000);
  let clouds: TestClouds;
  let api: TestApi;
  let alice: TestUser;
  let bob: TestUser;

  const post = (path: string, user: TestUser, body?: unknown) =>
    apiFetch(`${api.url}${path}`, { method: 'POST', headers: { ...user.authHeaders, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const get = (path: string, user: TestUser) => apiFetch(`${api.url}${path}`, { headers: user.authHeaders });
  const del = (path: string, user: TestUser) => apiFetch(`${api.url}${path}`, { method: 'DELETE', headers: user.authHeaders });

  const openstackBody = (overrides: Record<string, unknown> = {}) => ({
    kind: 'openstack',
    name: `alice's openstack ${crypto.randomBytes(3).toString('hex')}`,
    authUrl: clouds.openstack.authUrl,
    region: clouds.openstack.credentials.region,
    projectName: clouds.openstack.credentials.projectName,
    projectDomainName: clouds.openstack.credentials.projectDomainName,
    username: clouds.openstack.credentials.username,
    userDomainName: clouds.openstack.credentials.userDomainName,
    password: clouds.openstack.credentials.password,
    ...overrides,
  });
  const cloudstackBody = (overrides: Record<string, unknown> = {}) => ({
    kind: 'cloudstack',
    name: `alice's cloudstack ${crypto.randomBytes(3).toString('hex')}`,
    apiUrl: clouds.cloudstack.apiUrl,
    apiKey: clouds.cloudstack.credentials.apiKey,
    secretKey: clouds.cloudstack.credentials.secretKey,
    ...overrides,
  });

  before(async () => {
    clouds = await sharedClouds();
    registerTestSecret(clouds.openstack.credentials.password, clouds.cloudstack.credentials.apiKey, clouds.cloudstack.credentials.secretKey);
    // 127.0.0.1:1 (nothing listens) is allow-listed so "unreachable" can be shown; /_sim never is.
    api = await startTestApi({ env: { ...clouds.env, VMFLOW_OUTBOUND_ALLOW: `${clouds.env.VMFLOW_OUTBOUND_ALLOW},http://127.0.0.1:1/identity/` } });
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await api?.close();
  });

  it('when a member lists cloud accounts, then the operator accounts seeded from the configuration are there, without secrets, URLs or usernames', async () => {
    const res = await get('/api/v1/cloud-accounts', bob);
    assert.equal(res.status, 200);
    const text = await res.clone().text();
    const { items } = await json(res);
    const os = items.find((a: Json) => a.id === OPERATOR_ACCOUNT_IDS.openstack);
    const cs = items.find((a: Json) => a.id === OPERATOR_ACCOUNT_IDS.cloudstack);
    assert.equal(os.scope, 'operator');
    assert.equal(os.kind, 'openstack');
    assert.equal(cs.kind, 'cloudstack');
    // The operator's settings are not the members' business (issue 12 item 7).
    assert.equal(os.openstack, undefined);
    assert.equal(cs.cloudstack, undefined);
    assert.deepEqual([os.secrets, cs.secrets], [[], []]);
    for (const s of [clouds.openstack.credentials.password, clouds.cloudstack.credentials.apiKey, clouds.cloudstack.credentials.secretKey, clouds.openstack.authUrl, clouds.cloudstack.apiUrl]) assert.ok(!text.includes(s));
    assert.ok(!text.includes(`"${clouds.openstack.credentials.username}"`));
    const one = await json(await get(`/api/v1/cloud-accounts/${OPERATOR_ACCOUNT_IDS.openstack}`, bob));
    assert.equal(one.openstack, undefined);
  });

  it('when the API starts again, then the operator accounts are upserted in place, not duplicated', async () => {
    await prepareApi(api.deps);
    await prepareApi(api.deps);
    const ids = (await api.deps.db.collection('cloudaccounts').find({ scope: 'operator' }).toArray()).map((d) => d._id).sort();
    assert.deepEqual(ids, [OPERATOR_ACCOUNT_IDS.cloudstack, OPERATOR_ACCOUNT_IDS.openstack]);
  });

  it('when a member registers OpenStack and CloudStack accounts, then 201 with a Location, and reads show settings but never secrets', async () => {
    for (const body of [openstackBody(), cloudstackBody()]) {
      const res = await post('/api/v1/cloud-accounts', alice, body);
      assert.equal(res.status, 201);
      const created = await json(res);
      assert.equal(res.headers.get('location'), `/api/v1/cloud-accounts/${created.id}`);
      assert.equal(created.scope, 'own');
      assert.equal(created.name, body.name);
      const one = await get(`/api/v1/cloud-accounts/${created.id}`, alice);
      assert.equal(one.status, 200);
      const text = await one.text();
      assert.deepEqual(JSON.parse(text), created);
      for (const s of [clouds.openstack.credentials.password, clouds.cloudstack.credentials.apiKey, clouds.cloudstack.credentials.secretKey]) assert.ok(!text.includes(s));
    }
    const { items } = await json(await get('/api/v1/cloud-accounts', alice));
    assert.equal(items.filter((a: Json) => a.scope === 'own').length, 2);
    const bobs = await json(await get('/api/v1/cloud-accounts', bob));
    assert.equal(bobs.items.filter((a: Json) => a.scope === 'own').length, 0, 'bob sees none of alice\'s accounts');
  });

  for (const [label, body, field] of [
    ['no kind', { name: 'x' }, 'kind'],
    ['an unknown kind', { kind: 'aws', name: 'x' }, 'kind'],
    ['an OpenStack account without a password', { kind: 'openstack', name: 'x', authUrl: 'http://127.0.0.1:1/v3', projectName: 'p', username: 'u' }, 'password'],
    ['an auth URL that is not http(s)', { kind: 'openstack', name: 'x', authUrl: 'ftp://example.org', projectName: 'p', username: 'u', password: 'p4ssw0rd-x' }, 'authUrl'],
    ['a CloudStack account without a secret key', { kind: 'cloudstack', name: 'x', apiUrl: 'http://127.0.0.1:1/client/api', apiKey: 'k-123456' }, 'secretKey'],
  ] as const) {
    it(`when a member registers ${label}, then 400 names ${field}`, async () => {
      const res = await post('/api/v1/cloud-accounts', alice, body);
      assert.equal(res.status, 400);
      const err = (await json(res)).error;
      assert.ok(err.fields.some((f: Json) => f.field === field), JSON.stringify(err.fields));
    });
  }

  it('when accounts are verified against the simulators, then OpenStack authenticates with Keystone and CloudStack lists zones', async () => {
    const os = await json(await post('/api/v1/cloud-accounts', alice, openstackBody()));
    const cs = await json(await post('/api/v1/cloud-accounts', alice, cloudstackBody()));
    const osResult = await json(await post(`/api/v1/cloud-accounts/${os.id}/verify`, alice));
    assert.equal(osResult.ok, true, JSON.stringify(osResult));
    assert.equal(osResult.openstack.project.name, clouds.openstack.credentials.projectName);
    assert.ok(osResult.openstack.services.includes('compute'));
    const csResult = await json(await post(`/api/v1/cloud-accounts/${cs.id}/verify`, alice));
    assert.equal(csResult.ok, true, JSON.stringify(csResult));
    assert.ok(csResult.cloudstack.zones.length >= 1);
    // Members cannot make the API call the operator's clouds with the operator's credentials (issue 12 item 7).
    for (const id of [OPERATOR_ACCOUNT_IDS.openstack, OPERATOR_ACCOUNT_IDS.cloudstack]) {
      const r = await post(`/api/v1/cloud-accounts/${id}/verify`, bob);
      assert.equal(r.status, 403, id);
      assert.equal((await json(r)).error.code, 'forbidden');
    }
  });

  it('when credentials are wrong or the cloud unreachable, then verify says so with a reason and without echoing the secret', async () => {
    const wrongPassword = testPassword();
    const wrongSecret = `secret-${crypto.randomBytes(24).toString('base64url')}`;
    registerTestSecret(wrongSecret);
    const cases = [
      { body: openstackBody({ password: wrongPassword }), reason: 'credentials_rejected' },
      { body: cloudstackBody({ secretKey: wrongSecret }), reason: 'credentials_rejected' },
      { body: openstackBody({ authUrl: 'http://127.0.0.1:1/identity/v3' }), reason: 'unreachable' },
      { body: cloudstackBody({ zoneName: 'no-such-zone' }), reason: 'zone_not_found' },
    ];
    for (const c of cases) {
      const created = await json(await post('/api/v1/cloud-accounts', alice, c.body));
      const res = await post(`/api/v1/cloud-accounts/${created.id}/verify`, alice);
      assert.equal(res.status, 200);
      const text = await res.text();
      const result = JSON.parse(text);
      assert.equal(result.ok, false, text);
      assert.equal(result.reason, c.reason, text);
      assert.ok(!text.includes(wrongPassword) && !text.includes(wrongSecret) && !text.includes(clouds.cloudstack.credentials.apiKey));
    }
  });

  it('when another member reads, verifies or deletes an account, then each answers 404 without its data, and the owner still can', async () => {
    const created = await json(await post('/api/v1/cloud-accounts', alice, openstackBody()));
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/cloud-accounts/${created.id}` },
        { method: 'POST', path: `/api/v1/cloud-accounts/${created.id}/verify` },
        { method: 'DELETE', path: `/api/v1/cloud-accounts/${created.id}` },
      ],
    });
    assert.equal((await get(`/api/v1/cloud-accounts/${created.id}`, alice)).status, 404, 'the owner\'s DELETE went through');
  });

  it('when a member deletes an operator account, then 403 and it stays; an unknown id is 404', async () => {
    const res = await del(`/api/v1/cloud-accounts/${OPERATOR_ACCOUNT_IDS.openstack}`, alice);
    assert.equal(res.status, 403);
    assert.equal((await get(`/api/v1/cloud-accounts/${OPERATOR_ACCOUNT_IDS.openstack}`, alice)).status, 200);
    assert.equal((await del('/api/v1/cloud-accounts/ca-does-not-exist', alice)).status, 404);
  });

  it('when the database is read directly, then it holds only AES-GCM ciphertext of every secret, under the current key id', async () => {
    const created = await json(await post('/api/v1/cloud-accounts', alice, cloudstackBody()));
    const docs = await api.deps.db.collection('cloudaccounts').find({}).toArray();
    const raw = JSON.stringify(docs);
    for (const s of [clouds.openstack.credentials.password, clouds.cloudstack.credentials.apiKey, clouds.cloudstack.credentials.secretKey]) {
      assert.ok(!raw.includes(s), 'plaintext secret in the database');
      assert.ok(!raw.includes(Buffer.from(s).toString('base64')), 'base64 of a secret in the database');
    }
    const doc = docs.find((d) => d._id === (created.id as never))!;
    for (const field of ['apiKey', 'secretKey']) {
      const enc = doc.secrets[field];
      assert.deepEqual(Object.keys(enc).sort(), ['ct', 'iv', 'kid', 'tag']);
      assert.equal(enc.kid, testKeyring().currentKid);
    }
    assert.equal(decryptSecret(testKeyring(), doc.secrets.secretKey, `cloud-account:${created.id}:secretKey`), clouds.cloudstack.credentials.secretKey);
  });

  describe('CloudAccountResolver (what workers use)', () => {
    let resolver: CloudAccountResolver;
    before(() => {
      resolver = new CloudAccountResolver({ db: api.deps.db, keyring: testKeyring(), logger: silent });
    });

    it('when an OpenStack account is resolved twice, then both clients work and share one cached Keystone token', async () => {
      const first = await resolver.openstack(OPERATOR_ACCOUNT_IDS.openstack);
      assert.ok(Array.isArray(await first.compute.listFlavors()));
      const token = resolver.tokenCache.get(first.session.accountKey);
      assert.ok(token, 'token cached');
      const second = await resolver.openstack(OPERATOR_ACCOUNT_IDS.openstack);
      assert.equal(second.session.accountKey, first.session.accountKey);
      assert.equal((await second.session.token()).token, token.token);
    });

    it('when a CloudStack account is resolved, then its client signs requests with the stored keys', async () => {
      const cs = await resolver.cloudstack(OPERATOR_ACCOUNT_IDS.cloudstack);
      assert.ok((await cs.listZones()).length >= 1);
    });

    it('when the account does not exist or is of the other kind, then a non-retryable CloudApiError says so', async () => {
      await assert.rejects(resolver.openstack('ca-missing'), (e: unknown) => e instanceof CloudAccountNotFoundError && e.kind === 'NotFound' && !e.retryable);
      await assert.rejects(resolver.cloudstack(OPERATOR_ACCOUNT_IDS.openstack), (e: unknown) => e instanceof CloudApiError && e.kind === 'BadRequest' && !e.retryable);
    });
  });

  describe('key rotation of stored secrets', () => {
    let db: Connection;
    before(async () => {
      // Its own database: rewriting secrets under a key the rest of the run does not hold must not touch shared records.
      const u = new URL((await sharedStack()).mongoUri);
      u.pathname = `/vmflow_rotation_${crypto.randomBytes(4).toString('hex')}`;
      db = await connectDatabase(u.toString());
    });
    after(async () => {
      await db?.dropDatabase().catch(() => undefined);
      await db?.close();
    });

    it('when a new key is put first, then old secrets still open, and re-encryption moves them to the new key id', async () => {
      const old = { kid: 'rot-old', key: crypto.randomBytes(32) };
      const fresh = { kid: 'rot-new', key: crypto.randomBytes(32) };
      const secret = testPassword();
      const before = new CloudAccountStore(db, keyringOf(old));
      const view = await before.createForMember('owner-1', { kind: 'openstack', name: 'n', authUrl: 'http://127.0.0.1:1/v3', projectName: 'p', projectDomainName: 'Default', username: 'u', userDomainName: 'Default', password: secret });

      const rotated = new CloudAccountStore(db, keyringOf(fresh, old));
      const creds = await rotated.credentials(view.id);
      assert.equal(creds?.kind === 'openstack' && creds.password, secret);
      assert.equal(await rotated.reencryptStale(silent), 1);
      const doc = await db.collection('cloudaccounts').findOne({ _id: view.id as never });
      assert.equal(doc?.secrets.password.kid, 'rot-new');
      assert.equal(await rotated.reencryptStale(silent), 0, 'nothing left to rewrite');
      const newOnly = new CloudAccountStore(db, keyringOf(fresh));
      const again = await newOnly.credentials(view.id);
      assert.equal(again?.kind === 'openstack' && again.password, secret);
      await assert.rejects(new CloudAccountStore(db, keyringOf(old)).credentials(view.id), /rot-new/);
    });
  });
});
