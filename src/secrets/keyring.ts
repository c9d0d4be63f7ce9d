/**
 * The encryption keyring: named 256-bit keys, the first of which encrypts, all of which decrypt,
 * so keys can be rotated (put the new key first, keep the old ones until every ciphertext has
 * been rewritten, then drop them). Secrets at rest and Temporal payloads use keys *derived* from
 * these with HKDF under a purpose label, so one raw key never serves two purposes.
 *
 * Source, in order: `VMFLOW_ENCRYPTION_KEYS` (`kid:base64(32 bytes)`, comma-separated); otherwise,
 * outside production, a key generated once into `<VMFLOW_DATA_DIR>/secrets/keys` (mode 0600).
 * With NODE_ENV=production and no variable, start-up fails naming the variable.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config';
import type { Logger } from '../logger';

export const ENCRYPTION_KEYS_ENV = 'VMFLOW_ENCRYPTION_KEYS';
const KID_RE = /^[A-Za-z0-9_.-]{1,32}$/;

export interface Keyring {
  /** Id of the key new ciphertext is made with. */
  readonly currentKid: string;
  /** Raw key by id; includes the current one. */
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** Parses `kid:base64,kid:base64`; throws an Error whose message says which entry is wrong. */
export function parseKeyring(spec: string): Keyring {
  const entries = spec
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('no keys given; expected kid:base64(32 bytes)[,kid:base64…]');
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const kid = colon > 0 ? entry.slice(0, colon) : '';
    if (!KID_RE.test(kid)) throw new Error(`entry ${i + 1}: key id must be 1-32 of [A-Za-z0-9_.-] followed by ':'`);
    const b64 = entry.slice(colon + 1);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error(`entry ${i + 1} (${kid}): the key must be 32 bytes in base64`);
    if (keys.has(kid)) throw new Error(`entry ${i + 1}: key id ${kid} appears twice`);
    keys.set(kid, key);
  });
  return { currentKid: entries[0]!.slice(0, entries[0]!.indexOf(':')), keys };
}

export function formatKeyring(k: Keyring): string {
  const order = [k.currentKid, ...[...k.keys.keys()].filter((kid) => kid !== k.currentKid)];
  return order.map((kid) => `${kid}:${k.keys.get(kid)!.toString('base64')}`).join(',');
}

/** A fresh random key with a date-stamped id (`k20250101-ab12`). */
export function generateKey(): { kid: string; key: Buffer } {
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  return { kid: `k${day}-${crypto.randomBytes(2).toString('hex')}`, key: crypto.randomBytes(32) };
}

export function keyringOf(...keys: Array<{ kid: string; key: Buffer }>): Keyring {
  if (keys.length === 0) throw new Error('a keyring needs at least one key');
  return { currentKid: keys[0]!.kid, keys: new Map(keys.map((k) => [k.kid, k.key])) };
}

/** The embedded default's key file: `<dataDir>/secrets/keys`. */
export function keyFilePath(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'keys');
}

/**
 * Reads the key file, creating it on first use. Creation writes a temporary file and hard-links it
 * into place, so when the API and the worker start together exactly one key wins and neither ever
 * reads a half-written file.
 */
export function readOrCreateKeyFile(file: string): { keyring: Keyring; created: boolean } {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, `${formatKeyring(keyringOf(generateKey()))}\n`, { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
      return { keyring: parseKeyring(fs.readFileSync(file, 'utf8')), created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return { keyring: parseKeyring(fs.readFileSync(file, 'utf8')), created: false };
}

export interface KeyringSource {
  encryptionKeys?: string;
  nodeEnv: string;
  dataDir: string;
}

/** The keyring for a process (API or worker), per the rules at the top of this file. */
export function loadKeyring(config: KeyringSource, log?: Logger): Keyring {
  if (config.encryptionKeys) {
    try {
      return parseKeyring(config.encryptionKeys);
    } catch (err) {
      throw new ConfigError([`${ENCRYPTION_KEYS_ENV}: ${(err as Error).message}`]);
    }
  }
  if (config.nodeEnv === 'production') {
    throw new ConfigError([
      `${ENCRYPTION_KEYS_ENV} is required when NODE_ENV=production: set it to kid:base64(32 random bytes), e.g. k1:$(openssl rand -base64 32)`,
    ]);
  }
  const file = keyFilePath(config.dataDir);
  const { keyring, created } = readOrCreateKeyFile(file);
  log?.warn(
    { keyFile: file, created },
    `encryption key read from ${file}; production must set ${ENCRYPTION_KEYS_ENV} (kept outside the data directory and backed up)`,
  );
  return keyring;
}
