/**
 * AES-256-GCM for secrets at rest: `{kid, iv, tag, ct}` (base64 fields), with the key id stored
 * beside the ciphertext so a rotated keyring still opens old records. The key is derived from the
 * keyring's raw key with HKDF under a purpose label, and the caller's associated data (for
 * example `cloud-account:<id>:password`) binds a ciphertext to its record and field: copying it
 * into another record makes decryption fail instead of leaking a secret into the wrong place.
 */
import crypto from 'node:crypto';
import type { Keyring } from './keyring';

export interface EncryptedSecret {
  kid: string;
  iv: string;
  tag: string;
  ct: string;
}

export class SecretDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretDecryptionError';
  }
}

/** Purpose labels for HKDF; changing one makes every ciphertext of that purpose unreadable. */
export const KEY_PURPOSE = {
  secretsAtRest: 'vmflow/secrets-at-rest/v1',
  temporalPayloads: 'vmflow/temporal-payload-codec/v1',
} as const;

const derived = new WeakMap<Buffer, Map<string, Buffer>>();

/** HKDF-SHA256(raw key, label) → 32-byte key; memoised per raw key and label. */
export function deriveKey(raw: Buffer, label: string): Buffer {
  let byLabel = derived.get(raw);
  if (!byLabel) derived.set(raw, (byLabel = new Map()));
  let key = byLabel.get(label);
  if (!key) {
    key = Buffer.from(crypto.hkdfSync('sha256', raw, Buffer.alloc(0), Buffer.from(label, 'utf8'), 32));
    byLabel.set(label, key);
  }
  return key;
}

export function purposeKey(keyring: Keyring, kid: string, label: string): Buffer | undefined {
  const raw = keyring.keys.get(kid);
  return raw ? deriveKey(raw, label) : undefined;
}

export function encryptSecret(keyring: Keyring, plaintext: string, aad: string): EncryptedSecret {
  const kid = keyring.currentKid;
  const key = purposeKey(keyring, kid, KEY_PURPOSE.secretsAtRest)!;
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

export function decryptSecret(keyring: Keyring, enc: EncryptedSecret, aad: string): string {
  const key = purposeKey(keyring, enc.kid, KEY_PURPOSE.secretsAtRest);
  if (!key) throw new SecretDecryptionError(`no key with id ${enc.kid} in the keyring (was it removed before every secret was re-encrypted?)`);
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(enc.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(enc.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(enc.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptionError(`secret (key ${enc.kid}) failed authentication: tampered, moved to another record, or a wrong key`);
  }
}

/** True when the secret was made with an older key and should be re-encrypted. */
export function needsReencryption(keyring: Keyring, enc: EncryptedSecret): boolean {
  return enc.kid !== keyring.currentKid;
}
