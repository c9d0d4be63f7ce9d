/**
 * Expiring download URLs: `/dl/<key>?expires=<unix seconds>&sig=<hex HMAC-SHA256>` where the HMAC
 * covers `GET\n<key>\n<expires>` under the store's signing secret (the shape of a Swift TempURL).
 * HEAD is accepted with a GET signature because downloaders (CloudStack's SSVM, Glance
 * web-download) may probe with HEAD before fetching. Pure functions: the worker mints URLs with the
 * shared secret without a round trip to the store.
 */
import crypto from 'node:crypto';
import { keyToPath, validateKey } from './keys';

/** Longest lifetime of a download URL: a week, enough for a slow template download with resumes. */
export const MAX_URL_TTL_SECONDS = 7 * 24 * 3600;

export interface SignedUrl {
  url: string;
  /** Unix seconds. */
  expires: number;
  /** ISO-8601. */
  expiresAt: string;
}

function hmacHex(secret: string, key: string, expires: number): string {
  return crypto.createHmac('sha256', secret).update(`GET\n${key}\n${expires}`).digest('hex');
}

/**
 * A download URL for `key` valid for `ttlSeconds` from `now` (ms since the epoch or a Date).
 * `baseUrl` is the store's public URL as the downloader sees it (no trailing path needed).
 */
export function signDownloadUrl(
  baseUrl: string,
  key: string,
  ttlSeconds: number,
  secret: string,
  now: number | Date = Date.now(),
): SignedUrl {
  validateKey(key);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_URL_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be an integer between 1 and ${MAX_URL_TTL_SECONDS}`);
  }
  if (!secret) throw new Error('signing secret is empty');
  const nowMs = typeof now === 'number' ? now : now.getTime();
  const expires = Math.floor(nowMs / 1000) + ttlSeconds;
  const base = baseUrl.replace(/\/+$/, '');
  const url = `${base}/dl/${keyToPath(key)}?expires=${expires}&sig=${hmacHex(secret, key, expires)}`;
  return { url, expires, expiresAt: new Date(expires * 1000).toISOString() };
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

/**
 * Checks `expires` and `sig` from a download request. The signature is checked before expiry so a
 * forged URL learns nothing; the comparison is constant-time.
 */
export function verifyDownloadSignature(
  key: string,
  expiresParam: string | null,
  sigParam: string | null,
  secret: string,
  nowMs: number = Date.now(),
): SignatureCheck {
  if (!expiresParam || !/^\d{1,12}$/.test(expiresParam) || !sigParam || !/^[0-9a-fA-F]{64}$/.test(sigParam)) {
    return { ok: false, reason: 'malformed' };
  }
  const expires = Number(expiresParam);
  const expected = Buffer.from(hmacHex(secret, key, expires), 'hex');
  const given = Buffer.from(sigParam, 'hex');
  if (!crypto.timingSafeEqual(expected, given)) return { ok: false, reason: 'bad-signature' };
  if (Math.floor(nowMs / 1000) > expires) return { ok: false, reason: 'expired' };
  return { ok: true };
}
