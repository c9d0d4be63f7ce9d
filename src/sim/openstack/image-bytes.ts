/**
 * Image bytes without holding them in memory. Generated images (seeded public images and Nova
 * snapshots) are an AES-256-CTR keystream keyed by a name: deterministic, fast (GB/s), and
 * seekable, so a Range request starts mid-stream without producing the bytes before it.
 * Stored images (uploads, imports) are files; both are hashed (md5 + sha512) while streaming.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ImageData } from './model';

const CHUNK = 256 * 1024;

function counterIv(block: bigint): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(block >> 64n, 0);
  iv.writeBigUInt64BE(block & 0xffffffffffffffffn, 8);
  return iv;
}

/** Bytes [start, endInclusive] of the generated image named `key`. */
export function generatedStream(key: string, size: number, start = 0, endInclusive = size - 1): Readable {
  const aesKey = crypto.createHash('sha256').update(`vmflow-sim-bytes:${key}`).digest();
  const firstBlock = Math.floor(start / 16);
  const cipher = crypto.createCipheriv('aes-256-ctr', aesKey, counterIv(BigInt(firstBlock)));
  let skip = start - firstBlock * 16;
  let remaining = Math.max(0, endInclusive - start + 1);
  const zeros = Buffer.alloc(CHUNK + 16);
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, remaining);
      let out = cipher.update(zeros.subarray(0, n + skip));
      if (skip) {
        out = out.subarray(skip);
        skip = 0;
      }
      remaining -= out.length;
      this.push(out);
    },
  });
}

export interface Digest {
  size: number;
  md5: string;
  sha512: string;
}

/** A pass-through that measures and hashes what flows through it. */
export class HashingStream extends Transform {
  private readonly md5 = crypto.createHash('md5');
  private readonly sha512 = crypto.createHash('sha512');
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.md5.update(chunk);
    this.sha512.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  digest(): Digest {
    return { size: this.size, md5: this.md5.digest('hex'), sha512: this.sha512.digest('hex') };
  }
}

/** Hashes a whole stream (yielding to the event loop between chunks; abortable). */
export async function hashStream(stream: Readable, signal?: AbortSignal): Promise<Digest> {
  const md5 = crypto.createHash('md5');
  const sha512 = crypto.createHash('sha512');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    }
    md5.update(chunk);
    sha512.update(chunk);
    size += chunk.length;
    await new Promise<void>((r) => setImmediate(r));
  }
  return { size, md5: md5.digest('hex'), sha512: sha512.digest('hex') };
}

export function dataSize(data: ImageData): number {
  return data.kind === 'generated' ? data.size : fs.statSync(data.path).size;
}

/** Bytes [start, end] of an image's data. */
export function openData(data: ImageData, start: number, endInclusive: number): Readable {
  if (data.kind === 'generated') return generatedStream(data.key, data.size, start, endInclusive);
  return fs.createReadStream(data.path, { start, end: endInclusive, highWaterMark: CHUNK });
}
