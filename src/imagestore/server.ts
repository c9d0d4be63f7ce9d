/**
 * The image store's HTTP service ("the web server" of the seed): backups and failback images are
 * uploaded here by the worker, and CloudStack ("register template from URL") or Glance
 * (web-download import) fetch them through expiring signed URLs.
 *
 *   PUT    /images/<key>[?overwrite=true]  streamed upload (Bearer); X-Expected-Sha256 / Content-MD5
 *                                          verified → 422; 201 created, 200 same content, 409 differs
 *   GET    /images[?prefix=]               list (Bearer)
 *   GET    /images/<key>/meta              {key,size,sha256,md5,created} (Bearer)
 *   DELETE /images/<key>                   204, idempotent (Bearer)
 *   POST   /images/<key>/url {ttlSeconds}  {url, expires, expiresAt} (Bearer)
 *   GET|HEAD /dl/<key>?expires=&sig=       the bytes; Range → 206; no other auth
 *   GET    /healthz
 *
 * Plain node:http rather than express: every route streams or is a few lines, and the raw path
 * must be seen before any normalisation so `..` and `%2F` in keys are refused, not resolved.
 * Errors are `{error: {code, message}}` like the REST API's.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { listen } from '../listen';
import { logger as rootLogger, redactUrl, type Logger } from '../logger';
import { InvalidKeyError, keyFromPathSegments } from './keys';
import { MAX_URL_TTL_SECONDS, signDownloadUrl, verifyDownloadSignature } from './signing';
import { ChecksumMismatchError, ImageStorage, KeyConflictError, TooLargeError, type ImageMeta } from './storage';

export interface ImageStoreOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Storage directory (created if missing). */
  dir: string;
  /** Bearer token for the management routes, shared with the worker. */
  serviceToken: string;
  /** HMAC key of download URLs, shared with the worker so it can mint URLs itself. */
  signingSecret: string;
  /** Base URL downloaders use to reach this store (default: the listen URL). */
  publicUrl?: string;
  /** Largest accepted upload in bytes (default: unlimited). */
  maxBytes?: number;
  logger?: Logger;
  /** Clock for URL expiry (ms since the epoch); tests move it. */
  now?: () => number;
}

export interface RunningImageStore {
  /** Where this process listens, e.g. http://127.0.0.1:8090. */
  url: string;
  port: number;
  /** Base of the download URLs it signs. */
  publicUrl: string;
  storage: ImageStorage;
  stop(): Promise<void>;
}

const DEFAULT_TTL_SECONDS = 3600;
const MAX_JSON_BODY = 4096;
// A multi-gigabyte upload legitimately takes longer than Node's default 5-minute request
// timeout; a connection that moves no bytes for this long is dead instead.
const IDLE_SOCKET_TIMEOUT_MS = 5 * 60_000;

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const sha256Of = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Constant-time comparison of a presented bearer token (hashing first equalises the lengths). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && crypto.timingSafeEqual(sha256Of(m[1]), sha256Of(token));
}

function parseExpectedSha256(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = String(value).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(v)) throw new HttpError(400, 'bad_request', 'X-Expected-Sha256 must be 64 hex digits');
  return v.toLowerCase();
}

/** Content-MD5 is the base64 of the 16-byte digest (RFC 1864); returned as hex. */
function parseContentMd5(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = String(value).trim();
  const bytes = /^[A-Za-z0-9+/]{22}==$/.test(v) ? Buffer.from(v, 'base64') : undefined;
  if (!bytes || bytes.length !== 16) throw new HttpError(400, 'bad_request', 'Content-MD5 must be the base64 of a 16-byte MD5 digest');
  return bytes.toString('hex');
}

/** One `bytes=` range (multi-range requests get the whole body, which RFC 9110 allows). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

async function readJsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_JSON_BODY) throw new HttpError(413, 'too_large', `JSON body over ${MAX_JSON_BODY} bytes`);
  }
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'bad_request', 'body must be a JSON object');
}

function metaBody(meta: ImageMeta): ImageMeta {
  return { key: meta.key, size: meta.size, sha256: meta.sha256, md5: meta.md5, created: meta.created, ...(meta.annotations ? { annotations: meta.annotations } : {}) };
}

export function createImageStoreHandler(
  storage: ImageStorage,
  opts: Pick<ImageStoreOptions, 'serviceToken' | 'signingSecret' | 'maxBytes' | 'now'> & { publicUrl: () => string; log: Logger },
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const now = opts.now ?? Date.now;
  const log = opts.log;

  const requireAuth = (req: http.IncomingMessage) => {
    if (!bearerMatches(req.headers.authorization, opts.serviceToken)) {
      throw new HttpError(401, 'unauthorized', 'a valid "Authorization: Bearer <service token>" header is required', {
        headers: { 'WWW-Authenticate': 'Bearer realm="vmflow-imagestore"' },
      });
    }
  };

  const upload = async (req: http.IncomingMessage, res: http.ServerResponse, key: string, query: URLSearchParams) => {
    const expectedSha256 = parseExpectedSha256(req.headers['x-expected-sha256']);
    const expectedMd5 = parseContentMd5(req.headers['content-md5']);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (opts.maxBytes !== undefined && declared > opts.maxBytes) throw new TooLargeError(opts.maxBytes);
    const overwrite = ['true', '1'].includes(query.get('overwrite') ?? '');
    const { meta, outcome } = await storage.put(key, req, { expectedSha256, expectedMd5, overwrite, maxBytes: opts.maxBytes });
    log.info({ key, size: meta.size, sha256: meta.sha256, outcome }, 'image stored');
    sendJson(res, outcome === 'created' ? 201 : 200, { ...metaBody(meta), outcome });
  };

  const signUrl = async (req: http.IncomingMessage, res: http.ServerResponse, key: string) => {
    const body = await readJsonBody(req);
    const ttl = body.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_URL_TTL_SECONDS) {
      throw new HttpError(400, 'bad_request', `ttlSeconds must be an integer between 1 and ${MAX_URL_TTL_SECONDS}`);
    }
    if (!(await storage.meta(key))) throw new HttpError(404, 'not_found', `no image '${key}'`);
    const signed = signDownloadUrl(opts.publicUrl(), key, ttl, opts.signingSecret, now());
    sendJson(res, 200, signed);
  };

  const download = async (req: http.IncomingMessage, res: http.ServerResponse, key: string, query: URLSearchParams) => {
    const check = verifyDownloadSignature(key, query.get('expires'), query.get('sig'), opts.signingSecret, now());
    if (!check.ok) {
      const message = check.reason === 'expired' ? 'download URL expired' : 'download URL signature invalid';
      throw new HttpError(403, 'forbidden', message);
    }
    const opened = await storage.open(key);
    if (!opened) throw new HttpError(404, 'not_found', `no image '${key}'`);
    const { meta, handle } = opened;
    let handleOwnedByStream = false;
    try {
      const etag = `"${meta.sha256}"`;
      const ifRange = req.headers['if-range'];
      let range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, meta.size) : undefined;
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${key.split('/').pop()}"`,
        'Accept-Ranges': 'bytes',
        ETag: etag,
        'X-Checksum-Sha256': meta.sha256,
        'Last-Modified': new Date(meta.created).toUTCString(),
        'Cache-Control': 'private, no-store',
      };
      if (range === 'unsatisfiable') {
        sendJson(res, 416, { error: { code: 'range_not_satisfiable', message: `image is ${meta.size} bytes` } }, { 'Content-Range': `bytes */${meta.size}` });
        return;
      }
      if (range && range.start === 0 && range.end === meta.size - 1) range = undefined;
      if (range) {
        headers['Content-Range'] = `bytes ${range.start}-${range.end}/${meta.size}`;
        headers['Content-Length'] = range.end - range.start + 1;
      } else {
        // Content-MD5 describes the body sent, so only a whole-image answer carries it.
        headers['Content-MD5'] = Buffer.from(meta.md5, 'hex').toString('base64');
        headers['Content-Length'] = meta.size;
      }
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === 'HEAD' || meta.size === 0) {
        res.end();
        return;
      }
      const stream = handle.createReadStream(range ? { start: range.start, end: range.end } : { start: 0 });
      handleOwnedByStream = true; // autoClose closes the handle when the stream ends or is destroyed
      await pipeline(stream, res);
    } finally {
      if (!handleOwnedByStream) await handle.close();
    }
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    // Split the raw path ourselves: WHATWG URL parsing would resolve `..` before we could refuse it.
    const segments = rawPath.split('/').slice(1);
    const method = req.method ?? 'GET';
    const [area, ...rest] = segments;

    if (area === 'healthz' && rest.length === 0 && (method === 'GET' || method === 'HEAD')) {
      return sendJson(res, 200, { ok: true });
    }
    if (area === 'dl' && rest.length > 0) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'downloads are GET or HEAD', { headers: { Allow: 'GET, HEAD' } });
      return download(req, res, keyFromPathSegments(rest), query);
    }
    if (area === 'images') {
      requireAuth(req);
      if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
        if (method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'GET /images lists images', { headers: { Allow: 'GET' } });
        return sendJson(res, 200, { images: (await storage.list(query.get('prefix') ?? '')).map(metaBody) });
      }
      const last = rest[rest.length - 1];
      if (method === 'GET' && last === 'meta' && rest.length > 1) {
        const key = keyFromPathSegments(rest.slice(0, -1));
        const meta = await storage.meta(key);
        if (!meta) throw new HttpError(404, 'not_found', `no image '${key}'`);
        return sendJson(res, 200, metaBody(meta));
      }
      if (method === 'POST' && last === 'url' && rest.length > 1) return signUrl(req, res, keyFromPathSegments(rest.slice(0, -1)));
      if (method === 'PUT' && last === 'annotations' && rest.length > 1) {
        const key = keyFromPathSegments(rest.slice(0, -1));
        const meta = await storage.annotate(key, await readJsonBody(req));
        if (!meta) throw new HttpError(404, 'not_found', `no image '${key}'`);
        return sendJson(res, 200, metaBody(meta));
      }
      if (method === 'PUT') return upload(req, res, keyFromPathSegments(rest), query);
      if (method === 'DELETE') {
        const key = keyFromPathSegments(rest);
        const removed = await storage.delete(key);
        if (removed) log.info({ key }, 'image deleted');
        res.writeHead(204).end();
        return;
      }
      throw new HttpError(405, 'method_not_allowed', `${method} is not supported here`, { headers: { Allow: 'PUT, DELETE, GET (…/meta), POST (…/url)' } });
    }
    throw new HttpError(404, 'not_found', 'no such route');
  };

  const toHttpError = (err: unknown): HttpError | undefined => {
    if (err instanceof HttpError) return err;
    if (err instanceof InvalidKeyError) return new HttpError(400, 'invalid_key', err.message);
    if (err instanceof ChecksumMismatchError) {
      return new HttpError(422, 'checksum_mismatch', err.message, { body: { algorithm: err.algorithm, expected: err.expected, actual: err.actual } });
    }
    if (err instanceof KeyConflictError) return new HttpError(409, 'conflict', err.message, { body: { existing: metaBody(err.existing) } });
    if (err instanceof TooLargeError) return new HttpError(413, 'too_large', err.message, { headers: { Connection: 'close' } });
    return undefined;
  };

  return (req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      log.info({ method: req.method, url: redactUrl(req.url ?? ''), status: res.statusCode, ms: Date.now() - started }, 'request');
    });
    route(req, res).catch((err: unknown) => {
      const httpErr = toHttpError(err);
      // (req.destroyed alone says nothing: a fully read request is auto-destroyed.)
      if (res.headersSent || res.destroyed || req.socket.destroyed) {
        // The client went away mid-transfer (or we failed mid-stream): nothing left to answer.
        if (!httpErr) log.warn({ err, method: req.method, url: redactUrl(req.url ?? '') }, 'transfer aborted');
        res.destroy();
        return;
      }
      if (!httpErr) log.error({ err, method: req.method, url: redactUrl(req.url ?? '') }, 'request failed');
      const e = httpErr ?? new HttpError(500, 'internal', 'internal error');
      const { headers, body } = e.extra as { headers?: http.OutgoingHttpHeaders; body?: Record<string, unknown> };
      // An early refusal leaves an upload body unread; closing the connection is cheaper than
      // draining gigabytes we are not going to keep.
      const unread = !req.readableEnded && req.method === 'PUT';
      sendJson(res, e.status, { error: { code: e.code, message: e.message, ...body } }, { ...headers, ...(unread ? { Connection: 'close' } : {}) });
    });
  };
}

/** Starts the store; `stop()` closes the server and every open connection. */
export async function startImageStore(opts: ImageStoreOptions): Promise<RunningImageStore> {
  if (!opts.serviceToken) throw new Error('image store: serviceToken is required');
  if (!opts.signingSecret) throw new Error('image store: signingSecret is required');
  const storage = new ImageStorage(opts.dir);
  await storage.init();
  const log = (opts.logger ?? rootLogger).child({ component: 'imagestore' });
  let publicUrl = opts.publicUrl?.replace(/\/+$/, '') ?? '';
  const handler = createImageStoreHandler(storage, { ...opts, publicUrl: () => publicUrl, log });
  const server = http.createServer(handler);
  server.requestTimeout = 0;
  server.timeout = IDLE_SOCKET_TIMEOUT_MS;
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  if (!publicUrl) publicUrl = url;
  log.info({ url, publicUrl, dir: opts.dir }, 'image store listening');
  return {
    url,
    port,
    publicUrl,
    storage,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
