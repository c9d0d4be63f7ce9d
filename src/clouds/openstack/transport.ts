/**
 * One HTTP exchange with an OpenStack endpoint over undici, with the error mapping every call
 * shares: a deadline on every call, connection failures → `Network`, deadline → `Timeout`,
 * unexpected status → `kindForHttpStatus` (429/413 → `RateLimited` with `retryAfterMs`). Bodies
 * are always consumed, so keep-alive sockets go back to the pool. Knows nothing about tokens.
 */
import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { outboundRefusal } from '../../outbound/guard';
import { CloudApiError, faultMessage, kindForHttpStatus, parseRetryAfter, type CloudErrorKind } from '../errors';
import { redactUrl } from '../../logger';
import { transportErrorCode, transportErrorKind } from '../transport-errors';
import { callStatus, openstackOperation, recordCloudCall } from '../../metrics/cloud-calls';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** A request body: bytes, text, a stream, or a factory for a fresh stream (replayable on 401). */
export type RequestBody = string | Buffer | Uint8Array | Readable | (() => Readable);

export interface SendOptions {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body?: RequestBody;
  expected: number[];
  /** Deadline for the whole call (for `stream`: until the headers arrive; then an idle timeout). */
  timeoutMs: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** Return the body unread as a stream when the status is expected. */
  stream?: boolean;
}

export interface BufferedResponse {
  status: number;
  headers: ResponseHeaders;
  text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
}

export interface StreamedResponse {
  status: number;
  headers: ResponseHeaders;
  stream: Readable;
}

/** Result of a send: unexpected statuses come back as `error` so the caller can re-auth or retry. */
export type SendResult =
  | { ok: true; response: BufferedResponse | StreamedResponse }
  | { ok: false; response: BufferedResponse; error: CloudApiError };

export function isReplayable(body: RequestBody | undefined): boolean {
  return !(body instanceof Readable);
}

function materialiseBody(body: RequestBody | undefined): string | Buffer | Uint8Array | Readable | undefined {
  return typeof body === 'function' ? body() : body;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Retry-After from the header, or from the `retryAfter` field Nova puts in its overLimit body
 * (`{overLimit:{code, message, retryAfter}}`).
 */
export function retryAfterFrom(headers: ResponseHeaders, json: unknown): number | undefined {
  const fromHeader = parseRetryAfter(headers['retry-after']);
  if (fromHeader !== undefined) return fromHeader;
  if (json && typeof json === 'object') {
    for (const v of Object.values(json as Record<string, unknown>)) {
      const ra = v && typeof v === 'object' ? (v as { retryAfter?: unknown }).retryAfter : undefined;
      if (ra !== undefined && ra !== null) return parseRetryAfter(String(ra));
    }
  }
  return undefined;
}

/**
 * Kind for an unexpected status. 413 is Nova's legacy overLimit (rate limit, with Retry-After) but
 * also Glance's "image too large for your quota"; without any Retry-After hint it is a quota error
 * that no retry can fix, so it is QuotaExceeded instead of RateLimited.
 */
function kindFor(status: number, retryAfterMs: number | undefined): CloudErrorKind {
  if (status === 413 && retryAfterMs === undefined) return 'QuotaExceeded';
  return kindForHttpStatus(status);
}

export function httpError(method: string, url: string, expected: number[], res: BufferedResponse): CloudApiError {
  const retryAfterMs = res.status === 429 || res.status === 413 ? retryAfterFrom(res.headers, res.json) : undefined;
  return new CloudApiError({
    kind: kindFor(res.status, retryAfterMs),
    method,
    url,
    status: res.status,
    expected,
    body: res.text,
    detail: faultMessage(res.json),
    retryAfterMs,
  });
}

/** Sends one request. Throws CloudApiError for transport failures; see SendResult for statuses. */
export async function send(opts: SendOptions): Promise<SendResult> {
  // Every OpenStack call is counted here (vmflow_cloud_api_requests_total): status or transport failure.
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const result = await sendUncounted(opts);
    recordCloudCall('openstack', opts.method, openstackOperation(opts.url), String(result.response.status), seconds());
    return result;
  } catch (err) {
    recordCloudCall('openstack', opts.method, openstackOperation(opts.url), callStatus(undefined, err), seconds());
    throw err;
  }
}

async function sendUncounted(opts: SendOptions): Promise<SendResult> {
  const { method, url, expected, timeoutMs } = opts;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
  const body = materialiseBody(opts.body);
  const streamingUpload = body instanceof Readable;
  let keepTimerForBody = true;
  try {
    const res = await request(url, {
      method,
      headers: opts.headers,
      body,
      signal,
      dispatcher: opts.dispatcher,
      // undici starts its headers timer while a request body may still be uploading; for streamed
      // uploads the overall deadline (transfer timeout) is the guard instead.
      headersTimeout: streamingUpload ? 0 : timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const headers = res.headers as ResponseHeaders;
    if (opts.stream && expected.includes(res.statusCode)) {
      // From here on undici's bodyTimeout (idle time between chunks) guards the transfer, and the
      // caller's signal still aborts it; the overall deadline would cut long downloads short.
      keepTimerForBody = false;
      clearTimeout(timer);
      return { ok: true, response: { status: res.statusCode, headers, stream: res.body } };
    }
    const text = await res.body.text();
    const buffered: BufferedResponse = { status: res.statusCode, headers, text, json: parseJson(text) };
    if (expected.includes(res.statusCode)) return { ok: true, response: buffered };
    return { ok: false, response: buffered, error: httpError(method, url, expected, buffered) };
  } catch (err) {
    if (err instanceof CloudApiError) throw err;
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    const refused = outboundRefusal(err);
    // A member's URL the outbound guard refused: no retry can make it allowed.
    if (refused) throw new CloudApiError({ kind: 'BadRequest', method, url, message: `${method} ${redactUrl(url)}: ${refused.message}`, cause: refused });
    const transportKind = transportErrorKind(err);
    if (deadline.signal.aborted || transportKind === 'Timeout') {
      throw new CloudApiError({
        kind: 'Timeout',
        method,
        url,
        message: `${method} ${url}: no complete answer within ${timeoutMs} ms`,
        cause: err,
      });
    }
    const code = transportErrorCode(err);
    // A malformed URL or argument is our configuration, not the network: retrying cannot help.
    const kind: CloudErrorKind =
      code && transportKind !== 'Network' && (code.startsWith('UND_ERR_INVALID') || code === 'ERR_INVALID_URL') ? 'BadRequest' : 'Network';
    throw new CloudApiError({
      kind,
      method,
      url,
      message: `${method} ${url}: ${code ?? (err as Error)?.message ?? 'request failed'}`,
      cause: err,
    });
  } finally {
    if (keepTimerForBody) clearTimeout(timer);
    if (streamingUpload && !body.destroyed && !body.readableEnded) body.destroy();
  }
}
