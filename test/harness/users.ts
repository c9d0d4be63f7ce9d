/**
 * Members for API tests: `signupAndLogin` makes a fresh member and a session (every password and
 * token is registered as a test secret), and `assertOwnerScoped` checks that routes answer another
 * member 404 — never the owner's data.
 *
 *   const alice = await signupAndLogin(api.url);
 *   const bob = await signupAndLogin(api.url);
 *   await assertOwnerScoped(api.url, { owner: alice, other: bob, requests: [{ method: 'GET', path: `/api/v1/vms/${id}` }] });
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { apiFetch } from './http';
import { registerTestSecret } from './secrets';

export interface TestUser {
  token: string;
  userId: string;
  username: string;
  password: string;
  /** `{ authorization: 'Bearer <token>' }` */
  authHeaders: Record<string, string>;
}

let counter = 0;

/** A username no other test uses (the rules: 3-32 of a-z, 0-9, . _ -). */
export function uniqueUsername(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomBytes(4).toString('hex')}`.toLowerCase().slice(0, 32);
}

/** A password that satisfies the rules and is registered as a test secret. */
export function testPassword(): string {
  const p = `Pw-${crypto.randomBytes(12).toString('base64url')}`;
  registerTestSecret(p);
  return p;
}

async function postJson(url: string, body: unknown): Promise<Response> {
  return apiFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Signs a new member up and logs in; fails the test with the API's answer when either step does. */
export async function signupAndLogin(apiUrl: string, username: string = uniqueUsername()): Promise<TestUser> {
  const password = testPassword();
  const signup = await postJson(`${apiUrl}/api/v1/auth/signup`, { username, password });
  assert.equal(signup.status, 201, `signup of ${username}: ${signup.status} ${await signup.clone().text()}`);
  const login = await postJson(`${apiUrl}/api/v1/auth/login`, { username, password });
  assert.equal(login.status, 200, `login of ${username}: ${login.status} ${await login.clone().text()}`);
  const body = (await login.json()) as { token: string; user: { id: string; username: string } };
  registerTestSecret(body.token);
  return { token: body.token, userId: body.user.id, username: body.user.username, password, authHeaders: { authorization: `Bearer ${body.token}` } };
}

export interface ScopedRequest {
  method: string;
  path: string;
  body?: unknown;
  /** The owner's own request may answer 404 too (e.g. a resource already deleted). Default false. */
  ownerMay404?: boolean;
}

/** Every string and number in a JSON value, for "does this body leak any of it" checks. */
function leaves(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string' && value.length >= 4) out.add(value);
  else if (typeof value === 'number' && Math.abs(value) >= 1000) out.add(String(value));
  else if (Array.isArray(value)) for (const v of value) leaves(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out);
  return out;
}

async function send(apiUrl: string, user: TestUser, r: ScopedRequest): Promise<{ status: number; text: string }> {
  const res = await apiFetch(`${apiUrl}${r.path}`, {
    method: r.method,
    headers: { ...user.authHeaders, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: r.body !== undefined ? JSON.stringify(r.body) : undefined,
  });
  return { status: res.status, text: await res.text() };
}

/**
 * For each request: the other member gets 404 and a body containing none of the owner's resource
 * data (every string of the owner's answer but the path's own words); the owner does not get 404
 * (unless `ownerMay404`). Requests run other-first, so a DELETE by the other member is proven to
 * have done nothing before the owner's DELETE runs.
 */
export async function assertOwnerScoped(apiUrl: string, o: { owner: TestUser; other: TestUser; requests: ScopedRequest[] }): Promise<void> {
  for (const r of o.requests) {
    const theirs = await send(apiUrl, o.other, r);
    assert.equal(theirs.status, 404, `${r.method} ${r.path} as another member: expected 404, got ${theirs.status}: ${theirs.text}`);
    const mine = await send(apiUrl, o.owner, r);
    if (!r.ownerMay404) assert.notEqual(mine.status, 404, `${r.method} ${r.path} as the owner: unexpected 404: ${mine.text}`);
    let ownerData = new Set<string>();
    try {
      ownerData = leaves(JSON.parse(mine.text));
    } catch {
      // an empty or non-JSON owner answer has no data to leak
    }
    for (const word of r.path.split('/')) ownerData.delete(decodeURIComponent(word));
    for (const value of ownerData) {
      assert.ok(!theirs.text.includes(value), `${r.method} ${r.path}: the other member's 404 contains the owner's data ${JSON.stringify(value)}`);
    }
    for (const secret of [o.owner.token, o.owner.password, o.owner.userId, o.owner.username]) {
      assert.ok(!theirs.text.includes(secret), `${r.method} ${r.path}: the other member's 404 mentions the owner`);
    }
  }
}
