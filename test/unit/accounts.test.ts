import assert from 'node:assert/strict';
import { hashPassword, needsRehash, verifyPassword, type ScryptParams } from '../../src/accounts/passwords';
import { loginSchema, signupSchema } from '../../src/accounts/rules';
import { newSessionToken, sessionTokenHash } from '../../src/accounts/sessions';
import { isPublicApiRoute } from '../../api/auth-middleware';

// Cheap parameters keep the unit tests fast; the format and comparison are the same at any cost.
const FAST: ScryptParams = { log2N: 10, r: 8, p: 1 };

describe('accounts: passwords, rules, tokens and the login limiter', () => {
  describe('scrypt password hashes', () => {
    it('when a password is hashed, then the hash carries its parameters and only that password verifies', async () => {
      const hash = await hashPassword('correct horse battery', FAST);
      assert.match(hash, /^scrypt\$10\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
      assert.equal(await verifyPassword(hash, 'correct horse battery', FAST), true);
      assert.equal(await verifyPassword(hash, 'correct horse batterY', FAST), false);
    });

    it('when the same password is hashed twice, then the salts differ', async () => {
      assert.notEqual(await hashPassword('same password', FAST), await hashPassword('same password', FAST));
    });

    it('when the member is unknown (no stored hash), then verification does the work and answers false', async () => {
      assert.equal(await verifyPassword(undefined, 'anything at all', FAST), false);
    });

    it('when a stored hash is corrupt, then verification answers false instead of throwing', async () => {
      assert.equal(await verifyPassword('bcrypt$whatever', 'anything at all', FAST), false);
    });

    it('when the same password is typed in another Unicode form, then NFKC normalisation makes it match', async () => {
      const hash = await hashPassword('ｐａｓｓｗｏｒｄ-ﬁ-1234', FAST);
      assert.equal(await verifyPassword(hash, 'password-fi-1234', FAST), true);
    });

    it('when the configured cost changes, then older hashes still verify and are flagged for rehash', async () => {
      const old = await hashPassword('upgrade me please', FAST);
      const current: ScryptParams = { log2N: 11, r: 8, p: 1 };
      assert.equal(await verifyPassword(old, 'upgrade me please', current), true);
      assert.equal(needsRehash(old, current), true);
      assert.equal(needsRehash(old, FAST), false);
    });
  });

  describe('rules', () => {
    it('when a username has upper-case letters or spaces around it, then it is normalised to lower case', () => {
      const r = signupSchema.safeParse({ username: '  Alice.B ', password: 'a long enough pw' });
      assert.ok(r.success);
      assert.equal(r.data.username, 'alice.b');
      assert.equal(loginSchema.parse({ username: 'ALICE.B', password: 'x' }).username, 'alice.b');
    });
  });

  describe('session tokens', () => {
    it('when a token is made, then it is prefixed, random, and stored as a SHA-256 hex digest', () => {
      const a = newSessionToken();
      assert.match(a, /^vmf_[A-Za-z0-9_-]{43}$/);
      assert.notEqual(a, newSessionToken());
      assert.match(sessionTokenHash(a)!, /^[0-9a-f]{64}$/);
    });

    it('when something not shaped like a token is presented, then it has no hash (no database lookup)', () => {
      for (const t of ['', 'vmf_short', `xyz_${'a'.repeat(43)}`, `vmf_${'a'.repeat(43)}!`]) assert.equal(sessionTokenHash(t), undefined, t);
    });
  });

  describe('public API routes', () => {
    it('when a route is sign-up, login or the catalog, then it is public; anything else is not', () => {
      assert.equal(isPublicApiRoute('POST', '/auth/signup'), true);
      assert.equal(isPublicApiRoute('POST', '/auth/login/'), true);
      assert.equal(isPublicApiRoute('GET', '/catalog'), true);
      assert.equal(isPublicApiRoute('HEAD', '/catalog/os'), true);
      assert.equal(isPublicApiRoute('GET', '/auth/signup'), false);
      assert.equal(isPublicApiRoute('POST', '/catalog'), false);
      assert.equal(isPublicApiRoute('GET', '/catalogue'), false);
      assert.equal(isPublicApiRoute('GET', '/cloud-accounts'), false);
    });
  });
});
