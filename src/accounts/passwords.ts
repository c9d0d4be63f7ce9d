/**
 * Password hashing with scrypt (node:crypto), which is memory-hard: N = 2^17, r = 8, p = 1 by
 * default (128 MiB and about a quarter second per hash), a 16-byte random salt and a 32-byte key.
 * The parameters are stored inside each hash — `scrypt$<log2N>$<r>$<p>$<salt b64>$<key b64>` — so
 * raising the cost later (PASSWORD_SCRYPT_LOG2N) never locks anyone out. Comparison is
 * constant-time (timingSafeEqual).
 *
 * `verifyPassword(undefined, …)` hashes against a dummy with the current parameters, so an unknown
 * user costs the same work as a wrong password and timing does not tell which usernames exist.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { normalizePassword } from './rules';

const scrypt = promisify(crypto.scrypt) as (password: crypto.BinaryLike, salt: crypto.BinaryLike, keylen: number, options: crypto.ScryptOptions) => Promise<Buffer>;

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { log2N: 17, r: 8, p: 1 };
const KEY_LEN = 32;
const SALT_LEN = 16;

/** scrypt needs 128·N·r bytes; node's default cap (32 MiB) is below N = 2^17. */
function maxmem({ log2N, r }: ScryptParams): number {
  return 128 * 2 ** log2N * r + 16 * 1024 * 1024;
}

async function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return scrypt(normalizePassword(password), salt, KEY_LEN, { N: 2 ** params.log2N, r: params.r, p: params.p, maxmem: maxmem(params) });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = crypto.randomBytes(SALT_LEN);
  const key = await derive(password, salt, params);
  return ['scrypt', params.log2N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [log2N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![log2N, r, p].every((n) => Number.isInteger(n) && n > 0) || log2N > 22) return undefined;
  return { log2N, r, p, salt: Buffer.from(parts[4]!, 'base64'), key: Buffer.from(parts[5]!, 'base64') };
}

const dummies = new Map<string, Promise<string>>();

/** A hash of a random password with the given parameters, made once per parameter set. */
function dummyHash(params: ScryptParams): Promise<string> {
  const k = `${params.log2N}/${params.r}/${params.p}`;
  let h = dummies.get(k);
  if (!h) dummies.set(k, (h = hashPassword(crypto.randomBytes(16).toString('hex'), params)));
  return h;
}

/**
 * True when `password` matches `stored`. With `stored` undefined (no such user) the same work is
 * done against a dummy hash and the answer is false.
 */
export async function verifyPassword(stored: string | undefined, password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<boolean> {
  const parsed = parseHash(stored ?? (await dummyHash(params)));
  if (!parsed) {
    // A corrupt stored hash: do the work anyway, then refuse.
    await derive(password, crypto.randomBytes(SALT_LEN), params);
    return false;
  }
  const key = await derive(password, parsed.salt, parsed);
  const equal = key.length === parsed.key.length && crypto.timingSafeEqual(key, parsed.key);
  return equal && stored !== undefined;
}

/** True when the hash was made with other parameters than the current ones (rehash after login). */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.log2N !== params.log2N || parsed.r !== params.r || parsed.p !== params.p;
}
