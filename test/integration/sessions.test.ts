/**
 * Issue 12, item 9 — session leftovers: the cookie is Secure by default in production, "log out
 * everywhere" revokes every session of the member, and expired sessions are pruned by a periodic
 * job (FerretDB has no TTL index).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { sessionModel } from '../../src/accounts/model';
import { startTestApi, type TestApi } from '../harness/api';
import { registerTestSecret } from '../harness/secrets';
import { signupAndLogin } from '../harness/users';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sessions: Secure cookie in production, log out everywhere, expired sessions pruned', function () {
  this.timeout(60_000);
  let api: TestApi;
  before(async () => {
    // The pruning job every 0.6 s instead of every 15 minutes.
    api = await startTestApi({ env: { SESSION_PRUNE_INTERVAL_MINUTES: '0.01' } });
  });
  after(async () => {
    await api?.close();
  });

  it('when a member logs out everywhere, then every session of theirs stops working, another member\'s does not, and the cookie is cleared', async () => {
    const alice = await signupAndLogin(api.url);
    const second = await fetch(`${api.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: alice.username, password: alice.password }) });
    const secondToken = ((await second.json()) as { token: string }).token;
    registerTestSecret(secondToken);
    const bob = await signupAndLogin(api.url);
    const res = await fetch(`${api.url}/api/v1/auth/logout-all`, { method: 'POST', headers: alice.authHeaders });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { revoked: 2 });
    assert.match(res.headers.get('set-cookie') ?? '', /vmflow_session=;/);
    for (const token of [alice.token, secondToken]) assert.equal((await fetch(`${api.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
    assert.equal((await fetch(`${api.url}/api/v1/auth/me`, { headers: bob.authHeaders })).status, 200);
  });

  it('when a session has expired, then the periodic job deletes it; live sessions stay', async () => {
    const carol = await signupAndLogin(api.url);
    const Sessions = sessionModel(api.deps.db);
    const expiredId = crypto.createHash('sha256').update(crypto.randomBytes(16)).digest('hex');
    await Sessions.create({ _id: expiredId, userId: carol.userId, expiresAt: new Date(Date.now() - 60_000) });
    const deadline = Date.now() + 15_000;
    while ((await Sessions.countDocuments({ _id: expiredId })) > 0) {
      assert.ok(Date.now() < deadline, 'the expired session is still there after 15 s');
      await sleep(200);
    }
    assert.equal((await fetch(`${api.url}/api/v1/auth/me`, { headers: carol.authHeaders })).status, 200, 'the live session survived');
  });

  it('when NODE_ENV=production, then the session cookie is Secure unless SESSION_COOKIE_SECURE=false says otherwise', async () => {
    for (const [env, secure] of [[{ NODE_ENV: 'production' }, true], [{ NODE_ENV: 'production', SESSION_COOKIE_SECURE: 'false' }, false], [{}, false]] as const) {
      const prod = await startTestApi({ env });
      try {
        const user = await signupAndLogin(prod.url);
        const res = await fetch(`${prod.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user.username, password: user.password }) });
        const token = ((await res.json()) as { token: string }).token;
        registerTestSecret(token);
        const cookie = res.headers.get('set-cookie') ?? '';
        assert.match(cookie, /vmflow_session=/);
        assert.equal(/;\s*Secure/i.test(cookie), secure, `${JSON.stringify(env)}: ${cookie.replace(/=[^;]*/, '=…')}`);
      } finally {
        await prod.close();
      }
    }
  });
});
