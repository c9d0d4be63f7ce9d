/**
 * The worker's client of the image store (undici). Failures are CloudApiError like every other
 * remote the activities call, so they share one translation to Temporal failures: 400/401/403/404
 * and 422 (checksum mismatch — re-sending the same bytes cannot fix it) are not retryable;
 * 5xx, timeouts and connection errors are. 409 (the key holds different content) is `Conflict`.
 */
import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { CloudApiError, faultMessage, kindForHttpStatus, type CloudErrorKind } from '../clouds/errors';
import { transportErrorKind } from '../clouds/transport-errors';
import { keyToPath, validateKey } from './keys';
import type { SignedUrl } from './signing';
import type { ImageMeta, PutOutcome } from './storage';

export interface ImageStoreClientOptions {
  /** e.g. http://127.0.0.1:8090 */
  baseUrl: string;
  serviceToken: string;
  dispatcher?: Dispatcher;
  /** Deadline for small calls (meta, delete, url); default 30 s. */
  timeoutMs?: number;
  /** An upload fails when no byte moves for this long; default 5 min. */
  idleTimeoutMs?: number;
}

export interface UploadOptions {
  /** Hex sha256 the store must find, or it refuses the upload with 422. */
  expectedSha256?: string;
  /** Hex md5, sent as Content-MD5. */
  expectedMd5?: string;
  /** Sent as Content-Length (otherwise the body is chunked). */
  size?: number;
  /** Replace an existing image that has different content (otherwise 409). */
  overwrite?: boolean;
  signal?: AbortSignal;
  /** Called with the running total of bytes handed to the connection. */
  onProgress?: (bytes: number) => void;
}

export interface UploadResult extends ImageMeta {
  outcome: PutOutcome;
}

type Body = string | Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

function kindFor(status: number): CloudErrorKind {
  return status === 422 ? 'BadRequest' : kindForHttpStatus(status);
}

export class ImageStoreClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: ImageStoreClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 5 * 60_000;
  }

  /** Streams `body` to the store under `key`; resolves with what the store computed. */
  async upload(key: string, body: Body, opts: UploadOptions = {}): Promise<UploadResult> {
    validateKey(key);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (opts.expectedSha256) headers['x-expected-sha256'] = opts.expectedSha256;
    if (opts.expectedMd5) headers['content-md5'] = Buffer.from(opts.expectedMd5, 'hex').toString('base64');
    if (opts.size !== undefined) headers['content-length'] = String(opts.size);
    const source = typeof body === 'string' || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
    const counted = opts.onProgress ? countBytes(source, opts.onProgress) : source;
    const path = `/images/${keyToPath(key)}${opts.overwrite ? '?overwrite=true' : ''}`;
    const res = await this.call('PUT', path, [200, 201], {
      headers,
      body: counted instanceof Readable ? counted : Readable.from(counted),
      signal: opts.signal,
      // The whole transfer may take hours; only a stall is an error.
      timeoutMs: 0,
    });
    return res as UploadResult;
  }

  /** The image's metadata, or undefined when the store has no such key. */
  async meta(key: string, signal?: AbortSignal): Promise<ImageMeta | undefined> {
    validateKey(key);
    try {
      return (await this.call('GET', `/images/${keyToPath(key)}/meta`, [200], { signal })) as ImageMeta;
    } catch (err) {
      if (err instanceof CloudApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Replaces the image's annotations (small JSON kept beside it); undefined when there is no such image. */
  async annotate(key: string, annotations: Record<string, unknown>, signal?: AbortSignal): Promise<ImageMeta | undefined> {
    validateKey(key);
    try {
      return (await this.call('PUT', `/images/${keyToPath(key)}/annotations`, [200], { headers: { 'content-type': 'application/json' }, body: JSON.stringify(annotations), signal })) as ImageMeta;
    } catch (err) {
      if (err instanceof CloudApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(prefix = '', signal?: AbortSignal): Promise<ImageMeta[]> {
    const q = prefix ? `?prefix=${encodeURIComponent(prefix)}` : '';
    return ((await this.call('GET', `/images${q}`, [200], { signal })) as { images: ImageMeta[] }).images;
  }

  /** Deletes the image; succeeds whether or not it existed. */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    validateKey(key);
    await this.call('DELETE', `/images/${keyToPath(key)}`, [204], { signal });
  }

  /** A signed download URL minted by the store (see signDownloadUrl to mint one locally). */
  async downloadUrl(key: string, ttlSeconds: number, signal?: AbortSignal): Promise<SignedUrl> {
    validateKey(key);
    return (await this.call('POST', `/images/${keyToPath(key)}/url`, [200], {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds }),
      signal,
    })) as SignedUrl;
  }

  private async call(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    expected: number[],
    init: { headers?: Record<string, string>; body?: string | Readable; signal?: AbortSignal; timeoutMs?: number },
  ): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    const timeoutMs = init.timeoutMs ?? this.timeoutMs;
    const signals = [init.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => !!s);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers: { authorization: `Bearer ${this.opts.serviceToken}`, ...init.headers },
        body: init.body,
        signal: signals.length ? AbortSignal.any(signals) : undefined,
        dispatcher: this.opts.dispatcher,
        // undici's headers timer runs while a body is still uploading; for uploads the idle
        // timeout on the body is the guard instead.
        headersTimeout: init.body instanceof Readable ? 0 : this.idleTimeoutMs,
        bodyTimeout: this.idleTimeoutMs,
      });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason ?? err;
      const transportKind = transportErrorKind(err);
      const kind: CloudErrorKind = transportKind === 'Timeout' || (err as Error).name === 'TimeoutError' ? 'Timeout' : (transportKind ?? 'Unexpected');
      throw new CloudApiError({ kind, method, url, message: `${method} ${url}: ${kind}: ${(err as Error).message}`, cause: err });
    }
    const text = await res.body.text();
    if (!expected.includes(res.statusCode)) {
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      // The store is ours (operator-configured): its `{error: {code, message}}` message is quoted.
      throw new CloudApiError({ kind: kindFor(res.statusCode), method, url, status: res.statusCode, expected, body: text, detail: faultMessage(json) });
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
  }
}

/** Passes chunks through, reporting the running byte count. */
async function* countBytes(source: Readable | AsyncIterable<Uint8Array>, onProgress: (bytes: number) => void): AsyncIterable<Uint8Array> {
  let total = 0;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    onProgress(total);
    yield chunk;
  }
}
