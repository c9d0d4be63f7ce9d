/**
 * The HTTP contract in one place: every route is declared once, beside its Express handler, with
 * the zod schemas of its parameters, body and answers (src/contracts/api/*). `ApiScope#route`
 * mounts the handler and records the declaration; `ApiContract#document` generates the OpenAPI 3.1
 * document from those records with @asteasolutions/zod-to-openapi, answered at
 * `GET /api/v1/openapi.json` (public). Nothing here describes a schema by hand.
 *
 * Declaring a route (in its area's file under api/routes/):
 *
 *   api.route(
 *     { method: 'post', path: '/vms/:id/backups', operationId: 'runBackup', tag: 'backups',
 *       summary: 'Back the VM up now', params: vmParams,
 *       responses: { 202: { description: 'backup started', body: workflowAcceptedSchema, headers: ['Location'] } },
 *       errors: { 400: 'invalid id', 404: 'no such VM', 409: 'vm_busy: …' } },
 *     async (req, res) => { … res.status(202).json(…) },   // res.json is typed by the answers' schemas
 *   );
 *
 * What every route shares is added here: 401 and the security requirement (unless `auth: 'public'`),
 * 400 and 413 for a JSON body, and on every error answer the Error body, X-Request-Id (plus
 * WWW-Authenticate on 401, Retry-After on 429 and 503). test/unit/openapi.test.ts keeps the
 * declared routes equal to what Express serves (listExpressRoutes) and to the session gate's
 * public list; test/harness/conformance.ts checks integration tests' answers against the schemas.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { z } from 'zod';
import { errorBodySchema, type ErrorBody } from '../src/contracts/api/common';
import { SESSION_COOKIE } from './auth-middleware';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route. `session` (the default, as in the session gate): a member's bearer token or
 * session cookie. `public`: nobody needs to sign in (must match PUBLIC_API_ROUTES under /api/v1).
 * `codec`: the operator token or an operator's session (api/routes/codec.ts).
 */
export type Auth = 'public' | 'session' | 'codec';

const TAG_DESCRIPTIONS = {
  health: 'Liveness and readiness probes (no session).',
  codec: 'Temporal remote codec: encrypted workflow payloads for operators.',
  meta: 'This document.',
  auth: 'Sign-up, sessions and withdrawal.',
  'cloud-accounts': 'Cloud credentials a member registers (OpenStack, CloudStack).',
  catalog: 'What a VM can be made of, and the templates it renders to.',
  vms: 'VM lifecycle: each change runs as a Temporal workflow.',
  environments: 'Environments: several VMs on their own private network, created and destroyed as one graph.',
  workflows: 'Status and progress of VM workflows.',
  backups: 'Backup policies (a Temporal Schedule per VM), backups and restore.',
  dr: 'Disaster recovery: protection, failover, failback, drills and events.',
  webhooks: 'A member\'s own webhook endpoints for their DR events (Standard Webhooks signatures) and their delivery logs.',
} as const;
export type Tag = keyof typeof TAG_DESCRIPTIONS;

/** Response headers a success answer may name (error answers get theirs from the status). */
const HEADERS = {
  XRequestId: { description: 'The request id: the caller’s X-Request-Id when it is 1–64 of [A-Za-z0-9_.-], a new UUID otherwise. Sent on every answer.', required: true, schema: { type: 'string' } },
  RetryAfter: { description: 'Seconds to wait before trying again.', required: true, schema: { type: 'integer' } },
  Location: { description: 'Where the resource can be read.', required: true, schema: { type: 'string' } },
  WWWAuthenticate: { description: 'The authentication scheme (Bearer).', schema: { type: 'string' } },
  SetCookie: { description: `The \`${SESSION_COOKIE}\` session cookie (httpOnly, SameSite=Strict): set at login, cleared at logout and withdrawal.`, required: true, schema: { type: 'string' } },
} as const;
const HEADER_NAMES = { Location: 'Location', SetCookie: 'Set-Cookie', XRequestId: 'X-Request-Id', RetryAfter: 'Retry-After', WWWAuthenticate: 'WWW-Authenticate' } as const;
type SuccessHeader = 'Location' | 'SetCookie';

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  public: [],
  session: [{ bearerAuth: [] }, { sessionCookie: [] }],
  codec: [{ codecToken: [] }, { bearerAuth: [] }, { sessionCookie: [] }],
};

const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token POST /api/v1/auth/login answers: `Authorization: Bearer <token>`. Wins over the cookie when both are sent.' },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The httpOnly SameSite=Strict cookie login sets, for the web page. With the cookie, POST, PATCH and DELETE also need `Content-Type: application/json` or an `X-Requested-With` header.',
  },
  codecToken: { type: 'http', scheme: 'bearer', description: 'The operator token VMFLOW_CODEC_TOKEN (codec endpoint only; an operator member’s session works too).' },
} as const;

// ─── Declaring routes ───────────────────────────────────────────────────────────────────────────

export interface ResponseSpec {
  description: string;
  /** The JSON body; none for 204 and other answers without content. */
  body?: z.ZodType;
  /** Headers the answer always carries (the conformance check asks for them). */
  headers?: SuccessHeader[];
}

export interface RouteSpec<R extends Record<number, ResponseSpec> = Record<number, ResponseSpec>> {
  method: HttpMethod;
  /** Express form (`:id`), relative to the scope the route is declared in. */
  path: string;
  /** Unique across the document; clients generate method names from it. */
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** Default `session`. */
  auth?: Auth;
  /** Every `:param` of the path, with the schema the handler checks it with. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request headers (Authorization and the cookie come from `auth`). */
  headers?: z.ZodObject;
  /** A JSON request body. */
  body?: z.ZodType;
  /** The body may be left out (the handler reads a missing one as `{}`). */
  bodyOptional?: true;
  /** The success answers, by status. */
  responses: R;
  /** Error answers by status → when they happen (name the specific `error.code`s). All carry the Error body. */
  errors?: Record<number, string>;
}

/** What a handler may send: one of the declared bodies, or the Error body. */
export type ResponseBodyOf<R extends Record<number, ResponseSpec>> = { [S in keyof R]: R[S] extends { body: infer B extends z.ZodType } ? z.output<B> : never }[keyof R] | ErrorBody;

/** A declared route as the conformance check reads it: every status it may answer and the body's schema. */
export interface DocumentedOperation {
  /** Upper case, as listExpressRoutes gives it. */
  method: string;
  /** OpenAPI form (`{id}`), full path. */
  path: string;
  operationId: string;
  responses: ReadonlyMap<number, { body?: z.ZodType; headers: string[] }>;
}

export class ApiContract {
  private readonly registry = new OpenAPIRegistry();
  private readonly operations: DocumentedOperation[] = [];

  constructor() {
    for (const [name, scheme] of Object.entries(SECURITY_SCHEMES)) this.registry.registerComponent('securitySchemes', name, scheme);
    for (const [name, header] of Object.entries(HEADERS)) this.registry.registerComponent('headers', name, header);
  }

  /** The scope of an app or router mounted at `prefix`. */
  scope(router: Express | Router, prefix = ''): ApiScope {
    return new ApiScope(this, router, prefix);
  }

  /** Every declared route, in declaration order. */
  documentedOperations(): readonly DocumentedOperation[] {
    return this.operations;
  }

  /** Records a route under its full path (Express form). */
  declare(expressPath: string, spec: RouteSpec): void {
    const path = toOpenApiPath(expressPath);
    const method = spec.method.toUpperCase();
    const clash = this.operations.find((o) => (o.method === method && o.path === path) || o.operationId === spec.operationId);
    if (clash) throw new Error(`openapi: ${method} ${path} (${spec.operationId}) clashes with ${clash.method} ${clash.path} (${clash.operationId})`);
    const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    const declared = Object.keys(spec.params?.shape ?? {}).sort();
    if (inPath.join() !== declared.join()) throw new Error(`openapi: ${spec.operationId} declares path parameters [${declared.join(', ')}] but ${path} has [${inPath.join(', ')}]`);

    const auth = spec.auth ?? 'session';
    // What every route of its kind can answer, unless the route says more precisely.
    const errors: Record<number, string> = {};
    if (spec.body) {
      errors[400] = 'validation_failed: the body is not valid JSON or breaks the schema; `fields` names every problem';
      errors[413] = 'payload_too_large';
    }
    if (auth === 'session') errors[401] = 'unauthorized: no live session';
    Object.assign(errors, spec.errors);

    const responses: RouteConfig['responses'] = {};
    const documented = new Map<number, { body?: z.ZodType; headers: string[] }>();
    for (const [status, res] of Object.entries(spec.responses as Record<string, ResponseSpec>)) {
      const headers = res.headers ?? [];
      responses[status] = {
        description: res.description,
        ...(headers.length ? { headers: Object.fromEntries(headers.map((h) => [HEADER_NAMES[h], { $ref: `#/components/headers/${h}` }])) } : {}),
        ...(res.body ? { content: { 'application/json': { schema: res.body } } } : {}),
      } satisfies ResponseConfig;
      documented.set(Number(status), { body: res.body, headers: headers.filter((h) => 'required' in HEADERS[h]).map((h) => HEADER_NAMES[h]) });
    }
    for (const [status, description] of Object.entries(errors)) {
      const code = Number(status);
      const headers: Array<keyof typeof HEADERS> = ['XRequestId', ...(code === 401 && auth !== 'public' ? (['WWWAuthenticate'] as const) : []), ...(code === 429 || code === 503 ? (['RetryAfter'] as const) : [])];
      responses[status] = {
        description,
        headers: Object.fromEntries(headers.map((h) => [HEADER_NAMES[h], { $ref: `#/components/headers/${h}` }])),
        content: { 'application/json': { schema: errorBodySchema } },
      } satisfies ResponseConfig;
      documented.set(code, { body: errorBodySchema, headers: headers.filter((h) => 'required' in HEADERS[h]).map((h) => HEADER_NAMES[h]) });
    }

    this.registry.registerPath({
      method: spec.method,
      path,
      operationId: spec.operationId,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.headers ? { headers: spec.headers } : {}),
        ...(spec.body ? { body: { required: !spec.bodyOptional, content: { 'application/json': { schema: spec.body } } } } : {}),
      },
      responses,
      security: SECURITY[auth],
    });
    this.operations.push({ method, path, operationId: spec.operationId, responses: documented });
  }

  /** The OpenAPI 3.1 document of every declared route. */
  document(opts: { serverUrl?: string } = {}): Record<string, unknown> {
    const used = new Set(this.registry.definitions.flatMap((d) => (d.type === 'route' ? (d.route.tags ?? []) : [])));
    const doc = new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'vmflow API',
        version: '1',
        description:
          'Durable VM lifecycle, backup and disaster recovery across OpenStack and CloudStack. Sign up and log in under /api/v1/auth, then send the token as `Authorization: Bearer <token>`. ' +
          'Every error answer has the body `{error: {code, message, fields?, requestId}}`; every answer carries X-Request-Id.',
      },
      servers: [{ url: opts.serverUrl ?? '/' }],
      tags: (Object.keys(TAG_DESCRIPTIONS) as Tag[]).filter((t) => used.has(t)).map((name) => ({ name, description: TAG_DESCRIPTIONS[name] })),
    });
    // Plain JSON: no schema object of the contract is shared with a caller.
    return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  }
}

/** A router (or the app) mounted at `prefix`: routes declared here are mounted and documented together. */
export class ApiScope {
  constructor(
    private readonly contract: ApiContract,
    /** For middleware (`scope.router.use(...)`); routes go through `route`. */
    readonly router: Express | Router,
    readonly prefix: string,
  ) {}

  /** A new router mounted at `path` under this one, now (Express runs middleware in mount order). */
  scope(path: string): ApiScope {
    const child = express.Router();
    (this.router as Router).use(path, child);
    return new ApiScope(this.contract, child, joinPaths(this.prefix, path));
  }

  /** Mounts the handlers at `spec.path` and documents the route. */
  route<R extends Record<number, ResponseSpec>>(spec: RouteSpec<R>, ...handlers: Array<RequestHandler<Record<string, string>, ResponseBodyOf<R>>>): void {
    this.contract.declare(joinPaths(this.prefix, spec.path), spec);
    // The route template names the request in metrics (src/metrics/http.ts), never its path.
    const template = joinPaths(this.prefix, spec.path);
    const named: RequestHandler = (_req, res, next) => {
      res.locals.routeTemplate = template;
      next();
    };
    (this.router as Router)[spec.method](spec.path, named, ...(handlers as RequestHandler[]));
  }
}

/** GET /api/v1/openapi.json: the document, built on first request. */
export function openApiHandler(contract: ApiContract): RequestHandler {
  let doc: Record<string, unknown> | undefined;
  return (_req, res) => {
    doc ??= contract.document();
    res.json(doc);
  };
}

// ─── What Express serves ────────────────────────────────────────────────────────────────────────

export interface ServedRoute {
  /** Upper case: GET, POST, …; `ALL` for `.all()` routes (which the document cannot express). */
  method: string;
  /** OpenAPI form: `{name}` for Express's `:name`. */
  path: string;
}

/** The slice of router ≥ 2.3's public API this module uses. */
interface ListableRouter {
  listRoutes?(): Array<{ path: string | RegExp; methods?: string[]; router?: ListableRouter }>;
}

function joinPaths(prefix: string, path: string): string {
  return `${prefix.replace(/\/+$/, '')}${path === '/' ? '' : path}` || '/';
}

/** Express 5 `:name` → OpenAPI `{name}`; refuses path syntax OpenAPI cannot state. */
export function toOpenApiPath(expressPath: string): string {
  if (/[*?(){}]/.test(expressPath)) throw new Error(`route ${expressPath} uses Express wildcard or optional syntax, which OpenAPI paths cannot state; give it plain :params`);
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

/**
 * Every (method, path) the app routes, mounted routers included. Express 5's layers keep no path
 * regexp, so the mount prefixes come from Router#listRoutes() — public API of the `router` package
 * since 2.3 (the lockfile's version) — which gives each layer's path as registered plus the mounted
 * router to recurse into. A route mounted without ApiScope#route is found here, so the unit test
 * that compares this list with the document catches it. An older router (Express asks for ^2.2)
 * fails loudly here rather than listing nothing. Automatic HEAD (from GET) is left out; plain
 * middleware is not a route.
 */
export function listExpressRoutes(app: Express): ServedRoute[] {
  const out = new Map<string, ServedRoute>();
  const walk = (router: ListableRouter, prefix: string) => {
    if (typeof router.listRoutes !== 'function') throw new Error('listExpressRoutes needs Router#listRoutes (the router package ≥ 2.3)');
    for (const layer of router.listRoutes()) {
      if (typeof layer.path !== 'string') throw new Error(`a route under ${prefix || '/'} is a RegExp (${String(layer.path)}), which OpenAPI paths cannot state`);
      const path = joinPaths(prefix, layer.path);
      if (layer.router) {
        walk(layer.router, path);
        continue;
      }
      const methods = layer.methods ?? [];
      for (const m of methods) {
        if (m === 'HEAD' && methods.includes('GET')) continue;
        const route = { method: m === '*' ? 'ALL' : m, path: toOpenApiPath(path) };
        out.set(`${route.method} ${route.path}`, route);
      }
    }
  };
  walk(app.router as unknown as ListableRouter, '');
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** The contract createApp declared its routes in (app.locals.contract). */
export function contractOf(app: Express): ApiContract {
  const contract = app.locals.contract as ApiContract | undefined;
  if (!(contract instanceof ApiContract)) throw new Error('app.locals.contract is not set: createApp declares its routes there');
  return contract;
}
