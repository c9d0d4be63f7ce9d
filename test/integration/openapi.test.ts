import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { contractOf } from '../../api/openapi';
import { startTestApi, type TestApi } from '../harness/api';
import { apiDocument, appWithoutConnections, documentedSchema } from '../harness/contract';
import { apiFetch } from '../harness/http';
import { registerTestSecret } from '../harness/secrets';
import { signupAndLogin, testPassword, uniqueUsername, type TestUser } from '../harness/users';

type Json = any;

/**
 * Fails naming every field where the answer departs from the schema in the generated document, read
 * back as JSON Schema: what a client that knows only the document accepts. (Every answer is also
 * checked against the contract's zod schemas by the harness, see test/harness/conformance.ts.)
 */
function assertMatches(name: string, body: unknown, what: string): void {
  const result = documentedSchema(name).safeParse(body);
  assert.ok(result.success, `${what} does not match the documented ${name}: ${result.error?.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}\n${JSON.stringify(body)}`);
}

describe('API: the OpenAPI document and answers that match it', function () {
  this.timeout(120_000);
  let api: TestApi;
  let member: TestUser;

  const call = async (method: string, path: string, opts: { user?: TestUser; body?: unknown } = {}): Promise<{ status: number; body: Json; headers: Headers }> => {
    const res = await apiFetch(`${api.url}${path}`, {
      method,
      headers: { ...(opts.user?.authHeaders ?? {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };

  before(async () => {
    // The member's CloudStack account below points at a closed local port, allow-listed for the purpose.
    api = await startTestApi({ env: { VMFLOW_OUTBOUND_ALLOW: 'http://127.0.0.1:9/client/api' } });
    member = await signupAndLogin(api.url);
  });
  after(async () => {
    await api?.close();
  });

  it('when /api/v1/openapi.json is asked without a session, then 200 answers the document its declared routes generate', async () => {
    const res = await apiFetch(`${api.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as Json;
    assert.ok(body.paths['/api/v1/vms'].post);
    assert.deepEqual(contractOf(appWithoutConnections(api.deps.config)).document(), body, 'the document depends on the configuration only');
  });

  it('when a member signs up, logs in and asks who they are, then each answer matches its documented schema', async () => {
    const username = uniqueUsername('oas');
    const password = testPassword();
    const signup = await call('POST', '/api/v1/auth/signup', { body: { username, password } });
    assert.equal(signup.status, 201);
    assertMatches('Member', signup.body, 'POST /auth/signup 201');

    const login = await call('POST', '/api/v1/auth/login', { body: { username, password } });
    assert.equal(login.status, 200);
    registerTestSecret(login.body.token);
    assertMatches('LoginResult', login.body, 'POST /auth/login 200');
    const user: TestUser = { token: login.body.token, userId: login.body.user.id, username, password, authHeaders: { authorization: `Bearer ${login.body.token}` } };

    const me = await call('GET', '/api/v1/auth/me', { user });
    assert.equal(me.status, 200);
    assertMatches('Me', me.body, 'GET /auth/me 200');

    const withdraw = await call('DELETE', '/api/v1/auth/me', { user, body: { password } });
    assert.equal(withdraw.status, 200);
    assertMatches('WithdrawResult', withdraw.body, 'DELETE /auth/me 200');
  });

  it('when the catalog, a template preview and the VM list are asked, then the answers match their documented schemas', async () => {
    const catalog = await call('GET', '/api/v1/catalog');
    assert.equal(catalog.status, 200);
    assertMatches('Catalog', catalog.body, 'GET /catalog 200');

    const requirements = { name: 'oas1', os: catalog.body.operatingSystems[0].id, size: catalog.body.sizes[0].id, cloud: 'openstack' };
    assertMatches('VmRequirements', requirements, 'the sample requirements');
    const preview = await call('POST', '/api/v1/templates', { user: member, body: requirements });
    assert.equal(preview.status, 200);
    assertMatches('TemplatePreview', preview.body, 'POST /templates 200');

    const vms = await call('GET', '/api/v1/vms?includeDeleted=true', { user: member });
    assert.equal(vms.status, 200);
    assertMatches('VmList', vms.body, 'GET /vms 200');
  });

  it('when a cloud account is registered, read, listed and deleted, then the answers match their documented schemas', async () => {
    const apiKey = `key-${crypto.randomBytes(12).toString('hex')}`;
    const secretKey = `secret-${crypto.randomBytes(12).toString('hex')}`;
    registerTestSecret(apiKey, secretKey);
    const created = await call('POST', '/api/v1/cloud-accounts', { user: member, body: { kind: 'cloudstack', name: 'oas', apiUrl: 'http://127.0.0.1:9/client/api', apiKey, secretKey } });
    assert.equal(created.status, 201);
    assertMatches('CloudAccount', created.body, 'POST /cloud-accounts 201');
    assert.equal(created.headers.get('location'), `/api/v1/cloud-accounts/${created.body.id}`);

    const one = await call('GET', `/api/v1/cloud-accounts/${created.body.id}`, { user: member });
    assertMatches('CloudAccount', one.body, 'GET /cloud-accounts/{id} 200');
    const list = await call('GET', '/api/v1/cloud-accounts', { user: member });
    assertMatches('CloudAccountList', list.body, 'GET /cloud-accounts 200');

    const deleted = await call('DELETE', `/api/v1/cloud-accounts/${created.body.id}`, { user: member });
    assert.equal(deleted.status, 204);
  });

  it('when requests fail (no session, bad body, unknown VM), then the statuses are the documented ones and the bodies match Error', async () => {
    const doc = apiDocument();
    const cases = [
      { method: 'GET', path: '/api/v1/vms', docPath: '/api/v1/vms', status: 401 },
      { method: 'POST', path: '/api/v1/vms', docPath: '/api/v1/vms', status: 400, user: member, body: { name: '1bad', os: 'no-such-os', cloud: 'azure' } },
      { method: 'GET', path: `/api/v1/vms/${crypto.randomUUID()}`, docPath: '/api/v1/vms/{id}', status: 404, user: member },
    ];
    for (const c of cases) {
      const res = await call(c.method, c.path, { user: c.user, body: c.body });
      assert.equal(res.status, c.status, `${c.method} ${c.path}: ${JSON.stringify(res.body)}`);
      assert.ok(doc.paths[c.docPath][c.method.toLowerCase()].responses[String(c.status)], `${c.method} ${c.docPath} does not document ${c.status}`);
      assertMatches('Error', res.body, `${c.method} ${c.path} ${c.status}`);
      assert.equal(res.body.error.requestId, res.headers.get('x-request-id'));
    }
  });
});
