/**
 * CloudStack API request signing, computed exactly as the management server verifies it
 * (ApiServer.verifyRequest): every parameter except `signature`, sorted by name as received
 * (case-sensitive, UTF-16 order like Java's String.compareTo), each `name=` + Java
 * URLEncoder.encode(value) with `+` turned into `%20`, joined with `&`, the whole string
 * lower-cased, HMAC-SHA1 with the secret key, standard padded Base64.
 *
 * Shared by the client (signing) and the simulator (verifying), so both agree by construction;
 * the unit test pins the algorithm to the published vector.
 */
import crypto from 'node:crypto';

/** Parameter names the server treats case-insensitively (ApiConstants compared with equalsIgnoreCase). */
const SIGNATURE = 'signature';
const API_KEY = 'apikey';
const SIGNATURE_VERSION = 'signatureversion';
const EXPIRES = 'expires';

/**
 * Java's URLEncoder.encode(value, "UTF-8") followed by replaceAll("\\+", "%20"): everything except
 * [A-Za-z0-9.*_-] is percent-encoded byte by byte (so `~` becomes %7E and a space %20).
 */
export function javaUrlEncode(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    const keep =
      (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2a || b === 0x5f || b === 0x2d;
    out += keep ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The string that is HMAC'd: sorted `name=value` pairs of all parameters but `signature`, lower-cased. */
export function canonicalString(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((name) => name.toLowerCase() !== SIGNATURE)
    .sort()
    .map((name) => `${name}=${javaUrlEncode(params[name] ?? '')}`)
    .join('&')
    .toLowerCase();
}

/** Base64 HMAC-SHA1 signature of a parameter set (the value to send as `signature`). */
export function signRequest(params: Record<string, string>, secretKey: string): string {
  return crypto.createHmac('sha1', Buffer.from(secretKey, 'utf8')).update(canonicalString(params), 'utf8').digest('base64');
}

/** `expires` in the form real clients send: `%Y-%m-%dT%H:%M:%S+0000` (UTC). */
export function formatExpires(at: Date): string {
  return `${at.toISOString().slice(0, 19)}+0000`;
}

const EXPIRES_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses `expires` as `yyyy-MM-ddTHH:mm:ss+hhmm` (Java's "yyyy-MM-dd'T'HH:mm:ssZ") or RFC 3339
 * (`Z`, `+hh:mm`, optional fraction). Returns undefined when it is neither.
 */
export function parseExpires(value: string): Date | undefined {
  const m = EXPIRES_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, zone] = m;
  let offsetMin = 0;
  if (zone !== 'Z') {
    const digits = zone!.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(utc);
  // Reject calendar overflow (2021-02-31) that Date.UTC would silently roll over.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  return new Date(utc - offsetMin * 60_000);
}

export interface SignOptions {
  /**
   * When set, the request uses signatureVersion=3 and expires this many seconds from now, so a
   * captured URL stops working. 0 or undefined sends an unversioned signature.
   */
  expiresInSeconds?: number;
  /** Clock for `expires` (tests). */
  now?: Date;
}

/**
 * All parameters a signed request carries: the caller's, plus apiKey, response=json (unless
 * given), signatureVersion/expires when asked for, and signature.
 */
export function signedParams(
  params: Record<string, string>,
  credentials: { apiKey: string; secretKey: string },
  opts: SignOptions = {},
): Record<string, string> {
  const all: Record<string, string> = { response: 'json', ...params, apiKey: credentials.apiKey };
  if (opts.expiresInSeconds && opts.expiresInSeconds > 0) {
    const now = opts.now ?? new Date();
    all.signatureVersion = '3';
    all.expires = formatExpires(new Date(now.getTime() + opts.expiresInSeconds * 1000));
  }
  all.signature = signRequest(all, credentials.secretKey);
  return all;
}

/** Encodes parameters as a query string or form body (values Java-encoded, which the server decodes). */
export function encodeParams(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${javaUrlEncode(k)}=${javaUrlEncode(v)}`)
    .join('&');
}

/** The signed query string for a request (`command=…&apiKey=…&signature=…`). */
export function buildSignedQuery(
  params: Record<string, string>,
  credentials: { apiKey: string; secretKey: string },
  opts: SignOptions = {},
): string {
  return encodeParams(signedParams(params, credentials, opts));
}

export type VerifyResult =
  | { ok: true; apiKey: string }
  | { ok: false; reason: 'missing-signature' | 'missing-apikey' | 'unknown-apikey' | 'missing-expires' | 'bad-expires' | 'expired' | 'bad-signature' };

/** Finds a parameter whose name matches case-insensitively (as ApiServer does for these names). */
function paramIgnoringCase(params: Record<string, string>, lowerName: string): string | undefined {
  for (const [k, v] of Object.entries(params)) if (k.toLowerCase() === lowerName) return v;
  return undefined;
}

/**
 * Verifies a request as the management server does. `secretFor` maps an apiKey to its secret
 * (undefined when no user has that key). The comparison is constant-time.
 */
export function verifySignature(
  params: Record<string, string>,
  secretFor: (apiKey: string) => string | undefined,
  now: Date = new Date(),
): VerifyResult {
  const signature = paramIgnoringCase(params, SIGNATURE);
  const apiKey = paramIgnoringCase(params, API_KEY);
  if (signature === undefined || signature === '') return { ok: false, reason: 'missing-signature' };
  if (apiKey === undefined || apiKey === '') return { ok: false, reason: 'missing-apikey' };
  if (paramIgnoringCase(params, SIGNATURE_VERSION) === '3') {
    const expires = paramIgnoringCase(params, EXPIRES);
    if (expires === undefined) return { ok: false, reason: 'missing-expires' };
    const at = parseExpires(expires);
    if (!at) return { ok: false, reason: 'bad-expires' };
    if (at.getTime() < now.getTime()) return { ok: false, reason: 'expired' };
  }
  const secret = secretFor(apiKey);
  if (secret === undefined) return { ok: false, reason: 'unknown-apikey' };
  const expected = Buffer.from(signRequest(params, secret));
  const given = Buffer.from(signature);
  const equal = expected.length === given.length && crypto.timingSafeEqual(expected, given);
  return equal ? { ok: true, apiKey } : { ok: false, reason: 'bad-signature' };
}
