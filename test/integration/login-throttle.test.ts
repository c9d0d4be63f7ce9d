/**
 * Issue 12, item 6: login throttling that cannot be turned against a member. Each test performs an
 * attack on a real API (FerretDB counters) and shows it fails:
 *   - lock-out: wrong passwords for a member's username from the attacker's address do not stop
 *     the owner's right password from another address;
 *   - X-Forwarded-For spoofing: a client naming a new address in every request is still one
 *     address (the header is believed only from configured proxies);
 *   - two API processes: failures counted by one are refused by the other (shared counters);
 *   - a concurrent burst does not slip more guesses past the limit than it allows.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';
import { registerTestSecret } from '../harness/secrets';
import { signupAndLogin, testPassword, uniqueUsername } from '../harness/users';

function login(apiUrl: string, username: string, password: string, forwardedFor?: string): Promise<Response> {
  return apiFetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ username, password }),
  });
}

async function tokenOf(res: Response): Promise<string> {
  const body = (await res.json()) as { token: string };
  registerTestSecret(body.token);
  return body.token;
}

/** A documentation-range address (RFC 5737) no other test uses. */
const testAddress = (net: '192.0.2' | '198.51.100' | '203.0.113') => `${net}.${crypto.randomInt(1, 255)}`;

describe('login throttling (issue 12 item 6): cannot be turned against a member', function () {
  this.timeout(120_000);

  describe('behind a configured proxy (X-Forwarded-For believed from loopback)', () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi({ env: { VMFLOW_TRUSTED_PROXIES: '127.0.0.1', LOGIN_RATE_LIMIT_PER_USERNAME: '3', LOGIN_RATE_LIMIT_PER_ADDRESS: '10', LOGIN_RATE_LIMIT_WINDOW_SECONDS: '600' } });
    });
    after(async () => {
      await api?.close();
    });

    it('when an attacker fails logins for a member from their address, then the owner still logs in from theirs and the attacker is refused even with the right password', async () => {
      const victim = await signupAndLogin(api.url);
      const attacker = testAddress('203.0.113');
      const owner = testAddress('198.51.100');
      const wrong = testPassword();
      for (let i = 0; i < 3; i++) assert.equal((await login(api.url, victim.username, wrong, attacker)).status, 401, `attempt ${i + 1}`);
      const attackerAgain = await login(api.url, victim.username, victim.password, attacker);
      assert.equal(attackerAgain.status, 429, 'the attacker\'s address is limited for this username');
      assert.ok(Number(attackerAgain.headers.get('retry-after')) > 0);

      const ownerLogin = await login(api.url, victim.username, victim.password, owner);
      assert.equal(ownerLogin.status, 200, 'the owner is not locked out from an address that has not failed');
      await tokenOf(ownerLogin);
    });

    it('when one address fails across many usernames, then it is limited per address, and another address is not', async () => {
      const sprayer = testAddress('192.0.2');
      const statuses: number[] = [];
      for (let i = 0; i < 12 && statuses.at(-1) !== 429; i++) statuses.push((await login(api.url, uniqueUsername('spray'), testPassword(), sprayer)).status);
      assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
      const member = await signupAndLogin(api.url);
      const elsewhere = await login(api.url, member.username, member.password, testAddress('198.51.100'));
      assert.equal(elsewhere.status, 200);
      await tokenOf(elsewhere);
    });
  });

  describe('with the default configuration (no trusted proxy)', () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi({ env: { LOGIN_RATE_LIMIT_PER_USERNAME: '3', LOGIN_RATE_LIMIT_PER_ADDRESS: '5', LOGIN_RATE_LIMIT_WINDOW_SECONDS: '600' } });
    });
    after(async () => {
      await api?.close();
    });

    it('when a client names a new X-Forwarded-For address in every attempt, then it is still one address and is refused after the per-address limit', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 8 && statuses.at(-1) !== 429; i++) {
        statuses.push((await login(api.url, uniqueUsername('xff'), testPassword(), testAddress('203.0.113'))).status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    });
  });

  describe('two API processes sharing the database', () => {
    let a: TestApi;
    let b: TestApi;
    before(async () => {
      const limiterNamespace = `shared-${crypto.randomBytes(4).toString('hex')}-`;
      const env = { LOGIN_RATE_LIMIT_PER_USERNAME: '3', LOGIN_RATE_LIMIT_PER_ADDRESS: '50', LOGIN_RATE_LIMIT_WINDOW_SECONDS: '600' };
      a = await startTestApi({ env, limiterNamespace });
      b = await startTestApi({ env, limiterNamespace });
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    it('when failures are spread over both processes, then the limit counts them together', async () => {
      const victim = await signupAndLogin(a.url);
      const wrong = testPassword();
      assert.equal((await login(a.url, victim.username, wrong)).status, 401);
      assert.equal((await login(b.url, victim.username, wrong)).status, 401);
      assert.equal((await login(a.url, victim.username, wrong)).status, 401);
      assert.equal((await login(b.url, victim.username, wrong)).status, 429, 'the second process knows of the first one\'s failures');
      assert.equal((await login(a.url, victim.username, wrong)).status, 429);
    });

    it('when a burst of wrong passwords arrives at once on both processes, then no more than the limit are tried', async () => {
      const victim = await signupAndLogin(a.url);
      const wrong = testPassword();
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => login(i % 2 ? a.url : b.url, victim.username, wrong)));
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 401 || s === 429), statuses.join(','));
      const tried = statuses.filter((s) => s === 401).length;
      assert.ok(tried <= 3 && tried >= 1, `${tried} passwords were tried (limit 3): ${statuses.join(',')}`);
    });
  });
});
