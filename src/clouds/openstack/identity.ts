/**
 * Keystone v3 password authentication and service-catalog lookup. Every service URL the client
 * uses comes from the catalog of the token (by service type, interface and region), never from a
 * path guessed next to the auth URL.
 */
import type { Dispatcher } from 'undici';
import { CloudApiError } from '../errors';
import { send } from './transport';

export type EndpointInterface = 'public' | 'internal' | 'admin';

/** Credentials of one OpenStack account (names or ids; ids win when both are given). */
export interface OpenStackCredentials {
  /** Keystone URL, with or without the trailing `/v3` (added when missing). */
  authUrl: string;
  username?: string;
  userId?: string;
  password: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  /** Region of the endpoints to use; required when the catalog spans several regions. */
  region?: string;
  /** Endpoint interface; `public` by default. */
  interface?: EndpointInterface;
}

export interface CatalogEndpoint {
  id?: string;
  interface: string;
  region?: string | null;
  region_id?: string | null;
  url: string;
}

export interface CatalogEntry {
  id?: string;
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

export interface KeystoneRef {
  id: string;
  name?: string;
  domain?: { id?: string; name?: string };
}

/** A scoped token and what came with it. */
export interface AuthToken {
  /** Value of X-Subject-Token, sent as X-Auth-Token. Never log it. */
  token: string;
  /** expires_at as epoch milliseconds. */
  expiresAt: number;
  issuedAt?: number;
  project?: KeystoneRef;
  user?: KeystoneRef;
  catalog: CatalogEntry[];
}

/**
 * The Keystone v3 base URL: trailing slashes dropped and `/v3` appended when the URL does not
 * already end with it. We do not run version discovery (as gophercloud does for bare URLs); a
 * deployment whose v3 API lives elsewhere must pass that URL explicitly.
 */
export function normalizeAuthUrl(authUrl: string): string {
  const trimmed = authUrl.trim().replace(/\/+$/, '');
  return /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
}

function domainRef(id: string | undefined, name: string | undefined, what: string): { id: string } | { name: string } {
  if (id) return { id };
  if (name) return { name };
  throw new CloudApiError({ kind: 'BadRequest', method: 'POST', url: 'auth/tokens', message: `OpenStack credentials: ${what} domain name or id is required` });
}

/** The body of `POST /v3/auth/tokens` for password auth scoped to a project. */
export function passwordAuthBody(c: OpenStackCredentials): object {
  const invalid = (message: string) =>
    new CloudApiError({ kind: 'BadRequest', method: 'POST', url: 'auth/tokens', message: `OpenStack credentials: ${message}` });
  let user: object;
  if (c.userId) user = { id: c.userId, password: c.password };
  else if (c.username) user = { name: c.username, domain: domainRef(c.userDomainId, c.userDomainName, 'user'), password: c.password };
  else throw invalid('username or userId is required');
  let project: object;
  if (c.projectId) project = { id: c.projectId };
  else if (c.projectName) project = { name: c.projectName, domain: domainRef(c.projectDomainId, c.projectDomainName, 'project') };
  else throw invalid('projectName or projectId is required');
  return { auth: { identity: { methods: ['password'], password: { user } }, scope: { project } } };
}

/** Tokens of unknown lifetime are treated as short-lived rather than trusted forever. */
const FALLBACK_LIFETIME_MS = 5 * 60_000;

function parseToken(token: string, json: unknown, now: number): AuthToken {
  const t = (json as { token?: Record<string, unknown> } | undefined)?.token ?? {};
  const expires = typeof t.expires_at === 'string' ? Date.parse(t.expires_at) : NaN;
  const issued = typeof t.issued_at === 'string' ? Date.parse(t.issued_at) : NaN;
  return {
    token,
    expiresAt: Number.isNaN(expires) ? now + FALLBACK_LIFETIME_MS : expires,
    issuedAt: Number.isNaN(issued) ? undefined : issued,
    project: t.project as KeystoneRef | undefined,
    user: t.user as KeystoneRef | undefined,
    catalog: Array.isArray(t.catalog) ? (t.catalog as CatalogEntry[]) : [],
  };
}

export interface AuthenticateOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  userAgent?: string;
  now?: number;
}

/** Password auth; 201 with the token in X-Subject-Token. A 401 here is final (no retry). */
export async function authenticate(c: OpenStackCredentials, opts: AuthenticateOptions): Promise<AuthToken> {
  const url = `${normalizeAuthUrl(c.authUrl)}/auth/tokens`;
  const expected = [201];
  const result = await send({
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      'user-agent': opts.userAgent ?? 'vmflow',
    },
    body: JSON.stringify(passwordAuthBody(c)),
    expected,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    dispatcher: opts.dispatcher,
  });
  if (!result.ok) throw result.error;
  const res = result.response;
  if (!('text' in res)) throw new Error('unreachable: auth response is buffered');
  const subject = res.headers['x-subject-token'];
  const token = Array.isArray(subject) ? subject[0] : subject;
  if (!token) {
    throw new CloudApiError({ kind: 'Unexpected', method: 'POST', url, status: res.status, message: `POST ${url}: ${res.status} without an X-Subject-Token header` });
  }
  return parseToken(token, res.json, opts.now ?? Date.now());
}

export interface EndpointQuery {
  type: string;
  interface?: EndpointInterface;
  region?: string;
}

/**
 * The URL (without trailing slash) of the catalog endpoint for a service type, interface (public
 * by default) and region. Without a region, endpoints from several regions are ambiguous: we
 * refuse rather than pick one (gophercloud takes the first), since acting on the wrong region's
 * servers is worse than a clear configuration error.
 */
export function resolveEndpoint(catalog: CatalogEntry[], q: EndpointQuery): string {
  const iface = q.interface ?? 'public';
  const matches: CatalogEndpoint[] = [];
  for (const entry of catalog) {
    if (entry.type !== q.type) continue;
    for (const ep of entry.endpoints ?? []) {
      if (ep.interface !== iface) continue;
      if (q.region && ep.region_id !== q.region && ep.region !== q.region) continue;
      matches.push(ep);
    }
  }
  const where = `service type "${q.type}", interface "${iface}"${q.region ? `, region "${q.region}"` : ''}`;
  if (matches.length === 0) {
    throw new CloudApiError({ kind: 'BadRequest', method: 'CATALOG', url: q.type, message: `no endpoint in the service catalog for ${where}` });
  }
  const regions = new Set(matches.map((m) => m.region_id ?? m.region ?? ''));
  if (!q.region && regions.size > 1) {
    throw new CloudApiError({
      kind: 'BadRequest',
      method: 'CATALOG',
      url: q.type,
      message: `several regions (${[...regions].join(', ')}) offer ${where}: set the region`,
    });
  }
  return matches[0].url.replace(/\/+$/, '');
}
