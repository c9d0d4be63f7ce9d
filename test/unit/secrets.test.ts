import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/config';
import {
  decryptSecret,
  encryptSecret,
  formatKeyring,
  keyringOf,
  loadKeyring,
  needsReencryption,
  parseKeyring,
  SecretDecryptionError,
  type EncryptedSecret,
} from '../../src/secrets';
import { findSecretLeaks, registerTestSecret } from '../harness/secrets';

const key = (kid: string) => ({ kid, key: crypto.randomBytes(32) });

describe('secrets: AES-256-GCM at rest with a rotating keyring', () => {
  it('when a secret is encrypted and decrypted with the same keyring and record, then the plaintext comes back', () => {
    const ring = keyringOf(key('k1'));
    const enc = encryptSecret(ring, 'open sesame ✓', 'cloud-account:a1:password');
    assert.equal(enc.kid, 'k1');
    assert.ok(!enc.ct.includes('open sesame'));
    assert.equal(Buffer.from(enc.iv, 'base64').length, 12);
    assert.equal(Buffer.from(enc.tag, 'base64').length, 16);
    assert.equal(decryptSecret(ring, enc, 'cloud-account:a1:password'), 'open sesame ✓');
  });

  it('when the same secret is encrypted twice, then the ciphertexts differ (fresh IV)', () => {
    const ring = keyringOf(key('k1'));
    const a = encryptSecret(ring, 'same', 'x');
    const b = encryptSecret(ring, 'same', 'x');
    assert.notEqual(a.iv, b.iv);
    assert.notEqual(a.ct, b.ct);
  });

  it('when a new key is put first, then new secrets use it and secrets of the old key id still decrypt', () => {
    const old = key('old');
    const before = keyringOf(old);
    const enc = encryptSecret(before, 'legacy', 'aad');
    const rotated = keyringOf(key('new'), old);
    assert.equal(decryptSecret(rotated, enc, 'aad'), 'legacy');
    assert.equal(needsReencryption(rotated, enc), true);
    const fresh = encryptSecret(rotated, 'fresh', 'aad');
    assert.equal(fresh.kid, 'new');
    assert.equal(needsReencryption(rotated, fresh), false);
  });

  it('when the old key has been dropped from the keyring, then decryption fails naming the key id', () => {
    const enc = encryptSecret(keyringOf(key('gone')), 'x', 'aad');
    assert.throws(() => decryptSecret(keyringOf(key('other')), enc, 'aad'), (e: Error) => e instanceof SecretDecryptionError && /gone/.test(e.message));
  });

  for (const field of ['ct', 'tag', 'iv'] as const) {
    it(`when the ${field} is tampered with, then decryption fails`, () => {
      const ring = keyringOf(key('k1'));
      const enc = encryptSecret(ring, 'do not touch', 'aad');
      const bytes = Buffer.from(enc[field], 'base64');
      bytes[0] = bytes[0]! ^ 0x01;
      const tampered: EncryptedSecret = { ...enc, [field]: bytes.toString('base64') };
      assert.throws(() => decryptSecret(ring, tampered, 'aad'), SecretDecryptionError);
    });
  }

  it('when a ciphertext is moved to another record (other associated data), then decryption fails', () => {
    const ring = keyringOf(key('k1'));
    const enc = encryptSecret(ring, 'belongs to a1', 'cloud-account:a1:password');
    assert.throws(() => decryptSecret(ring, enc, 'cloud-account:a2:password'), SecretDecryptionError);
  });

  it('when a keyring string is parsed, then the first key is current and formatting round-trips', () => {
    const a = crypto.randomBytes(32).toString('base64');
    const b = crypto.randomBytes(32).toString('base64');
    const ring = parseKeyring(`k2:${a}, k1:${b}`);
    assert.equal(ring.currentKid, 'k2');
    assert.deepEqual([...ring.keys.keys()], ['k2', 'k1']);
    assert.equal(formatKeyring(ring), `k2:${a},k1:${b}`);
  });

  it('when a keyring string is malformed, then parsing fails saying which entry', () => {
    const good = crypto.randomBytes(32).toString('base64');
    assert.throws(() => parseKeyring(`k1:${good},k2:${crypto.randomBytes(16).toString('base64')}`), /entry 2 \(k2\): the key must be 32 bytes/);
    assert.throws(() => parseKeyring(`k1:${good},k1:${good}`), /appears twice/);
    assert.throws(() => parseKeyring(good), /entry 1: key id/);
  });

  describe('loadKeyring', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-keys-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('when NODE_ENV=production and no key is configured, then start-up fails naming VMFLOW_ENCRYPTION_KEYS', () => {
      assert.throws(
        () => loadKeyring({ nodeEnv: 'production', dataDir: dir }),
        (e: Error) => e instanceof ConfigError && /VMFLOW_ENCRYPTION_KEYS/.test(e.message),
      );
      assert.equal(fs.existsSync(path.join(dir, 'secrets')), false);
    });

    it('when no key is configured outside production, then one key is generated once into secrets/keys with mode 0600', () => {
      const first = loadKeyring({ nodeEnv: 'development', dataDir: dir });
      const file = path.join(dir, 'secrets', 'keys');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const second = loadKeyring({ nodeEnv: 'development', dataDir: dir });
      assert.equal(second.currentKid, first.currentKid);
      assert.ok(second.keys.get(first.currentKid)!.equals(first.keys.get(first.currentKid)!));
    });

    it('when the variable is set, then it wins over the key file, and a malformed value names the variable but not the value', () => {
      const b64 = crypto.randomBytes(32).toString('base64');
      assert.equal(loadKeyring({ nodeEnv: 'production', dataDir: dir, encryptionKeys: `prod1:${b64}` }).currentKid, 'prod1');
      assert.throws(
        () => loadKeyring({ nodeEnv: 'production', dataDir: dir, encryptionKeys: 'prod1:c2hvcnQ=' }),
        (e: Error) => e instanceof ConfigError && /VMFLOW_ENCRYPTION_KEYS/.test(e.message) && !e.message.includes('c2hvcnQ='),
      );
    });
  });

  describe('the test-run log check', () => {
    it('when a registered secret is in a log file, then the check reports file and line but never the secret', () => {
      const secret = `leak-${crypto.randomBytes(12).toString('hex')}`;
      registerTestSecret(secret);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-leak-')), 'x.log');
      try {
        fs.writeFileSync(file, `{"msg":"fine"}\n{"msg":"oops","password":"${secret}"}\n`);
        const leaks = findSecretLeaks([file]);
        assert.equal(leaks.length, 1);
        assert.equal(leaks[0]!.line, 2);
        assert.ok(!JSON.stringify(leaks).includes(secret));
        fs.writeFileSync(file, '{"msg":"fine"}\n');
        assert.deepEqual(findSecretLeaks([file]), []);
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
    });
  });
});
