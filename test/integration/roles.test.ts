/**
 * Issue 12, item 2 — roles that cannot be claimed. The attack as reported: the operator role went
 * to whoever held a username listed in VMFLOW_OPERATORS, so a stranger who signed up first with a
 * listed name (or took it after the operator withdrew) could decode every member's workflow
 * history through /codec/decode. Roles now live on the member record and are granted only by
 * `npm run operator -- grant`.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { CODEC_ENDPOINT_PATH } from '../../api/routes/codec';
import { main as operatorCommand } from '../../scripts/operator';
import { grantRole, OPERATOR_ROLE, revokeRole, RoleError } from '../../src/accounts/roles';
import { startTestApi, type TestApi } from '../harness/api';
import { registerTestSecret } from '../harness/secrets';
import { sharedStack } from '../harness/stack';
import { signupAndLogin, testPassword, uniqueUsername, type TestUser } from '../harness/users';

type Json = any;

describe('roles: the operator role cannot be claimed by signing up', function () {
  this.timeout(120_000);
  const codecToken = `codec-${crypto.randomBytes(24).toString('base64url')}`;
  const marker = `history-secret-${crypto.randomBytes(8).toString('hex')}`;
  let api: TestApi;
  let payloads: unknown[];

  const decode = (headers: Record<string, string>) =>
    fetch(`${api.url}${CODEC_ENDPOINT_PATH}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ payloads }) });
  const me = async (user: TestUser): Promise<Json> => (await fetch(`${api.url}/api/v1/auth/me`, { headers: user.authHeaders })).json();
  const withdraw = (user: TestUser) =>
    fetch(`${api.url}/api/v1/auth/me`, { method: 'DELETE', headers: { ...user.authHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ password: user.password }) });

  before(async () => {
    registerTestSecret(codecToken, marker);
    api = await startTestApi({ env: { VMFLOW_CODEC_TOKEN: codecToken } });
    // A payload as a workflow history holds it: encrypted with the keyring.
    const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(JSON.stringify({ note: marker })).toString('base64') };
    const res = await fetch(`${api.url}${CODEC_ENDPOINT_PATH}/encode`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${codecToken}` }, body: JSON.stringify({ payloads: [plain] }) });
    assert.equal(res.status, 200);
    payloads = ((await res.json()) as { payloads: unknown[] }).payloads;
  });
  after(async () => {
    await api?.close();
  });

  it('when VMFLOW_OPERATORS lists a name nobody holds yet, then a stranger who signs up with it cannot decode histories (the variable is refused at start)', async () => {
    const listed = uniqueUsername('ops');
    let listing: TestApi | undefined;
    try {
      listing = await startTestApi({ env: { VMFLOW_CODEC_TOKEN: codecToken, VMFLOW_OPERATORS: listed } });
    } catch (err) {
      assert.match((err as Error).message, /VMFLOW_OPERATORS is no longer read.*npm run operator -- grant/);
      return;
    }
    try {
      // Only the code before the change gets here: the stranger claims the listed name.
      const stranger = await signupAndLogin(listing.url, listed);
      const res = await fetch(`${listing.url}${CODEC_ENDPOINT_PATH}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...stranger.authHeaders }, body: JSON.stringify({ payloads }) });
      assert.equal(res.status, 403, `the stranger decoded: ${res.status} ${await res.text()}`);
    } finally {
      await listing.close();
    }
  });

  it('when someone signs up with a reserved name (admin, operator, root, …), then 400 names the username field', async () => {
    for (const username of ['admin', 'Operator', 'root', 'administrator', 'vmflow', 'operator-2', 'sys.admin', 'support_1']) {
      const res = await fetch(`${api.url}/api/v1/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: testPassword() }) });
      const body = (await res.json()) as Json;
      assert.equal(res.status, 400, `${username}: ${JSON.stringify(body)}`);
      assert.deepEqual(body.error.fields.map((f: Json) => f.field), ['username']);
      assert.match(body.error.message, /reserved/);
    }
  });

  it('when the operator withdraws and a stranger signs up with the freed name, then the stranger holds no role and cannot decode', async () => {
    const name = uniqueUsername('ops');
    const operator = await signupAndLogin(api.url, name);
    await grantRole(api.deps.db, name, OPERATOR_ROLE, operator.userId);
    assert.deepEqual((await me(operator)).roles, ['operator']);
    const ok = await decode(operator.authHeaders);
    assert.equal(ok.status, 200);
    assert.ok((await ok.text()).includes(Buffer.from(JSON.stringify({ note: marker })).toString('base64')), 'the operator decodes');

    assert.equal((await withdraw(operator)).status, 200);
    const stranger = await signupAndLogin(api.url, name);
    assert.notEqual(stranger.userId, operator.userId);
    assert.deepEqual((await me(stranger)).roles, []);
    const denied = await decode(stranger.authHeaders);
    assert.equal(denied.status, 403);
    assert.ok(!(await denied.text()).includes(marker));
  });

  it('when an operator asks who they are, then the answer links into the Temporal Web UI; a member\'s answer never names it', async () => {
    const name = uniqueUsername('ops');
    const member = await signupAndLogin(api.url, name);
    const before = await me(member);
    assert.equal(before.temporalUi, undefined, 'a member gets no Temporal UI links');
    assert.ok(!JSON.stringify(before).includes(api.deps.config.temporalUiUrl), JSON.stringify(before));

    await grantRole(api.deps.db, name, OPERATOR_ROLE, member.userId);
    const links = (await me(member)).temporalUi;
    assert.equal(links?.url, api.deps.config.temporalUiUrl);
    // The templates, filled in as the console does, list one workflow's runs in the UI's namespace.
    const workflow = new URL(links.workflowUrl.replace('{workflowId}', encodeURIComponent('vm-update:abc:2')));
    assert.equal(workflow.origin, new URL(api.deps.config.temporalUiUrl).origin);
    assert.equal(workflow.pathname, `/namespaces/${api.deps.config.temporalNamespace}/workflows`);
    assert.equal(workflow.searchParams.get('query'), 'WorkflowId="vm-update:abc:2"');
    const dr = new URL(links.drWorkflowUrl.replace('{vmId}', encodeURIComponent('0b6c7e1e-vm')));
    assert.equal(dr.searchParams.get('query'), 'WorkflowId="vm-dr:0b6c7e1e-vm"');

    await revokeRole(api.deps.db, name);
    assert.equal((await me(member)).temporalUi, undefined, 'revoked: the links are gone at the next request');
  });

  it('when a role is revoked, then the member\'s live session loses it at the next request; a grant pinned to another member id is refused', async () => {
    const name = uniqueUsername('ops');
    const member = await signupAndLogin(api.url, name);
    await assert.rejects(grantRole(api.deps.db, name, 'operator', crypto.randomUUID()), (e: unknown) => e instanceof RoleError && /is member/.test((e as Error).message));
    assert.equal((await decode(member.authHeaders)).status, 403, 'the refused grant gave nothing');
    await grantRole(api.deps.db, name, 'operator', member.userId);
    assert.equal((await decode(member.authHeaders)).status, 200);
    await revokeRole(api.deps.db, name);
    assert.equal((await decode(member.authHeaders)).status, 403);
    await assert.rejects(grantRole(api.deps.db, uniqueUsername('nobody'), 'operator'), /must sign up first/);
  });

  it('when the operator runs `npm run operator -- grant/list/revoke`, then the member\'s role follows', async () => {
    const env = { ...process.env, MONGODB_URI: (await sharedStack()).mongoUri };
    const name = uniqueUsername('cli');
    const member = await signupAndLogin(api.url, name);
    const lines: string[] = [];
    const run = (...argv: string[]) => operatorCommand(argv, env, (l) => lines.push(l));
    assert.equal(await run('grant', name, '--id', member.userId), 0);
    assert.match(lines.at(-1)!, new RegExp(`granted: ${name}  id=${member.userId} .*roles=\\[operator\\]`));
    assert.equal((await decode(member.authHeaders)).status, 200);
    assert.equal(await run('list'), 0);
    assert.ok(lines.some((l) => l.startsWith(`${name}  id=${member.userId}`)));
    assert.equal(await run('revoke', name), 0);
    assert.equal((await decode(member.authHeaders)).status, 403);
    assert.equal(await run('grant', uniqueUsername('ghost')), 1);
    assert.match(lines.at(-1)!, /must sign up first/);
    assert.equal(await run('promote', name), 2, 'unknown command → usage');
  });
});
