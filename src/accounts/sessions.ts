/**
 * Session tokens: 32 random bytes (base64url) behind a `vmf_` prefix — the prefix lets secret
 * scanners recognise a leaked token. Only SHA-256(token) is stored; the token itself exists in the
 * client's hands and in the login answer, nowhere else. A plain hash (not scrypt) is right here:
 * the token has 256 bits of entropy, so there is nothing to brute-force.
 */
import crypto from 'node:crypto';

export const TOKEN_PREFIX = 'vmf_';
const TOKEN_RE = /^vmf_[A-Za-z0-9_-]{43}$/;

export function newSessionToken(): string {
  return `${TOKEN_PREFIX}${crypto.randomBytes(32).toString('base64url')}`;
}

/** The stored form of a token; undefined for anything that is not shaped like one (no lookup). */
export function sessionTokenHash(token: string): string | undefined {
  if (!TOKEN_RE.test(token)) return undefined;
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}
