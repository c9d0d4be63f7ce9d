/**
 * Keystone v3 under `/identity`: version discovery as keystoneauth and gophercloud do it,
 * password (and token) authentication scoped to a project, a catalog pointing back at this
 * simulator, token validation and revocation, and the few project/user reads the CLI makes.
 */
import crypto from 'node:crypto';
import type { Cloud } from './cloud';
import { badRequest, forbidden, notFound, unauthorized } from './errors';
import { Router, type Ctx } from './http';
import type { AuthContext, Domain, Project, Token, User } from './model';
import { isoMicros, isPlainObject, stableHex32 } from './util';

/** A user of the simulated cloud; each gets one project (created on demand by name). */
export interface SimUserSpec {
  name: string;
  password: string;
  project: string;
  /** Domain name of both the user and the project; default `Default`. */
  domain?: string;
  /** Role names; default `member`, `reader` (`admin` makes the user a cloud admin). */
  roles?: string[];
}

export const DEFAULT_USERS: SimUserSpec[] = [
  { name: 'demo', password: 'demo-secret', project: 'demo', roles: ['member', 'reader'] },
  { name: 'admin', password: 'admin-secret', project: 'admin', roles: ['admin', 'member', 'reader'] },
];

export const KEYSTONE_VERSION = 'v3.14';
const KEYSTONE_UPDATED = '2020-04-07T00:00:00Z';

export class Identity {
  readonly domains = new Map<string, Domain>();
  readonly projects = new Map<string, Project>();
  readonly users = new Map<string, User>();

  constructor(
    private readonly cloud: Cloud,
    specs: SimUserSpec[],
    public tokenTtlSeconds: number,
  ) {
    this.domains.set('default', { id: 'default', name: 'Default' });
    for (const spec of specs) {
      const domain = this.ensureDomain(spec.domain ?? 'Default');
      const projectId = stableHex32(`project:${domain.id}:${spec.project}`);
      if (!this.projects.has(projectId)) this.projects.set(projectId, { id: projectId, name: spec.project, domainId: domain.id });
      const id = stableHex32(`user:${domain.id}:${spec.name}`);
      if (this.users.has(id)) throw new Error(`duplicate simulator user ${spec.name} in domain ${domain.name}`);
      this.users.set(id, { id, name: spec.name, password: spec.password, domainId: domain.id, projectId, roles: spec.roles ?? ['member', 'reader'] });
    }
  }

  private ensureDomain(name: string): Domain {
    for (const d of this.domains.values()) if (d.name === name) return d;
    const d = { id: stableHex32(`domain:${name}`), name };
    this.domains.set(d.id, d);
    return d;
  }

  findDomain(ref: unknown): Domain | undefined {
    if (!isPlainObject(ref)) return undefined;
    if (typeof ref.id === 'string') return this.domains.get(ref.id);
    if (typeof ref.name === 'string') return [...this.domains.values()].find((d) => d.name === ref.name);
    return undefined;
  }

  projectByName(name: string, domainId = 'default'): Project | undefined {
    return [...this.projects.values()].find((p) => p.name === name && p.domainId === domainId);
  }

  /** The caller behind a token, or undefined when the token is unknown, expired, revoked or unscoped. */
  validate(tokenId: string | undefined): AuthContext | undefined {
    if (!tokenId) return undefined;
    const token = this.cloud.store.tokens.get(tokenId);
    if (!token || token.revoked || token.expiresAt <= Date.now() || !token.projectId) return undefined;
    const user = this.users.get(token.userId);
    const project = this.projects.get(token.projectId);
    if (!user || !project) return undefined;
    return {
      tokenId,
      userId: user.id,
      userName: user.name,
      projectId: project.id,
      projectName: project.name,
      domainId: project.domainId,
      roles: token.roles,
      isAdmin: token.roles.includes('admin'),
    };
  }

  /** Checks a password-auth request body the way Keystone does; throws 400/401. */
  authenticate(body: unknown): { user: User; project?: Project; methods: string[] } {
    if (!isPlainObject(body) || !isPlainObject(body.auth)) throw badRequest("Invalid input for field 'auth': 'auth' is a required property");
    const auth = body.auth;
    if (!isPlainObject(auth.identity)) throw badRequest("Invalid input for field 'identity': 'identity' is a required property");
    const identity = auth.identity;
    const methods = identity.methods;
    if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
      throw badRequest("Invalid input for field 'identity/methods': 'methods' is a required property");
    }
    let user: User | undefined;
    if (methods.includes('password')) {
      const pw = identity.password;
      if (!isPlainObject(pw) || !isPlainObject(pw.user)) throw badRequest("Invalid input for field 'identity/password/user': 'user' is a required property");
      const u = pw.user;
      if (typeof u.password !== 'string') throw badRequest("Invalid input for field 'identity/password/user/password': 'password' is a required property");
      if (typeof u.id === 'string') user = this.users.get(u.id);
      else if (typeof u.name === 'string') {
        if (!isPlainObject(u.domain)) throw badRequest('Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
        const domain = this.findDomain(u.domain);
        user = domain && [...this.users.values()].find((x) => x.name === u.name && x.domainId === domain.id);
      } else throw badRequest('Expecting to find id or name in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
      if (!user || !safeEqual(user.password, u.password)) throw unauthorized();
    } else if (methods.includes('token')) {
      const t = identity.token;
      const existing = isPlainObject(t) && typeof t.id === 'string' ? this.cloud.store.tokens.get(t.id) : undefined;
      if (!existing || existing.revoked || existing.expiresAt <= Date.now()) throw unauthorized();
      user = this.users.get(existing.userId);
      if (!user) throw unauthorized();
    } else {
      throw unauthorized(`Unsupported authentication method: ${String(methods[0])}`);
    }

    let project: Project | undefined;
    const scope = auth.scope;
    if (scope === undefined || scope === 'unscoped') {
      // Keystone scopes to the user's default project when there is one; our users have one.
      project = scope === 'unscoped' ? undefined : this.projects.get(user.projectId);
    } else if (isPlainObject(scope) && isPlainObject(scope.project)) {
      const p = scope.project;
      if (typeof p.id === 'string') project = this.projects.get(p.id);
      else if (typeof p.name === 'string') {
        if (!isPlainObject(p.domain)) throw badRequest('Expecting to find domain in project. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
        const domain = this.findDomain(p.domain);
        project = domain && this.projectByName(p.name, domain.id);
      } else throw badRequest('Expecting to find id or name in project.');
      if (!project || project.id !== user.projectId) throw unauthorized();
    } else {
      throw unauthorized('Only project-scoped tokens are supported by this cloud.');
    }
    return { user, project, methods: methods as string[] };
  }

  issue(user: User, project: Project | undefined, methods: string[]): Token {
    const now = Date.now();
    const token: Token = {
      id: `gAAAAAB${crypto.randomBytes(96).toString('base64url')}`,
      userId: user.id,
      projectId: project?.id,
      roles: project ? user.roles : [],
      methods,
      issuedAt: now,
      expiresAt: now + this.tokenTtlSeconds * 1000,
      auditId: crypto.randomBytes(16).toString('base64url').slice(0, 22),
    };
    const store = this.cloud.store;
    store.tokens.set(token.id, token);
    store.tokensIssued++;
    this.pruneTokens(now);
    store.changed();
    return token;
  }

  /** Forgets expired tokens so a long demo does not grow without bound. */
  private pruneTokens(now: number): void {
    for (const [id, t] of this.cloud.store.tokens) if (t.expiresAt < now - 3_600_000) this.cloud.store.tokens.delete(id);
  }

  /** Ends every token now (all, or one user's): clients must authenticate again. */
  expireTokens(userName?: string): number {
    let n = 0;
    const now = Date.now();
    for (const t of this.cloud.store.tokens.values()) {
      if (userName && this.users.get(t.userId)?.name !== userName) continue;
      if (t.expiresAt > now) {
        t.expiresAt = now;
        n++;
      }
    }
    this.cloud.store.changed();
    return n;
  }

  tokenBody(token: Token, withCatalog: boolean): Record<string, unknown> {
    const user = this.users.get(token.userId)!;
    const userDomain = this.domains.get(user.domainId)!;
    const body: Record<string, unknown> = {
      methods: token.methods,
      user: { domain: { id: userDomain.id, name: userDomain.name }, id: user.id, name: user.name, password_expires_at: null },
      audit_ids: [token.auditId],
      expires_at: isoMicros(token.expiresAt),
      issued_at: isoMicros(token.issuedAt),
    };
    if (token.projectId) {
      const project = this.projects.get(token.projectId)!;
      const pDomain = this.domains.get(project.domainId)!;
      body.project = { domain: { id: pDomain.id, name: pDomain.name }, id: project.id, name: project.name };
      body.is_domain = false;
      body.roles = token.roles.map((name) => ({ id: stableHex32(`role:${name}`), name }));
      if (withCatalog) body.catalog = this.catalog(project.id);
    }
    return body;
  }

  catalog(projectId: string): unknown[] {
    const region = this.cloud.region;
    const entry = (type: string, name: string, url: string) => ({
      id: stableHex32(`service:${type}`),
      type,
      name,
      endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
        id: stableHex32(`endpoint:${type}:${iface}`),
        interface: iface,
        region,
        region_id: region,
        url,
      })),
    });
    const u = this.cloud.urls;
    return [
      entry('identity', 'keystone', u.identity),
      entry('compute', 'nova', u.compute),
      entry('image', 'glance', u.image),
      entry('orchestration', 'heat', u.orchestration(projectId)),
      entry('network', 'neutron', u.network),
    ];
  }
}

function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function versionDoc(base: string) {
  return {
    id: KEYSTONE_VERSION,
    status: 'stable',
    updated: KEYSTONE_UPDATED,
    links: [{ rel: 'self', href: `${base}/identity/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

function projectBody(p: Project, base: string) {
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domainId,
    description: '',
    enabled: true,
    is_domain: false,
    parent_id: p.domainId,
    tags: [],
    options: {},
    links: { self: `${base}/identity/v3/projects/${p.id}` },
  };
}

export function identityRoutes(cloud: Cloud): Router {
  const r = new Router();
  const id = cloud.identity;

  const versions = (ctx: Ctx) => ctx.send(300, { versions: { values: [versionDoc(ctx.base)] } });
  r.get('/', versions, { public: true });
  r.get('/v3', (ctx) => ctx.send(200, { version: versionDoc(ctx.base) }), { public: true });

  r.post(
    '/v3/auth/tokens',
    async (ctx) => {
      const { user, project, methods } = id.authenticate(await ctx.json());
      const token = id.issue(user, project, methods);
      const withCatalog = !ctx.query.has('nocatalog');
      ctx.send(201, { token: id.tokenBody(token, withCatalog) }, { 'X-Subject-Token': token.id, Vary: 'X-Auth-Token' });
    },
    { public: true },
  );

  const subjectToken = (ctx: Ctx): Token => {
    const subject = ctx.header('x-subject-token');
    if (!subject) throw badRequest('Missing X-Subject-Token header.');
    const token = cloud.store.tokens.get(subject);
    if (!token || token.revoked || token.expiresAt <= Date.now()) throw notFound(`Could not find token: ${subject}`);
    const caller = ctx.who;
    if (!caller.isAdmin && token.userId !== caller.userId) throw forbidden('You are not authorized to perform the requested action: identity:validate_token.');
    return token;
  };

  r.get('/v3/auth/tokens', (ctx) => {
    const token = subjectToken(ctx);
    ctx.send(200, { token: id.tokenBody(token, !ctx.query.has('nocatalog')) }, { 'X-Subject-Token': token.id, Vary: 'X-Auth-Token' });
  });
  r.delete('/v3/auth/tokens', (ctx) => {
    const token = subjectToken(ctx);
    token.revoked = true;
    cloud.store.changed();
    ctx.send(204);
  });
  r.get('/v3/auth/catalog', (ctx) => ctx.send(200, { catalog: id.catalog(ctx.who.projectId), links: { self: `${ctx.base}/identity/v3/auth/catalog`, previous: null, next: null } }));
  r.get('/v3/auth/projects', (ctx) => {
    const p = id.projects.get(ctx.who.projectId)!;
    ctx.send(200, { projects: [projectBody(p, ctx.base)], links: { self: `${ctx.base}/identity/v3/auth/projects`, previous: null, next: null } });
  });
  r.get('/v3/projects', (ctx) => {
    if (!ctx.who.isAdmin) throw forbidden('You are not authorized to perform the requested action: identity:list_projects.');
    const name = ctx.query.get('name');
    const list = [...id.projects.values()].filter((p) => !name || p.name === name);
    ctx.send(200, { projects: list.map((p) => projectBody(p, ctx.base)), links: { self: `${ctx.base}/identity/v3/projects`, previous: null, next: null } });
  });
  r.get('/v3/projects/:id', (ctx) => {
    const p = id.projects.get(ctx.params.id);
    if (!p || (!ctx.who.isAdmin && p.id !== ctx.who.projectId)) throw notFound(`Could not find project: ${ctx.params.id}.`);
    ctx.send(200, { project: projectBody(p, ctx.base) });
  });
  r.get('/v3/users/:id', (ctx) => {
    const u = id.users.get(ctx.params.id);
    if (!u || (!ctx.who.isAdmin && u.id !== ctx.who.userId)) throw notFound(`Could not find user: ${ctx.params.id}.`);
    ctx.send(200, {
      user: { id: u.id, name: u.name, domain_id: u.domainId, default_project_id: u.projectId, enabled: true, password_expires_at: null, options: {}, links: { self: `${ctx.base}/identity/v3/users/${u.id}` } },
    });
  });
  r.get('/v3/users/:id/projects', (ctx) => {
    const u = id.users.get(ctx.params.id);
    if (!u || (!ctx.who.isAdmin && u.id !== ctx.who.userId)) throw notFound(`Could not find user: ${ctx.params.id}.`);
    ctx.send(200, { projects: [projectBody(id.projects.get(u.projectId)!, ctx.base)], links: { self: `${ctx.base}/identity/v3/users/${u.id}/projects`, previous: null, next: null } });
  });
  return r;
}
