/**
 * Issue 12, item 5: what a stranger (no session) can make the API spend. Each test performs the
 * attack on a real API and shows it is bounded:
 *   - a sign-up flood from one address, and from many, is refused past the limits (429);
 *   - while a flood of sign-ups hashes passwords, a member's login does not wait for all of them
 *     (the hashing gate lets logins go first) — shown by order of answers, not by timing;
 *   - /codec answers a caller without credentials 401 before it reads the body.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { CODEC_ENDPOINT_PATH } from '../../api/routes/codec';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';
import { registerTestSecret } from '../harness/secrets';
import { signupAndLogin, testPassword, uniqueUsername } from '../harness/users';

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return apiFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

const testAddress = (net: '192.0.2' | '198.51.100' | '203.0.113') => `${net}.${crypto.randomInt(1, 255)}`;

describe('unauthenticated cost (issue 12 item 5)', function () {
  this.timeout(180_000);

  describe('sign-up limits', () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi({
        env: { VMFLOW_TRUSTED_PROXIES: '127.0.0.1', SIGNUP_RATE_LIMIT_PER_ADDRESS: '3', SIGNUP_RATE_LIMIT_GLOBAL: '8', SIGNUP_RATE_LIMIT_WINDOW_SECONDS: '3600', PASSWORD_SCRYPT_LOG2N: '14' },
      });
    });
    after(async () => {
      await api?.close();
    });

    it('when one address signs up again and again, then it is refused with 429 and Retry-After past the per-address limit, while another address still signs up', async () => {
      const flooder = testAddress('203.0.113');
      const statuses: number[] = [];
      for (let i = 0; i < 5 && statuses.at(-1) !== 429; i++) {
        statuses.push((await post(`${api.url}/api/v1/auth/signup`, { username: uniqueUsername('flood'), password: testPassword() }, { 'x-forwarded-for': flooder })).status);
      }
      assert.deepEqual(statuses, [201, 201, 201, 429]);
      const refused = await post(`${api.url}/api/v1/auth/signup`, { username: uniqueUsername('flood'), password: testPassword() }, { 'x-forwarded-for': flooder });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'too_many_requests');
      const other = await post(`${api.url}/api/v1/auth/signup`, { username: uniqueUsername('fine'), password: testPassword() }, { 'x-forwarded-for': testAddress('198.51.100') });
      assert.equal(other.status, 201);
    });

    it('when sign-ups come from many addresses, then the global limit refuses them past it', async () => {
      // 4 sign-ups counted above (3 + 1), the global limit is 8.
      const statuses: number[] = [];
      for (let i = 0; i < 8 && statuses.at(-1) !== 429; i++) {
        statuses.push((await post(`${api.url}/api/v1/auth/signup`, { username: uniqueUsername('many'), password: testPassword() }, { 'x-forwarded-for': `192.0.2.${10 + i}` })).status);
      }
      assert.deepEqual(statuses, [201, 201, 201, 201, 429]);
    });
  });

  describe('password hashing under a sign-up flood', () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi({ env: { PASSWORD_HASH_CONCURRENCY: '2' } });
    });
    after(async () => {
      await api?.close();
    });

    it('when 20 sign-ups hash their passwords at once, then a member\'s login is answered before most of them', async () => {
      const member = await signupAndLogin(api.url);
      let signupsDone = 0;
      let firstDone!: () => void;
      const first = new Promise<void>((resolve) => (firstDone = resolve));
      const flood = Array.from({ length: 20 }, () =>
        post(`${api.url}/api/v1/auth/signup`, { username: uniqueUsername('flood'), password: testPassword() }).then((res) => {
          signupsDone += 1;
          firstDone();
          return res.status;
        }),
      );
      // Once one sign-up has hashed, the others are all queued for hashing.
      await first;
      const login = await post(`${api.url}/api/v1/auth/login`, { username: member.username, password: member.password });
      const doneWhenLoggedIn = signupsDone;
      assert.equal(login.status, 200);
      registerTestSecret(((await login.json()) as { token: string }).token);
      const statuses = await Promise.all(flood);
      assert.deepEqual([...new Set(statuses)], [201], 'every sign-up of the flood went through in the end');
      assert.ok(doneWhenLoggedIn <= 6, `the login waited for ${doneWhenLoggedIn} of 20 sign-ups`);
    });
  });

  describe('/codec', () => {
    let api: TestApi;
    before(async () => {
      api = await startTestApi({ env: { VMFLOW_CODEC_TOKEN: `codec-${crypto.randomBytes(24).toString('base64url')}` } });
    });
    after(async () => {
      await api?.close();
    });

    for (const [label, body] of [
      ['a malformed body', `{"payloads": [${'x'.repeat(64 * 1024)}`],
      ['a body over the 16 MB limit', JSON.stringify({ payloads: [{ metadata: {}, data: 'A'.repeat(17 * 1024 * 1024) }] })],
    ] as const) {
      it(`when a caller without credentials sends ${label}, then 401 answers before the body is read`, async () => {
        const res = await apiFetch(`${api.url}${CODEC_ENDPOINT_PATH}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        assert.equal(res.status, 401);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
      });
    }

    it('when a member who is not an operator sends a large body, then 403 answers before the body is read', async () => {
      const member = await signupAndLogin(api.url);
      const res = await apiFetch(`${api.url}${CODEC_ENDPOINT_PATH}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...member.authHeaders }, body: `{"payloads": [${'x'.repeat(64 * 1024)}` });
      assert.equal(res.status, 403);
    });
  });
});
