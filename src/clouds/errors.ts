/**
 * The one error type of every cloud client (OpenStack and CloudStack), shaped like gophercloud's
 * ErrUnexpectedResponseCode: it carries method, URL (credentials redacted), expected and actual
 * status and the response body (on `.body`, not in the message), and says whether retrying can help. Activities turn a
 * non-retryable CloudApiError into ApplicationFailure.nonRetryable with `type = error.kind`.
 */
import { redactUrl } from '../logger';

export type CloudErrorKind =
  | 'BadRequest' // 400 / CloudStack 430, 431, 432: our input is wrong; retrying cannot help
  | 'Unauthorized' // 401 after one re-authentication
  | 'Forbidden' // 403, includes Nova quota exceeded
  | 'NotFound' // 404
  | 'Conflict' // 409 / CloudStack 536 (in use): wrong state now, may clear later
  | 'QuotaExceeded' // CloudStack 532 resource limit
  | 'RateLimited' // 429 / 413 overLimit, honour retryAfterMs
  | 'Unavailable' // 5xx, CloudStack 530/533/534
  | 'Timeout' // no answer within the call's timeout
  | 'Network' // connection refused / reset
  | 'AsyncJobFailed' // CloudStack async job ended with jobstatus 2
  | 'Unexpected'; // any other status

export interface CloudApiErrorInit {
  kind: CloudErrorKind;
  method: string;
  url: string;
  status?: number;
  expected?: number[];
  body?: string;
  /** The cloud's own short error message (a fault's `message`), the only part of a body a message carries. */
  detail?: string;
  message?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

export class CloudApiError extends Error {
  readonly kind: CloudErrorKind;
  readonly method: string;
  readonly url: string;
  readonly status?: number;
  readonly expected?: number[];
  readonly body?: string;
  readonly retryAfterMs?: number;

  constructor(init: CloudApiErrorInit) {
    const url = redactUrl(init.url);
    const what = init.status !== undefined ? `${init.status}` : init.kind;
    const expected = init.expected?.length ? ` (expected ${init.expected.join('/')})` : '';
    // The body stays on `.body` (for code and debugging), never in the message: messages travel
    // into workflow failures and a VM's lastError, which members read, and an upstream body is not
    // theirs to read (a URL pointed at some internal service must not turn into a way to read it).
    super(init.message ?? `${init.method} ${url}: ${what}${expected}${init.detail ? `: ${init.detail}` : ''}`, {
      cause: init.cause,
    });
    this.name = 'CloudApiError';
    this.kind = init.kind;
    this.method = init.method;
    this.url = url;
    this.status = init.status;
    this.expected = init.expected;
    this.body = init.body?.slice(0, 4000);
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Whether the same call may succeed later (the activity retry policy handles these). */
  get retryable(): boolean {
    return ['RateLimited', 'Unavailable', 'Timeout', 'Network', 'Conflict', 'Unexpected'].includes(this.kind);
  }
}

/**
 * The message of an OpenStack fault body — `{"<faultName>": {"code", "message"}}` (Nova, Neutron,
 * Glance) or `{"error": {"code", "message", "title"}}` (Keystone, Heat) — as one printable line of
 * at most 200 characters; undefined for any other body, which is never quoted.
 */
export function faultMessage(json: unknown): string | undefined {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length !== 1) return undefined;
  const fault = entries[0]![1];
  const message = fault && typeof fault === 'object' ? (fault as { message?: unknown }).message : undefined;
  if (typeof message !== 'string' || !message.trim()) return undefined;
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 200);
}

/** gophercloud's responseCodeIs: true when err is a CloudApiError with this HTTP status. */
export function responseCodeIs(err: unknown, status: number): boolean {
  return err instanceof CloudApiError && err.status === status;
}

/** Kind for an HTTP status of an OpenStack service (CloudStack codes are mapped in its client). */
export function kindForHttpStatus(status: number): CloudErrorKind {
  if (status === 400) return 'BadRequest';
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 413 || status === 429) return 'RateLimited';
  if (status >= 500) return 'Unavailable';
  return 'Unexpected';
}

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined | null, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
