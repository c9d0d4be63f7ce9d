/**
 * Image keys: one or more `/`-separated segments of `[A-Za-z0-9._-]`, e.g.
 * `vm-42/backup-20250101T000000Z.qcow2`. No segment may be `.` or `..` or start with a dot, so a
 * key can never leave the store's directory nor collide with its temp files. Keys are stored flat
 * (see storage.ts), so `a` and `a/b` can both exist.
 */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
// Kept short enough that the on-disk names (key + "." + sha256) stay under the 255-byte file-name limit.
export const MAX_KEY_LENGTH = 160;

export class InvalidKeyError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`invalid image key ${JSON.stringify(key.slice(0, 100))}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

/** Returns the key unchanged when valid; throws InvalidKeyError saying why otherwise. */
export function validateKey(key: string): string {
  if (key.length === 0) throw new InvalidKeyError(key, 'empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidKeyError(key, `longer than ${MAX_KEY_LENGTH} characters`);
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment)) {
      throw new InvalidKeyError(key, 'segments must be non-empty, use only A-Z a-z 0-9 . _ - and not start with a dot');
    }
  }
  return key;
}

/**
 * The key from raw (still percent-encoded) path segments. Each segment is decoded on its own, so
 * an encoded `/` or `..` (`%2F`, `%2e%2e`) is refused rather than smuggled into the key.
 */
export function keyFromPathSegments(rawSegments: string[]): string {
  const decoded = rawSegments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new InvalidKeyError(rawSegments.join('/'), 'bad percent-encoding');
    }
  });
  for (const s of decoded) if (s.includes('/')) throw new InvalidKeyError(decoded.join('/'), 'encoded "/" in a segment');
  return validateKey(decoded.join('/'));
}

/** The key as a URL path (segments percent-encoded; valid keys need none, but be safe). */
export function keyToPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
