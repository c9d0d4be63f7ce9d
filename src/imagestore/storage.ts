/**
 * The image store's files. Layout under `dir`:
 *   tmp/<random>.part            uploads in flight (removed on failure and at start-up)
 *   blobs/<name>.<sha256>        image bytes, never modified after the rename that creates them
 *   meta/<name>.json             {key, size, sha256, md5, created, blob} — the commit record
 * where <name> is the key with `/` replaced by `~` (not a key character, so the mapping is
 * one-to-one and flat). An image exists exactly when its meta file exists; the meta file is
 * written by an atomic rename after the blob is durable, so a crash leaves either the old image,
 * the new one, or an unreferenced blob that start-up removes — never a torn image. Readers that
 * opened a blob keep reading it even if an overwrite or delete unlinks it meanwhile (POSIX).
 *
 * Uploads stream through a hashing pass to a temp file with backpressure, so memory stays
 * constant whatever the image size. Commits of one key are serialised in-process; run one store
 * process per directory.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { validateKey } from './keys';

export interface ImageMeta {
  key: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /** Lower-case hex (Glance `checksum`, CloudStack template checksum). */
  md5: string;
  /** ISO-8601 time this content was stored. */
  created: string;
  /**
   * Small JSON the owner keeps beside the content (vmflow: the backup record, so the catalog can
   * be rebuilt from the store); replaced whole by `annotate`, gone with the image.
   */
  annotations?: Record<string, unknown>;
}

interface StoredMeta extends ImageMeta {
  blob: string;
}

export type PutOutcome = 'created' | 'unchanged' | 'replaced';

export interface PutOptions {
  /** Lower-case or upper-case hex; the upload is refused (and nothing stored) when it differs. */
  expectedSha256?: string;
  /** Hex md5 (from a `Content-MD5` header, converted by the caller). */
  expectedMd5?: string;
  /** Replace an existing image with different content instead of refusing with KeyConflictError. */
  overwrite?: boolean;
  /** Refuse bodies larger than this many bytes (TooLargeError). */
  maxBytes?: number;
}

export class ChecksumMismatchError extends Error {
  constructor(readonly algorithm: 'sha256' | 'md5', readonly expected: string, readonly actual: string) {
    super(`${algorithm} mismatch: expected ${expected}, received content has ${actual}`);
    this.name = 'ChecksumMismatchError';
  }
}

export class KeyConflictError extends Error {
  constructor(readonly existing: ImageMeta, readonly uploadedSha256: string) {
    super(`image '${existing.key}' already exists with different content (sha256 ${existing.sha256}); use overwrite to replace it`);
    this.name = 'KeyConflictError';
  }
}

export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`image larger than the limit of ${maxBytes} bytes`);
    this.name = 'TooLargeError';
  }
}

export interface OpenedImage {
  meta: ImageMeta;
  /** Absolute path of the blob, for callers that stream ranges themselves. */
  file: string;
}

const fileName = (key: string) => key.replaceAll('/', '~');

function publicMeta(m: StoredMeta): ImageMeta {
  return { key: m.key, size: m.size, sha256: m.sha256, md5: m.md5, created: m.created, ...(m.annotations ? { annotations: m.annotations } : {}) };
}

export class ImageStorage {
  private readonly tmpDir: string;
  private readonly blobDir: string;
  private readonly metaDir: string;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {
    this.tmpDir = path.join(dir, 'tmp');
    this.blobDir = path.join(dir, 'blobs');
    this.metaDir = path.join(dir, 'meta');
  }

  /** Creates the layout and removes what a crash may have left: temp files and unreferenced blobs. */
  async init(): Promise<void> {
    for (const d of [this.tmpDir, this.blobDir, this.metaDir]) await fsp.mkdir(d, { recursive: true });
    for (const f of await fsp.readdir(this.tmpDir)) await fsp.rm(path.join(this.tmpDir, f), { force: true });
    const referenced = new Set((await this.readAllMeta()).map((m) => m.blob));
    for (const f of await fsp.readdir(this.blobDir)) {
      if (!referenced.has(f)) await fsp.rm(path.join(this.blobDir, f), { force: true });
    }
  }

  /** Streams `source` into the store under `key`; see PutOptions for checks. */
  async put(key: string, source: Readable | AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<{ meta: ImageMeta; outcome: PutOutcome }> {
    validateKey(key);
    const tmp = path.join(this.tmpDir, `${crypto.randomBytes(12).toString('hex')}.part`);
    const sha256 = crypto.createHash('sha256');
    const md5 = crypto.createHash('md5');
    let size = 0;
    const maxBytes = opts.maxBytes;
    try {
      await pipeline(
        source,
        async function* hash(chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (maxBytes !== undefined && size > maxBytes) throw new TooLargeError(maxBytes);
            sha256.update(chunk);
            md5.update(chunk);
            yield chunk;
          }
        },
        fs.createWriteStream(tmp, { flags: 'wx' }),
      );
      const digest = { sha256: sha256.digest('hex'), md5: md5.digest('hex') };
      if (opts.expectedSha256 && opts.expectedSha256.toLowerCase() !== digest.sha256) {
        throw new ChecksumMismatchError('sha256', opts.expectedSha256.toLowerCase(), digest.sha256);
      }
      if (opts.expectedMd5 && opts.expectedMd5.toLowerCase() !== digest.md5) {
        throw new ChecksumMismatchError('md5', opts.expectedMd5.toLowerCase(), digest.md5);
      }
      await fsyncFile(tmp);
      return await this.withKeyLock(key, () => this.commit(key, tmp, { size, ...digest }, opts.overwrite ?? false));
    } finally {
      // After a successful commit the temp file was renamed away; otherwise it must not linger.
      await fsp.rm(tmp, { force: true });
    }
  }

  private async commit(
    key: string,
    tmp: string,
    content: { size: number; sha256: string; md5: string },
    overwrite: boolean,
  ): Promise<{ meta: ImageMeta; outcome: PutOutcome }> {
    const existing = await this.readMeta(key);
    if (existing && existing.sha256 === content.sha256 && existing.size === content.size) {
      return { meta: publicMeta(existing), outcome: 'unchanged' };
    }
    if (existing && !overwrite) throw new KeyConflictError(publicMeta(existing), content.sha256);
    const blob = `${fileName(key)}.${content.sha256}`;
    await fsp.rename(tmp, path.join(this.blobDir, blob));
    const meta: StoredMeta = { key, ...content, created: new Date().toISOString(), blob };
    await this.writeMeta(meta);
    if (existing && existing.blob !== blob) await fsp.rm(path.join(this.blobDir, existing.blob), { force: true });
    return { meta: publicMeta(meta), outcome: existing ? 'replaced' : 'created' };
  }

  async meta(key: string): Promise<ImageMeta | undefined> {
    const m = await this.readMeta(validateKey(key));
    return m && publicMeta(m);
  }

  /** Every image, sorted by key; `prefix` filters by key prefix. */
  async list(prefix = ''): Promise<ImageMeta[]> {
    const all = await this.readAllMeta();
    return all
      .filter((m) => m.key.startsWith(prefix))
      .map(publicMeta)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Replaces the image's annotations; undefined when there is no such image. */
  async annotate(key: string, annotations: Record<string, unknown>): Promise<ImageMeta | undefined> {
    validateKey(key);
    return this.withKeyLock(key, async () => {
      const existing = await this.readMeta(key);
      if (!existing) return undefined;
      const meta: StoredMeta = { ...existing, annotations };
      await this.writeMeta(meta);
      return publicMeta(meta);
    });
  }

  /** Removes the image; false when there was none (deleting is idempotent). */
  async delete(key: string): Promise<boolean> {
    validateKey(key);
    return this.withKeyLock(key, async () => {
      const existing = await this.readMeta(key);
      if (!existing) return false;
      await fsp.rm(this.metaPath(key), { force: true });
      await fsp.rm(path.join(this.blobDir, existing.blob), { force: true });
      return true;
    });
  }

  /**
   * The image's metadata and an open file handle on its blob, or undefined when it does not
   * exist. The handle pins the bytes even if the image is replaced or deleted while it is read.
   */
  async open(key: string): Promise<{ meta: ImageMeta; handle: fsp.FileHandle } | undefined> {
    validateKey(key);
    // An overwrite between reading the meta and opening the blob removes the old blob; the meta
    // then names a new one, so one more look settles it.
    for (let attempt = 0; attempt < 2; attempt++) {
      const m = await this.readMeta(key);
      if (!m) return undefined;
      try {
        return { meta: publicMeta(m), handle: await fsp.open(path.join(this.blobDir, m.blob), 'r') };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return undefined;
  }

  private metaPath(key: string): string {
    return path.join(this.metaDir, `${fileName(key)}.json`);
  }

  private async readMeta(key: string): Promise<StoredMeta | undefined> {
    try {
      return JSON.parse(await fsp.readFile(this.metaPath(key), 'utf8')) as StoredMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async readAllMeta(): Promise<StoredMeta[]> {
    const out: StoredMeta[] = [];
    for (const f of await fsp.readdir(this.metaDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await fsp.readFile(path.join(this.metaDir, f), 'utf8')) as StoredMeta);
      } catch (err) {
        // Deleted while listing.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }

  private async writeMeta(meta: StoredMeta): Promise<void> {
    const tmp = path.join(this.tmpDir, `${crypto.randomBytes(12).toString('hex')}.meta`);
    await fsp.writeFile(tmp, JSON.stringify(meta), { flag: 'wx' });
    await fsyncFile(tmp);
    await fsp.rename(tmp, this.metaPath(meta.key));
  }

  /** Runs `fn` after every earlier call for the same key has finished (a per-key mutex). */
  private async withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const current = previous.then(fn, fn);
    const tail = current.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
