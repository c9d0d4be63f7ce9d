/**
 * Sessions on requests. A session token comes as `Authorization: Bearer <token>` or as the
 * `vmflow_session` cookie (httpOnly, SameSite=Strict, for the web page); the bearer header wins
 * when both are sent. With the cookie, unsafe methods also need a JSON content type or
 * X-Requested-With (see cookieMayAuthenticate). `sessionGate` guards the whole /api/v1 router: every route needs a session
 * except those in PUBLIC_API_ROUTES, so a route added later is private unless listed there.
 *
 * Owner scoping for later routes: `ownerFilter(req)` for queries and `ownedOr404(doc, req)` for a
 * fetched record — another member's resource answers 404 with a generic body, never its data.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { AccountService, SessionUser } from '../src/accounts/service';
import { AppError } from '../src/errors';

export const SESSION_COOKIE = 'vmflow_session';
export { OPERATOR_ROLE } from '../src/accounts/roles';

/** The member, with the roles stored on their record (granted by `npm run operator -- grant`). */
export type RequestUser = SessionUser;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by requireSession / sessionGate. */
      user?: RequestUser;
      /** The token the request authenticated with (logout revokes it). */
      sessionToken?: string;
    }
  }
}

/** Routes below /api/v1 that need no session. `prefix` also opens the sub-paths. */
export const PUBLIC_API_ROUTES: Array<{ method: string; path: string; prefix?: boolean }> = [
  { method: 'POST', path: '/auth/signup' },
  { method: 'POST', path: '/auth/login' },
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/catalog', prefix: true },
  { method: 'GET', path: '/openapi.json' },
];

export function isPublicApiRoute(method: string, path: string): boolean {
  const m = method === 'HEAD' ? 'GET' : method;
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return PUBLIC_API_ROUTES.some((r) => r.method === m && (p === r.path || (r.prefix === true && p.startsWith(`${r.path}/`))));
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}

/** The bearer token, else the session cookie, else undefined. */
export function readSessionToken(req: Request): string | undefined {
  const auth = req.header('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : undefined;
  }
  return parseCookies(req.header('cookie'))[SESSION_COOKIE];
}

export function setSessionCookie(res: Response, token: string, expiresAt: Date, secure: boolean): void {
  res.cookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure, path: '/', expires: expiresAt });
}

export function clearSessionCookie(res: Response, secure: boolean): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure, path: '/' });
}

export interface AuthLocals {
  accounts: AccountService;
}

function authLocals(req: Request): AuthLocals {
  const locals = req.app.locals.auth as AuthLocals | undefined;
  if (!locals) throw new Error('app.locals.auth is not set: createApp wires the AccountService there');
  return locals;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A cookie rides along on requests other pages make, including same-site ones (the Temporal UI on
 * another port of the same host). SameSite does not stop those, so a cookie authenticates an
 * unsafe method only when the request also says `Content-Type: application/json` or
 * `X-Requested-With` — neither of which a plain cross-origin form or image can send.
 */
function cookieMayAuthenticate(req: Request): boolean {
  if (req.header('authorization') || SAFE_METHODS.has(req.method)) return true;
  return /^application\/json\b/i.test(req.header('content-type') ?? '') || req.header('x-requested-with') !== undefined;
}

/** Authenticates the request's token; undefined when there is none or it is not a live session. */
export async function authenticateRequest(req: Request): Promise<RequestUser | undefined> {
  if (req.user) return req.user;
  const token = readSessionToken(req);
  if (!token || !cookieMayAuthenticate(req)) return undefined;
  const { accounts } = authLocals(req);
  const user = await accounts.authenticate(token);
  if (!user) return undefined;
  req.user = user;
  req.sessionToken = token;
  req.log = req.log.child({ userId: user.id });
  return req.user;
}

const UNAUTHENTICATED = () => AppError.unauthorized('a valid session is required: log in and send Authorization: Bearer <token>');

/** Requires a live session and puts `req.user = {id, username, roles}` on the request; 401 otherwise. */
export const requireSession: RequestHandler = async (req, res, next) => {
  if (await authenticateRequest(req)) return next();
  res.setHeader('WWW-Authenticate', 'Bearer realm="vmflow"');
  next(UNAUTHENTICATED());
};

/** requireSession for every /api/v1 route except PUBLIC_API_ROUTES. */
export const sessionGate: RequestHandler = (req, res, next) => {
  if (isPublicApiRoute(req.method, req.path)) return next();
  return requireSession(req, res, next);
};

/** The signed-in member (use after requireSession). */
export function currentUser(req: Request): RequestUser {
  if (!req.user) throw UNAUTHENTICATED();
  return req.user;
}

/** Query filter that limits a collection to the caller's records. */
export function ownerFilter(req: Request): { ownerId: string } {
  return { ownerId: currentUser(req).id };
}

/** The record when the caller owns it; otherwise (missing or another member's) a 404 that says nothing about it. */
export function ownedOr404<T extends { ownerId?: string | null }>(doc: T | null | undefined, req: Request, what = 'resource'): T {
  if (!doc || doc.ownerId !== currentUser(req).id) throw AppError.notFound(what);
  return doc;
}
