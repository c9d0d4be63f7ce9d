/**
 * An authenticated OpenStack session: token cache with expiry skew, one re-authentication on 401
 * (one refresh in flight per account, shared by every concurrent caller and by every session that
 * shares the TokenCache), endpoint lookup from the catalog, a deadline on every call, and an
 * optional single short wait-and-retry on 429.
 *
 * Rate limits: the client waits and retries at most once, and only when the server asks for at
 * most `rateLimitRetryMaxMs` (default 2 s) and the body can be replayed. Longer waits surface as
 * CloudApiError RateLimited with `retryAfterMs`, for the activity retry policy to honour: a
 * sleeping HTTP client would hold an activity slot without heartbeating.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { logger as rootLogger, type Logger } from '../../logger';
import { sleep } from '../../sleep';
import { authenticate, normalizeAuthUrl, resolveEndpoint, type AuthToken, type EndpointInterface, type OpenStackCredentials } from './identity';
import { isReplayable, send, type HttpMethod, type RequestBody, type ResponseHeaders } from './transport';

export type { OpenStackCredentials } from './identity';

/** Identifies an account: same key ⇒ same token is valid. The password is fingerprinted, so a
 *  changed password never reuses a token obtained with the old one. */
export function accountKey(c: OpenStackCredentials): string {
  const fingerprint = createHash('sha256').update(c.password).digest('hex').slice(0, 16);
  return [
    normalizeAuthUrl(c.authUrl),
    c.userId ?? `${c.userDomainId ?? c.userDomainName ?? ''}/${c.username ?? ''}`,
    c.projectId ?? `${c.projectDomainId ?? c.projectDomainName ?? ''}/${c.projectName ?? ''}`,
    fingerprint,
  ].join('|');
}

/**
 * Tokens per account, shareable between sessions (one per worker activity, say) so an account
 * authenticates once, not once per session. Also holds the in-flight authentication per account.
 */
export class TokenCache {
  private readonly tokens = new Map<string, AuthToken>();
  private readonly inflight = new Map<string, Promise<AuthToken>>();

  get(key: string): AuthToken | undefined {
    return this.tokens.get(key);
  }

  set(key: string, token: AuthToken): void {
    this.tokens.set(key, token);
  }

  /** Drops the cached token, but only if it is the one that was rejected (a newer one stays). */
  invalidate(key: string, rejectedToken?: string): void {
    const current = this.tokens.get(key);
    if (current && (rejectedToken === undefined || current.token === rejectedToken)) this.tokens.delete(key);
  }

  /** Runs `authenticate` unless one is already running for this key, in which case joins it. */
  refresh(key: string, authenticateFn: () => Promise<AuthToken>): Promise<AuthToken> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = authenticateFn()
      .then((t) => {
        this.tokens.set(key, t);
        return t;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  clear(): void {
    this.tokens.clear();
  }
}

/** Process-wide cache used when a session is not given one. */
export const sharedTokenCache = new TokenCache();

export interface SessionOptions {
  tokenCache?: TokenCache;
  /** Re-authenticate this long before expires_at. Default 60 s. */
  expirySkewMs?: number;
  /** Default deadline of a call. Default 30 s. */
  timeoutMs?: number;
  /** Default deadline of a call with a streamed request body (image upload). Default 6 h. */
  transferTimeoutMs?: number;
  /** Longest Retry-After the session waits out itself, once. 0 disables. Default 2 s. */
  rateLimitRetryMaxMs?: number;
  /** Catalog bypass per service type, for clouds whose catalog URLs are unreachable from here. */
  endpointOverrides?: Record<string, string>;
  dispatcher?: Dispatcher;
  logger?: Logger;
  userAgent?: string;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export type QueryValue = string | number | boolean | undefined | null | Array<string | number>;

export interface RequestOptions {
  /** Catalog service type: compute, image, orchestration, network, … */
  service: string;
  method: HttpMethod;
  /** Path below the service endpoint, starting with '/'. */
  path: string;
  query?: Record<string, QueryValue> | URLSearchParams;
  json?: unknown;
  body?: RequestBody;
  headers?: Record<string, string>;
  expected: number[];
  signal?: AbortSignal;
  timeoutMs?: number;
  stream?: boolean;
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: ResponseHeaders;
  json: T;
  text: string;
  url: string;
}

export interface StreamResponse {
  status: number;
  headers: ResponseHeaders;
  stream: Readable;
  url: string;
}

/** Waits for a shared promise, but lets this caller stop waiting when its own signal aborts. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export function buildQuery(query: RequestOptions['query']): string {
  if (!query) return '';
  if (query instanceof URLSearchParams) return query.toString();
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
    else params.append(k, String(v));
  }
  return params.toString();
}

export class OpenStackSession {
  readonly accountKey: string;
  private readonly cache: TokenCache;
  private readonly expirySkewMs: number;
  private readonly timeoutMs: number;
  private readonly transferTimeoutMs: number;
  private readonly rateLimitRetryMaxMs: number;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly credentials: OpenStackCredentials,
    private readonly options: SessionOptions = {},
  ) {
    this.accountKey = accountKey(credentials);
    this.cache = options.tokenCache ?? sharedTokenCache;
    this.expirySkewMs = options.expirySkewMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.transferTimeoutMs = options.transferTimeoutMs ?? 6 * 3600_000;
    this.rateLimitRetryMaxMs = options.rateLimitRetryMaxMs ?? 2_000;
    this.log = (options.logger ?? rootLogger).child({ component: 'openstack' });
    this.now = options.now ?? Date.now;
  }

  get region(): string | undefined {
    return this.credentials.region;
  }

  get interface(): EndpointInterface {
    return this.credentials.interface ?? 'public';
  }

  private fresh(t: AuthToken | undefined): t is AuthToken {
    return !!t && this.now() < t.expiresAt - this.expirySkewMs;
  }

  /** A token valid for at least the skew; authenticates (once per account at a time) if needed. */
  async token(signal?: AbortSignal): Promise<AuthToken> {
    const cached = this.cache.get(this.accountKey);
    if (this.fresh(cached)) return cached;
    const refresh = this.cache.refresh(this.accountKey, async () => {
      const started = this.now();
      const tok = await authenticate(this.credentials, {
        timeoutMs: this.timeoutMs,
        // The shared refresh must not die with whichever caller happened to start it.
        signal: undefined,
        dispatcher: this.options.dispatcher,
        userAgent: this.options.userAgent,
        now: started,
      });
      this.log.debug(
        { authUrl: normalizeAuthUrl(this.credentials.authUrl), project: tok.project?.name ?? tok.project?.id, expiresAt: new Date(tok.expiresAt).toISOString() },
        'keystone token issued',
      );
      return tok;
    });
    return abortable(refresh, signal);
  }

  /** Forgets the cached token (only if it is still `rejected`, when given). */
  invalidateToken(rejected?: string): void {
    this.cache.invalidate(this.accountKey, rejected);
  }

  /** Endpoint URL (no trailing slash) of a service type, from the catalog unless overridden. */
  async endpoint(service: string, signal?: AbortSignal): Promise<string> {
    const override = this.options.endpointOverrides?.[service];
    if (override) return override.replace(/\/+$/, '');
    const t = await this.token(signal);
    return resolveEndpoint(t.catalog, { type: service, interface: this.interface, region: this.credentials.region });
  }

  request(opts: RequestOptions & { stream: true }): Promise<StreamResponse>;
  request<T = unknown>(opts: RequestOptions & { stream?: false }): Promise<JsonResponse<T>>;
  async request<T = unknown>(opts: RequestOptions): Promise<JsonResponse<T> | StreamResponse> {
    const base = await this.endpoint(opts.service, opts.signal);
    const qs = buildQuery(opts.query);
    const url = `${base}${opts.path}${qs ? (opts.path.includes('?') ? '&' : '?') + qs : ''}`;
    const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.body;
    const replayable = isReplayable(body);
    const streamedBody = typeof body === 'function' || !replayable;
    const timeoutMs = opts.timeoutMs ?? (streamedBody ? this.transferTimeoutMs : this.timeoutMs);
    let reauthenticated = false;
    let rateRetried = false;
    for (;;) {
      const tok = await this.token(opts.signal);
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': this.options.userAgent ?? 'vmflow',
        ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
        'x-auth-token': tok.token,
      };
      const started = Date.now();
      const result = await send({
        method: opts.method,
        url,
        headers,
        body,
        expected: opts.expected,
        timeoutMs,
        signal: opts.signal,
        dispatcher: this.options.dispatcher,
        stream: opts.stream,
      });
      this.log.debug({ method: opts.method, url, status: result.response.status, ms: Date.now() - started }, 'openstack call');
      if (result.ok) {
        const r = result.response;
        if ('stream' in r) return { status: r.status, headers: r.headers, stream: r.stream, url };
        return { status: r.status, headers: r.headers, json: r.json as T, text: r.text, url };
      }
      const { error } = result;
      if (error.status === 401 && !reauthenticated && replayable) {
        reauthenticated = true;
        this.log.info({ method: opts.method, url }, 'token rejected, re-authenticating once');
        this.cache.invalidate(this.accountKey, tok.token);
        continue;
      }
      if (
        error.kind === 'RateLimited' &&
        !rateRetried &&
        replayable &&
        error.retryAfterMs !== undefined &&
        error.retryAfterMs <= this.rateLimitRetryMaxMs
      ) {
        rateRetried = true;
        this.log.info({ method: opts.method, url, retryAfterMs: error.retryAfterMs }, 'rate limited, retrying once');
        await sleep(error.retryAfterMs, opts.signal);
        continue;
      }
      throw error;
    }
  }
}
