/**
 * The OpenStack client against a local fake HTTP server with gophercloud-style fixtures: each
 * test registers the routes it needs, makes client calls, then asserts the recorded method, path,
 * query, X-Auth-Token and request JSON, and what the client returned or threw.
 * The catalog puts every service on a base path unrelated to the auth URL, so any hard-coded
 * path would miss the routes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Writable } from 'node:stream';
import pino from 'pino';
import { Agent } from 'undici';
import { CloudApiError, responseCodeIs } from '../../src/clouds/errors';
import {
  COMPUTE_MICROVERSION,
  OpenStackSession,
  TokenCache,
  createOpenStackClient,
  exactNameFilter,
  normalizeAuthUrl,
  outputValue,
  stackStatus,
  type OpenStackCredentials,
  type SessionOptions,
} from '../../src/clouds/openstack';

const PASSWORD = 'pa$$-Very-Secret-42';
const PROJECT_ID = 'p-123';
const NOVA = '/nova-public/v2.1';
const GLANCE = '/glance/v2';
const HEAT = `/heat/v1/${PROJECT_ID}`;
const NEUTRON = '/neutron/v2.0';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: unknown;
}

interface Reply {
  status: number;
  json?: unknown;
  body?: Buffer | string | Readable;
  headers?: Record<string, string>;
}

type Handler = (req: Recorded) => Reply | 'hang' | Promise<Reply | 'hang'>;

/** Keystone plus whatever service routes a test registers. */
class FakeOpenStack {
  server!: http.Server;
  base = '';
  now: () => number = Date.now;
  tokenLifetimeMs = 3600_000;
  authDelayMs = 0;
  authCount = 0;
  authBodies: unknown[] = [];
  issuedTokens: string[] = [];
  validTokens = new Set<string>();
  requests: Recorded[] = [];
  private routes = new Map<string, Handler>();
  private hanging: http.ServerResponse[] = [];

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.routes.clear();
    this.requests = [];
    this.authBodies = [];
    this.authCount = 0;
    this.issuedTokens = [];
    this.validTokens.clear();
    this.now = Date.now;
    this.tokenLifetimeMs = 3600_000;
    this.authDelayMs = 0;
    for (const r of this.hanging) r.destroy();
    this.hanging = [];
  }

  on(method: string, path: string, handler: Handler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  /** Recorded service requests (not auth) for a method + path. */
  calls(method: string, path: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  last(method: string, path: string): Recorded {
    const c = this.calls(method, path);
    assert.ok(c.length > 0, `no ${method} ${path} recorded`);
    return c[c.length - 1];
  }

  catalog() {
    const b = this.base;
    return [
      { id: 'k', type: 'identity', name: 'keystone', endpoints: [{ id: 'k1', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/identity/v3` }] },
      {
        id: 'n',
        type: 'compute',
        name: 'nova',
        endpoints: [
          { id: 'n1', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/nova-public/v2.1` },
          { id: 'n2', interface: 'internal', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/nova-internal/v2.1` },
          { id: 'n3', interface: 'public', region: 'RegionTwo', region_id: 'RegionTwo', url: `${b}/nova-r2/v2.1` },
        ],
      },
      { id: 'g', type: 'image', name: 'glance', endpoints: [{ id: 'g1', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/glance` }] },
      { id: 'h', type: 'orchestration', name: 'heat', endpoints: [{ id: 'h1', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/heat/v1/${PROJECT_ID}` }] },
      { id: 'q', type: 'network', name: 'neutron', endpoints: [{ id: 'q1', interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${b}/neutron/` }] },
    ];
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.base);
    let json: unknown;
    try {
      json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const rec: Recorded = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body, json };

    if (rec.method === 'POST' && rec.path === '/identity/v3/auth/tokens') return this.auth(rec, res);
    this.requests.push(rec);
    const handler = this.routes.get(`${rec.method} ${rec.path}`);
    if (!handler) return send(res, { status: 404, json: { itemNotFound: { code: 404, message: `no route ${rec.method} ${rec.path}` } } });
    const token = rec.headers['x-auth-token'];
    if (typeof token !== 'string' || !this.validTokens.has(token)) {
      return send(res, { status: 401, json: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } } });
    }
    const reply = await handler(rec);
    if (reply === 'hang') {
      this.hanging.push(res);
      return;
    }
    send(res, reply);
  }

  private async auth(rec: Recorded, res: http.ServerResponse): Promise<void> {
    this.authCount++;
    this.authBodies.push(rec.json);
    if (this.authDelayMs) await new Promise((r) => setTimeout(r, this.authDelayMs));
    const user = (rec.json as any)?.auth?.identity?.password?.user;
    if (user?.password !== PASSWORD) {
      return send(res, { status: 401, json: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } } });
    }
    const token = `gAAAAAtoken-${this.authCount}-${randomBytes(4).toString('hex')}`;
    this.issuedTokens.push(token);
    this.validTokens.add(token);
    const issued = this.now();
    send(res, {
      status: 201,
      headers: { 'X-Subject-Token': token },
      json: {
        token: {
          methods: ['password'],
          expires_at: new Date(issued + this.tokenLifetimeMs).toISOString(),
          issued_at: new Date(issued).toISOString(),
          audit_ids: ['a'],
          project: { id: PROJECT_ID, name: 'demo', domain: { id: 'default', name: 'Default' } },
          user: { id: 'u-1', name: 'alice', domain: { id: 'default', name: 'Default' } },
          roles: [{ id: 'r', name: 'member' }],
          catalog: this.catalog(),
        },
      },
    });
  }
}

function send(res: http.ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  if (reply.body instanceof Readable) {
    res.writeHead(reply.status, headers);
    reply.body.pipe(res);
    return;
  }
  let payload: Buffer | string = '';
  if (reply.json !== undefined) {
    payload = JSON.stringify(reply.json);
    headers['Content-Type'] = 'application/json';
  } else if (reply.body !== undefined) payload = reply.body;
  res.writeHead(reply.status, headers);
  res.end(payload);
}

const fake = new FakeOpenStack();
let agent: Agent;
let logLines: string[] = [];

function credentials(over: Partial<OpenStackCredentials> = {}): OpenStackCredentials {
  return {
    authUrl: `${fake.base}/identity`,
    username: 'alice',
    password: PASSWORD,
    userDomainName: 'Default',
    projectName: 'demo',
    projectDomainName: 'Default',
    region: 'RegionOne',
    ...over,
  };
}

/** A session with its own token cache, the test's agent and a log capture without redaction. */
function newSession(over: Partial<OpenStackCredentials> = {}, opts: SessionOptions = {}): OpenStackSession {
  const capture = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  return new OpenStackSession(credentials(over), {
    tokenCache: new TokenCache(),
    dispatcher: agent,
    logger: pino({ level: 'trace' }, capture),
    timeoutMs: 5_000,
    ...opts,
  });
}

function client(over: Partial<OpenStackCredentials> = {}, opts: SessionOptions = {}) {
  return createOpenStackClient(newSession(over, opts));
}

async function rejectsWith(p: Promise<unknown>): Promise<CloudApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CloudApiError, `expected CloudApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

const SERVER = { id: 'srv-1', name: 'vm-1', status: 'ACTIVE', addresses: {}, metadata: {} };

async function md5Of(stream: Readable): Promise<{ md5: string; bytes: number }> {
  const h = createHash('md5');
  let bytes = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { md5: h.digest('hex'), bytes };
}

describe('OpenStack client (fake OpenStack on port 0)', function () {
  this.timeout(20_000);

  before(async () => {
    await fake.start();
    agent = new Agent({ keepAliveTimeout: 2_000 });
  });
  after(async () => {
    await agent.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.reset();
    logLines = [];
  });

  describe('identity and catalog', () => {
    it('when authenticating by names with an auth URL lacking /v3, then it posts the password body to /v3/auth/tokens and calls compute at its catalog URL', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const os = client();
      const server = await os.compute.getServer('srv-1');
      assert.equal(server.name, 'vm-1');
      assert.deepEqual(fake.authBodies[0], {
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'alice', domain: { name: 'Default' }, password: PASSWORD } } },
          scope: { project: { name: 'demo', domain: { name: 'Default' } } },
        },
      });
      assert.equal(fake.last('GET', `${NOVA}/servers/srv-1`).headers['x-auth-token'], fake.issuedTokens[0]);
    });

    it('when the auth URL already ends with /v3/ and ids are given, then it is used as is with id-scoped body', async () => {
      assert.equal(normalizeAuthUrl('https://k.example/identity/v3/'), 'https://k.example/identity/v3');
      assert.equal(normalizeAuthUrl('https://k.example:5000'), 'https://k.example:5000/v3');
      fake.on('GET', `${NOVA}/flavors/f1`, () => ({ status: 200, json: { flavor: { id: 'f1', name: 'm1', ram: 512, vcpus: 1, disk: 1, swap: '' } } }));
      const os = client({ authUrl: `${fake.base}/identity/v3/`, userId: 'u-1', username: undefined, projectId: PROJECT_ID, projectName: undefined });
      await os.compute.getFlavor('f1');
      assert.deepEqual(fake.authBodies[0], {
        auth: { identity: { methods: ['password'], password: { user: { id: 'u-1', password: PASSWORD } } }, scope: { project: { id: PROJECT_ID } } },
      });
    });

    it('when the interface is internal, then the internal catalog endpoint is used', async () => {
      fake.on('GET', '/nova-internal/v2.1/servers/srv-1', () => ({ status: 200, json: { server: SERVER } }));
      await client({ interface: 'internal' }).compute.getServer('srv-1');
      assert.equal(fake.calls('GET', '/nova-internal/v2.1/servers/srv-1').length, 1);
    });

    it('when no region is set and the catalog spans two regions, then it refuses with a non-retryable error instead of guessing', async () => {
      const err = await rejectsWith(client({ region: undefined }).compute.getServer('srv-1'));
      assert.equal(err.kind, 'BadRequest');
      assert.equal(err.retryable, false);
      assert.match(err.message, /RegionOne.*RegionTwo|RegionTwo.*RegionOne/);
      const missing = await rejectsWith(newSession().endpoint('volumev3'));
      assert.match(missing.message, /no endpoint in the service catalog for service type "volumev3"/);
    });

    it('when the password is wrong, then the auth 401 is Unauthorized without a retry loop', async () => {
      const err = await rejectsWith(client({ password: 'wrong' }).compute.getServer('srv-1'));
      assert.equal(err.kind, 'Unauthorized');
      assert.equal(err.status, 401);
      assert.equal(fake.authCount, 1);
    });
  });

  describe('token lifecycle', () => {
    it('when making many calls, then it authenticates once and reuses the token', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const os = client();
      for (let i = 0; i < 5; i++) await os.compute.getServer('srv-1');
      await Promise.all([1, 2, 3].map(() => os.compute.getServer('srv-1')));
      assert.equal(fake.authCount, 1);
      assert.equal(fake.calls('GET', `${NOVA}/servers/srv-1`).length, 8);
    });

    it('when two sessions of the same account share a TokenCache, then they authenticate once between them', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const cache = new TokenCache();
      const a = createOpenStackClient(newSession({}, { tokenCache: cache }));
      const b = createOpenStackClient(newSession({}, { tokenCache: cache }));
      fake.authDelayMs = 50;
      await Promise.all([a.compute.getServer('srv-1'), b.compute.getServer('srv-1'), a.compute.getServer('srv-1')]);
      assert.equal(fake.authCount, 1);
      // A different account does not reuse that token.
      const other = createOpenStackClient(newSession({ projectName: 'other' }, { tokenCache: cache }));
      await other.compute.getServer('srv-1');
      assert.equal(fake.authCount, 2);
    });

    it('when the token gets within the expiry skew, then it re-authenticates before calling', async () => {
      let clock = Date.parse('2030-01-01T00:00:00Z');
      fake.now = () => clock;
      fake.tokenLifetimeMs = 120_000;
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const os = client({}, { now: () => clock, expirySkewMs: 60_000 });
      await os.compute.getServer('srv-1');
      clock += 30_000;
      await os.compute.getServer('srv-1');
      assert.equal(fake.authCount, 1);
      clock += 31_000; // 61 s after issue: 59 s left, inside the 60 s skew
      await os.compute.getServer('srv-1');
      assert.equal(fake.authCount, 2);
      assert.equal(fake.last('GET', `${NOVA}/servers/srv-1`).headers['x-auth-token'], fake.issuedTokens[1]);
    });

    it('when a call gets 401, then it re-authenticates once and the retry succeeds', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const os = client();
      await os.compute.getServer('srv-1');
      fake.validTokens.clear(); // Keystone revoked it
      const server = await os.compute.getServer('srv-1');
      assert.equal(server.id, 'srv-1');
      assert.equal(fake.authCount, 2);
      const calls = fake.calls('GET', `${NOVA}/servers/srv-1`);
      assert.equal(calls.length, 3);
      assert.equal(calls[2].headers['x-auth-token'], fake.issuedTokens[1]);
    });

    it('when the retry after re-authentication gets 401 again, then it fails Unauthorized without looping', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 401, json: { error: { code: 401, title: 'Unauthorized', message: 'nope' } } }));
      const err = await rejectsWith(client().compute.getServer('srv-1'));
      assert.equal(err.kind, 'Unauthorized');
      assert.equal(err.retryable, false);
      assert.equal(fake.authCount, 2);
      assert.equal(fake.calls('GET', `${NOVA}/servers/srv-1`).length, 2);
    });

    it('when concurrent calls all get 401, then exactly one re-authentication serves them all', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      const os = client();
      await os.compute.getServer('srv-1');
      fake.validTokens.clear();
      fake.authDelayMs = 50;
      const results = await Promise.all(Array.from({ length: 6 }, () => os.compute.getServer('srv-1')));
      assert.equal(results.length, 6);
      assert.equal(fake.authCount, 2);
    });

    it('when an upload body is a stream factory and the token is rejected, then the body is recreated and sent again', async () => {
      const received: string[] = [];
      fake.on('PUT', `${GLANCE}/images/img-1/file`, (r) => {
        received.push(r.body.toString());
        return { status: 204 };
      });
      const os = client();
      await os.session.token();
      fake.validTokens.clear();
      await os.image.uploadImageData('img-1', () => Readable.from([Buffer.from('abc'), Buffer.from('def')]));
      assert.equal(fake.authCount, 2);
      assert.deepEqual(received, ['abcdef']);
      // A one-shot stream cannot be replayed: the 401 surfaces instead.
      fake.validTokens.clear();
      const err = await rejectsWith(os.image.uploadImageData('img-1', Readable.from([Buffer.from('x')])));
      assert.equal(err.kind, 'Unauthorized');
    });
  });

  describe('error mapping', () => {
    it('when Nova answers 429 with a long Retry-After, then it is RateLimited with retryAfterMs and not retried inside the client', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({
        status: 429,
        headers: { 'Retry-After': '30' },
        json: { overLimit: { code: 429, message: 'This request was rate-limited.', retryAfter: '30' } },
      }));
      const err = await rejectsWith(client().compute.getServer('srv-1'));
      assert.equal(err.kind, 'RateLimited');
      assert.equal(err.retryAfterMs, 30_000);
      assert.equal(err.retryable, true);
      assert.equal(fake.calls('GET', `${NOVA}/servers/srv-1`).length, 1);
    });

    it('when a 429 asks for a short wait, then the client retries exactly once', async () => {
      let n = 0;
      fake.on('GET', `${NOVA}/servers/srv-1`, () => (++n === 1 ? { status: 429, headers: { 'Retry-After': '0' }, json: { overLimit: { code: 429 } } } : { status: 200, json: { server: SERVER } }));
      assert.equal((await client().compute.getServer('srv-1')).id, 'srv-1');
      fake.on('GET', `${NOVA}/servers/srv-2`, () => ({ status: 429, headers: { 'Retry-After': '0' }, json: { overLimit: { code: 429 } } }));
      const err = await rejectsWith(client().compute.getServer('srv-2'));
      assert.equal(err.kind, 'RateLimited');
      assert.equal(fake.calls('GET', `${NOVA}/servers/srv-2`).length, 2);
    });

    it('when Nova answers 413 overLimit with retryAfter only in the body, then it is RateLimited; a 413 without any hint is QuotaExceeded', async () => {
      fake.on('POST', `${NOVA}/servers`, () => ({ status: 413, json: { overLimit: { code: 413, message: 'slow down', retryAfter: '5' } } }));
      const os = client();
      const err = await rejectsWith(os.compute.createServer({ name: 'a', flavorRef: 'f', imageRef: 'i', networks: 'none' }));
      assert.equal(err.kind, 'RateLimited');
      assert.equal(err.retryAfterMs, 5_000);
      fake.on('PUT', `${GLANCE}/images/big/file`, () => ({ status: 413, body: 'Image exceeds the storage quota' }));
      const quota = await rejectsWith(os.image.uploadImageData('big', Buffer.from('x')));
      assert.equal(quota.kind, 'QuotaExceeded');
      assert.equal(quota.retryable, false);
    });

    it('when a service answers 503, then it is Unavailable and retryable, with method, URL, status and body', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 503, json: { serviceUnavailable: { code: 503, message: 'down for maintenance' } } }));
      const err = await rejectsWith(client().compute.getServer('srv-1'));
      assert.equal(err.kind, 'Unavailable');
      assert.equal(err.retryable, true);
      assert.equal(err.method, 'GET');
      assert.equal(err.url, `${fake.base}${NOVA}/servers/srv-1`);
      assert.equal(err.status, 503);
      assert.deepEqual(err.expected, [200]);
      assert.match(err.message, /down for maintenance/);
    });

    it('when a resource is missing, then it is NotFound and responseCodeIs(err, 404) holds; delete treats it as done only when asked', async () => {
      fake.on('GET', `${NOVA}/servers/gone`, () => ({ status: 404, json: { itemNotFound: { code: 404, message: 'Instance gone could not be found.' } } }));
      fake.on('DELETE', `${NOVA}/servers/gone`, () => ({ status: 404, json: { itemNotFound: { code: 404, message: 'Instance gone could not be found.' } } }));
      const os = client();
      const err = await rejectsWith(os.compute.getServer('gone'));
      assert.equal(err.kind, 'NotFound');
      assert.ok(responseCodeIs(err, 404));
      assert.equal(await os.compute.deleteServer('gone', { ignoreNotFound: true }), false);
      const strict = await rejectsWith(os.compute.deleteServer('gone'));
      assert.ok(responseCodeIs(strict, 404));
    });

    it('when a call is rejected with 400 or 403, then the error is not retryable', async () => {
      fake.on('POST', `${NOVA}/servers`, () => ({ status: 400, json: { badRequest: { code: 400, message: 'Invalid imageRef provided.' } } }));
      fake.on('DELETE', `${GLANCE}/images/prot`, () => ({ status: 403, body: 'Image is protected' }));
      const os = client();
      const bad = await rejectsWith(os.compute.createServer({ name: 'a', flavorRef: 'f', imageRef: 'nope', networks: 'none' }));
      assert.equal(bad.kind, 'BadRequest');
      assert.equal(bad.retryable, false);
      const forbidden = await rejectsWith(os.image.deleteImage('prot', { ignoreNotFound: true }));
      assert.equal(forbidden.kind, 'Forbidden');
      assert.equal(forbidden.retryable, false);
    });

    it('when a server never answers, then the call fails with Timeout after the configured deadline', async () => {
      fake.on('GET', `${NOVA}/servers/slow`, () => 'hang');
      const err = await rejectsWith(client({}, { timeoutMs: 300 }).compute.getServer('slow'));
      assert.equal(err.kind, 'Timeout');
      assert.equal(err.retryable, true);
      assert.match(err.message, /300 ms/);
    });

    it('when nothing listens at the auth URL, then it fails with Network', async () => {
      const probe = http.createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((r) => probe.close(() => r()));
      const err = await rejectsWith(client({ authUrl: `http://127.0.0.1:${port}/v3` }).compute.getServer('srv-1'));
      assert.equal(err.kind, 'Network');
      assert.equal(err.retryable, true);
    });

    it('when the caller aborts, then the call stops with the caller\'s reason rather than a cloud error', async () => {
      fake.on('GET', `${NOVA}/servers/slow`, () => 'hang');
      const ac = new AbortController();
      const p = client().compute.getServer('slow', { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('activity cancelled')), 50);
      await assert.rejects(p, /activity cancelled/);
    });

    it('when errors and logs are produced, then neither the password nor any token appears in them', async () => {
      fake.on('GET', `${NOVA}/servers/srv-1`, () => ({ status: 200, json: { server: SERVER } }));
      fake.on('GET', `${NOVA}/servers/bad`, () => ({ status: 500, json: { computeFault: { code: 500, message: 'boom' } } }));
      fake.on('GET', `${NOVA}/servers/denied`, () => ({ status: 401, json: { error: { code: 401, message: 'denied' } } }));
      fake.on('GET', `${NOVA}/servers/slow`, () => 'hang');
      const os = client({}, { timeoutMs: 300 });
      await os.compute.getServer('srv-1');
      const errors = [
        await rejectsWith(os.compute.getServer('bad')),
        await rejectsWith(os.compute.getServer('denied')),
        await rejectsWith(os.compute.getServer('slow')),
        await rejectsWith(client({ password: 'wrong-password-77' }).compute.getServer('srv-1')),
      ];
      const texts = [...logLines, ...errors.flatMap((e) => [e.message, JSON.stringify(e), String(e.stack)])];
      assert.ok(logLines.length > 0, 'the client logs its calls');
      assert.ok(fake.issuedTokens.length >= 2);
      for (const t of texts) {
        assert.ok(!t.includes(PASSWORD), `password leaked: ${t}`);
        assert.ok(!t.includes('wrong-password-77'), `password leaked: ${t}`);
        for (const tok of fake.issuedTokens) assert.ok(!t.includes(tok), `token leaked: ${t}`);
      }
    });
  });

  describe('compute (Nova)', () => {
    it('when calling compute, then every request carries the pinned microversion headers', async () => {
      fake.on('GET', `${NOVA}/flavors/detail`, () => ({ status: 200, json: { flavors: [{ id: 'f1', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20, swap: '' }] } }));
      fake.on('GET', `${NOVA}/flavors/f1`, () => ({ status: 200, json: { flavor: { id: 'f1', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20, swap: '' } } }));
      const os = client();
      const flavors = await os.compute.listFlavors();
      assert.deepEqual(flavors.map((f) => [f.id, f.ram]), [['f1', 2048]]);
      assert.equal((await os.compute.getFlavor('f1')).vcpus, 1);
      assert.equal(COMPUTE_MICROVERSION, '2.79');
      for (const r of fake.requests) {
        assert.equal(r.headers['openstack-api-version'], 'compute 2.79');
        assert.equal(r.headers['x-openstack-nova-api-version'], '2.79');
        assert.equal(r.headers['x-auth-token'], fake.issuedTokens[0]);
      }
    });

    it('when creating a server, then the body has networks, key_name, base64 user_data and metadata, and the envelope is unwrapped', async () => {
      fake.on('POST', `${NOVA}/servers`, () => ({
        status: 202,
        headers: { Location: `${fake.base}${NOVA}/servers/srv-9` },
        json: { server: { id: 'srv-9', adminPass: 'generated', links: [], security_groups: [{ name: 'default' }], 'OS-DCF:diskConfig': 'MANUAL' } },
      }));
      const created = await client().compute.createServer({
        name: 'vm-9',
        flavorRef: 'f1',
        imageRef: 'img-1',
        networks: [{ uuid: 'net-1' }],
        key_name: 'ops',
        user_data: '#cloud-config\npackages: [nginx]\n',
        metadata: { workflow: 'wf-1' },
        security_groups: ['default'],
      });
      assert.equal(created.id, 'srv-9');
      const r = fake.last('POST', `${NOVA}/servers`);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json, {
        server: {
          name: 'vm-9',
          flavorRef: 'f1',
          imageRef: 'img-1',
          networks: [{ uuid: 'net-1' }],
          key_name: 'ops',
          user_data: Buffer.from('#cloud-config\npackages: [nginx]\n').toString('base64'),
          metadata: { workflow: 'wf-1' },
          security_groups: [{ name: 'default' }],
        },
      });
    });

    it('when listing servers by name, then the regex filter is anchored and escaped and the result is filtered exactly', async () => {
      const name = 'web.1 (blue)+[x]';
      fake.on('GET', `${NOVA}/servers/detail`, () => ({
        status: 200,
        json: {
          servers: [
            { ...SERVER, id: 'a', name },
            { ...SERVER, id: 'b', name: 'WEB.1 (BLUE)+[X]' }, // case-insensitive DB collation
          ],
        },
      }));
      const servers = await client().compute.listServers({ name, status: 'ACTIVE' });
      assert.deepEqual(servers.map((s) => s.id), ['a']);
      const q = fake.last('GET', `${NOVA}/servers/detail`).query;
      assert.equal(q.get('name'), '^web\\.1 \\(blue\\)\\+\\[x\\]$');
      assert.equal(q.get('status'), 'ACTIVE');
      assert.equal(exactNameFilter('a^b$c|d'), '^a\\^b\\$c\\|d$');
      assert.ok(new RegExp(exactNameFilter(name)).test(name));
      assert.ok(!new RegExp(exactNameFilter('bob')).test('bobby'));
    });

    it('when servers span pages, then servers_links next is followed on our endpoint even if it names another host', async () => {
      fake.on('GET', `${NOVA}/servers/detail`, (r) => {
        const marker = r.query.get('marker');
        const page = (ids: string[], next?: string) => ({
          status: 200,
          json: {
            servers: ids.map((id) => ({ ...SERVER, id, name: `vm-${id}` })),
            ...(next ? { servers_links: [{ rel: 'next', href: `http://nova-internal.example:8774/v2.1/servers/detail?limit=2&status=ACTIVE&marker=${next}` }] } : {}),
          },
        });
        if (!marker) return page(['1', '2'], '2');
        if (marker === '2') return page(['3', '4'], '4');
        return page(['5']);
      });
      const servers = await client().compute.listServers({ status: 'ACTIVE', limit: 2 });
      assert.deepEqual(servers.map((s) => s.id), ['1', '2', '3', '4', '5']);
      const calls = fake.calls('GET', `${NOVA}/servers/detail`);
      assert.equal(calls.length, 3);
      assert.equal(calls[2].query.get('marker'), '4');
      assert.equal(calls[2].query.get('status'), 'ACTIVE');
    });

    it('when deleting, starting, stopping and rebooting, then the calls use DELETE and the action bodies', async () => {
      fake.on('DELETE', `${NOVA}/servers/srv-1`, () => ({ status: 204 }));
      fake.on('POST', `${NOVA}/servers/srv-1/action`, () => ({ status: 202 }));
      const os = client();
      assert.equal(await os.compute.deleteServer('srv-1', { ignoreNotFound: true }), true);
      await os.compute.startServer('srv-1');
      await os.compute.stopServer('srv-1');
      await os.compute.rebootServer('srv-1');
      await os.compute.rebootServer('srv-1', { type: 'HARD' });
      assert.deepEqual(
        fake.calls('POST', `${NOVA}/servers/srv-1/action`).map((r) => r.json),
        [{ 'os-start': null }, { 'os-stop': null }, { reboot: { type: 'SOFT' } }, { reboot: { type: 'HARD' } }],
      );
    });

    it('when a start hits the wrong state, then the 409 is a Conflict', async () => {
      fake.on('POST', `${NOVA}/servers/srv-1/action`, () => ({
        status: 409,
        json: { conflictingRequest: { code: 409, message: "Cannot 'start' instance srv-1 while it is in vm_state active" } },
      }));
      const err = await rejectsWith(client().compute.startServer('srv-1'));
      assert.equal(err.kind, 'Conflict');
      assert.match(err.message, /vm_state active/);
    });

    it('when snapshotting at 2.79, then image_id comes from the body; at 2.1, from the Location header', async () => {
      fake.on('POST', `${NOVA}/servers/srv-1/action`, (r) => {
        const v = r.headers['openstack-api-version'];
        if (v === 'compute 2.79') return { status: 202, json: { image_id: 'img-new' } };
        return { status: 202, headers: { Location: `http://glance.internal:9292/v2/images/img-old` } };
      });
      const modern = await client().compute.createImage('srv-1', { name: 'snap', metadata: { backup: 'yes' } });
      assert.deepEqual(modern, { image_id: 'img-new' });
      assert.deepEqual(fake.last('POST', `${NOVA}/servers/srv-1/action`).json, { createImage: { name: 'snap', metadata: { backup: 'yes' } } });
      const legacy = await createOpenStackClient(newSession(), { computeMicroversion: '2.1' }).compute.createImage('srv-1', { name: 'snap' });
      assert.deepEqual(legacy, { image_id: 'img-old' });
      assert.equal(fake.last('POST', `${NOVA}/servers/srv-1/action`).headers['openstack-api-version'], 'compute 2.1');
    });

    it('when managing keypairs, then list unwraps the double envelope and create/delete use os-keypairs', async () => {
      const kp = { name: 'ops', public_key: 'ssh-ed25519 AAAA', fingerprint: 'aa:bb', type: 'ssh' };
      fake.on('GET', `${NOVA}/os-keypairs`, () => ({ status: 200, json: { keypairs: [{ keypair: kp }] } }));
      fake.on('POST', `${NOVA}/os-keypairs`, () => ({ status: 201, json: { keypair: { ...kp, user_id: 'u-1' } } }));
      fake.on('DELETE', `${NOVA}/os-keypairs/ops`, () => ({ status: 204 }));
      const os = client();
      assert.deepEqual(await os.compute.listKeypairs(), [kp]);
      const created = await os.compute.createKeypair({ name: 'ops', public_key: 'ssh-ed25519 AAAA' });
      assert.equal(created.user_id, 'u-1');
      assert.deepEqual(fake.last('POST', `${NOVA}/os-keypairs`).json, { keypair: { name: 'ops', public_key: 'ssh-ed25519 AAAA' } });
      assert.equal(await os.compute.deleteKeypair('ops'), true);
    });
  });

  describe('image (Glance)', () => {
    it('when listing images, then filters are sent and the relative next link is followed', async () => {
      fake.on('GET', `${GLANCE}/images`, (r) => {
        if (!r.query.get('marker')) {
          return { status: 200, json: { images: [{ id: 'i1', name: 'base', status: 'active' }], next: '/v2/images?marker=i1&name=base&status=active', first: '/v2/images', schema: '/v2/schemas/images' } };
        }
        return { status: 200, json: { images: [{ id: 'i2', name: 'base', status: 'active' }], first: '/v2/images', schema: '/v2/schemas/images' } };
      });
      const images = await client().image.listImages({ name: 'base', status: 'active' });
      assert.deepEqual(images.map((i) => i.id), ['i1', 'i2']);
      const calls = fake.calls('GET', `${GLANCE}/images`);
      assert.equal(calls[0].query.get('name'), 'base');
      assert.equal(calls[0].query.get('status'), 'active');
      assert.equal(calls[1].query.get('marker'), 'i1');
      assert.equal(calls[1].query.get('name'), 'base');
    });

    it('when creating, getting, importing, patching and deleting an image, then each call has its method, path and body', async () => {
      const img = { id: 'img-1', name: 'backup', status: 'queued', disk_format: 'qcow2', container_format: 'bare', vmflow_source: 'srv-1' };
      fake.on('POST', `${GLANCE}/images`, () => ({ status: 201, headers: { Location: `${fake.base}${GLANCE}/images/img-1` }, json: img }));
      fake.on('GET', `${GLANCE}/images/img-1`, () => ({ status: 200, json: img }));
      fake.on('POST', `${GLANCE}/images/img-1/import`, () => ({ status: 202 }));
      fake.on('PATCH', `${GLANCE}/images/img-1`, () => ({ status: 200, json: { ...img, vmflow_source: 'srv-2', dr: 'yes' } }));
      fake.on('DELETE', `${GLANCE}/images/img-1`, () => ({ status: 204 }));
      const os = client();
      const created = await os.image.createImage({ name: 'backup', disk_format: 'qcow2', container_format: 'bare', visibility: 'private', properties: { vmflow_source: 'srv-1' } });
      assert.equal(created.status, 'queued');
      assert.deepEqual(fake.last('POST', `${GLANCE}/images`).json, { name: 'backup', disk_format: 'qcow2', container_format: 'bare', visibility: 'private', vmflow_source: 'srv-1' });
      assert.equal((await os.image.getImage('img-1')).vmflow_source, 'srv-1');
      await os.image.importImage('img-1', { uri: 'http://store.example/disk.qcow2' });
      assert.deepEqual(fake.last('POST', `${GLANCE}/images/img-1/import`).json, { method: { name: 'web-download', uri: 'http://store.example/disk.qcow2' } });
      const updated = await os.image.updateImageProperties('img-1', { vmflow_source: 'srv-2', dr: 'yes', gone: null }, { current: img });
      assert.equal(updated.dr, 'yes');
      const patch = fake.last('PATCH', `${GLANCE}/images/img-1`);
      assert.equal(patch.headers['content-type'], 'application/openstack-images-v2.1-json-patch');
      assert.deepEqual(patch.json, [
        { op: 'replace', path: '/vmflow_source', value: 'srv-2' },
        { op: 'add', path: '/dr', value: 'yes' },
      ]);
      assert.equal(await os.image.deleteImage('img-1'), true);
    });

    it('when uploading and downloading image data, then bytes stream both ways and the checksum matches Content-MD5', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const md5 = createHash('md5').update(data).digest('hex');
      let stored: Buffer | undefined;
      fake.on('PUT', `${GLANCE}/images/img-1/file`, (r) => {
        assert.equal(r.headers['content-type'], 'application/octet-stream');
        stored = r.body;
        return { status: 204 };
      });
      fake.on('GET', `${GLANCE}/images/img-1/file`, () => {
        const body = stored ?? Buffer.alloc(0);
        const chunks = Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
        return {
          status: 200,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), 'Content-MD5': createHash('md5').update(body).digest('hex') },
          body: Readable.from(chunks),
        };
      });
      fake.on('GET', `${GLANCE}/images/empty/file`, () => ({ status: 204 }));
      const os = client();
      const source = Readable.from(
        (function* () {
          for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
        })(),
      );
      await os.image.uploadImageData('img-1', source, { size: data.length });
      assert.ok(stored && stored.equals(data));
      const dl = await os.image.downloadImageData('img-1');
      assert.equal(dl.hasData, true);
      assert.equal(dl.size, data.length);
      assert.equal(dl.contentMd5, md5);
      const got = await md5Of(dl.stream);
      assert.deepEqual(got, { md5, bytes: data.length });
      const empty = await os.image.downloadImageData('empty');
      assert.equal(empty.hasData, false);
      assert.deepEqual(await md5Of(empty.stream), { md5: createHash('md5').digest('hex'), bytes: 0 });
    });

    it('when the image data is missing, then download fails NotFound', async () => {
      fake.on('GET', `${GLANCE}/images/none/file`, () => ({ status: 404, body: 'no image' }));
      const err = await rejectsWith(client().image.downloadImageData('none'));
      assert.equal(err.kind, 'NotFound');
    });
  });

  describe('orchestration (Heat)', () => {
    it('when creating a stack, then template, parameters, timeout, rollback and comma-joined tags are sent and the stack ref unwrapped', async () => {
      fake.on('POST', `${HEAT}/stacks`, () => ({
        status: 201,
        headers: { Location: `${fake.base}${HEAT}/stacks/web/st-1` },
        json: { stack: { id: 'st-1', links: [{ href: `${fake.base}${HEAT}/stacks/web/st-1`, rel: 'self' }] } },
      }));
      const template = { heat_template_version: '2021-04-16', resources: {} };
      const ref = await client().orchestration.createStack({
        stack_name: 'web',
        template,
        parameters: { flavor: 'm1.small' },
        timeout_mins: 30,
        disable_rollback: true,
        tags: ['vmflow', 'wf-1'],
      });
      assert.equal(ref.id, 'st-1');
      assert.deepEqual(fake.last('POST', `${HEAT}/stacks`).json, {
        stack_name: 'web',
        template,
        parameters: { flavor: 'm1.small' },
        timeout_mins: 30,
        disable_rollback: true,
        tags: 'vmflow,wf-1',
      });
      await client().orchestration.createStack({ stack_name: 'yaml', template: 'heat_template_version: 2021-04-16\nresources: {}\n' });
      assert.equal((fake.last('POST', `${HEAT}/stacks`).json as any).template, 'heat_template_version: 2021-04-16\nresources: {}\n');
    });

    it('when finding a stack by name, then the 302 Location is parsed and the canonical stack fetched on our endpoint; a missing name gives null', async () => {
      fake.on('GET', `${HEAT}/stacks/web`, () => ({ status: 302, headers: { Location: `http://heat.internal:8004/v1/${PROJECT_ID}/stacks/web/st-1` }, body: '' }));
      fake.on('GET', `${HEAT}/stacks/web/st-1`, () => ({
        status: 200,
        json: { stack: { id: 'st-1', stack_name: 'web', stack_status: 'CREATE_IN_PROGRESS', outputs: [{ output_key: 'ip', output_value: '10.0.0.5' }] } },
      }));
      fake.on('GET', `${HEAT}/stacks/nope`, () => ({ status: 404, json: { code: 404, title: 'Not Found', error: { type: 'EntityNotFound', message: 'The Stack (nope) could not be found.' } } }));
      const os = client();
      const stack = await os.orchestration.findStack('web');
      assert.equal(stack?.id, 'st-1');
      assert.deepEqual(stackStatus(stack!), { action: 'CREATE', status: 'IN_PROGRESS', inProgress: true, complete: false, failed: false });
      assert.equal(await os.orchestration.findStack('nope'), null);
      const outputs = await os.orchestration.getStackOutputs('web', 'st-1');
      assert.equal(outputValue(outputs, 'ip'), '10.0.0.5');
      assert.deepEqual(stackStatus('ROLLBACK_FAILED'), { action: 'ROLLBACK', status: 'FAILED', inProgress: false, complete: false, failed: true });
    });

    it('when updating with PUT and PATCH and deleting, then each uses its method on /stacks/{name}/{id}', async () => {
      fake.on('PUT', `${HEAT}/stacks/web/st-1`, () => ({ status: 202 }));
      fake.on('PATCH', `${HEAT}/stacks/web/st-1`, () => ({ status: 202 }));
      fake.on('DELETE', `${HEAT}/stacks/web/st-1`, () => ({ status: 204 }));
      fake.on('DELETE', `${HEAT}/stacks/web/st-gone`, () => ({ status: 404, json: { code: 404, error: { type: 'EntityNotFound' } } }));
      const os = client();
      await os.orchestration.updateStack('web', 'st-1', { template: { heat_template_version: '2021-04-16' }, parameters: { a: '1' } });
      assert.deepEqual(fake.last('PUT', `${HEAT}/stacks/web/st-1`).json, { template: { heat_template_version: '2021-04-16' }, parameters: { a: '1' } });
      await os.orchestration.patchStack('web', 'st-1', { parameters: { b: '2' } });
      assert.deepEqual(fake.last('PATCH', `${HEAT}/stacks/web/st-1`).json, { parameters: { b: '2' } });
      assert.equal(await os.orchestration.deleteStack('web', 'st-1'), true);
      assert.equal(await os.orchestration.deleteStack('web', 'st-gone', { ignoreNotFound: true }), false);
      assert.ok(responseCodeIs(await rejectsWith(os.orchestration.deleteStack('web', 'st-gone')), 404));
    });

    it('when listing resources and paging events by marker, then envelopes are unwrapped and markers advance', async () => {
      fake.on('GET', `${HEAT}/stacks/web/st-1/resources`, () => ({
        status: 200,
        json: { resources: [{ resource_name: 'server', logical_resource_id: 'server', physical_resource_id: 'srv-1', resource_type: 'OS::Nova::Server', resource_status: 'CREATE_COMPLETE' }] },
      }));
      const events = ['e1', 'e2', 'e3'].map((id) => ({ id, event_time: '2030-01-01T00:00:00Z', resource_name: 'web', logical_resource_id: 'web', resource_status: 'CREATE_COMPLETE' }));
      fake.on('GET', `${HEAT}/stacks/web/st-1/events`, (r) => {
        const marker = r.query.get('marker');
        const start = marker ? events.findIndex((e) => e.id === marker) + 1 : 0;
        const limit = Number(r.query.get('limit') ?? events.length);
        return { status: 200, json: { events: events.slice(start, start + limit) } };
      });
      const os = client();
      const resources = await os.orchestration.listStackResources('web', 'st-1');
      assert.equal(resources[0].physical_resource_id, 'srv-1');
      const got = await os.orchestration.listStackEvents('web', 'st-1', { sortDir: 'asc', pageSize: 2 });
      assert.deepEqual(got.map((e) => e.id), ['e1', 'e2', 'e3']);
      const calls = fake.calls('GET', `${HEAT}/stacks/web/st-1/events`);
      assert.deepEqual(calls.map((c) => c.query.get('marker')), [null, 'e2']);
      assert.equal(calls[0].query.get('sort_dir'), 'asc');
    });
  });

  describe('network (Neutron)', () => {
    it('when listing networks and ports, then filters are sent under /v2.0 and networks_links is followed', async () => {
      fake.on('GET', `${NEUTRON}/networks`, (r) =>
        r.query.get('marker')
          ? { status: 200, json: { networks: [{ id: 'n2', name: 'private', status: 'ACTIVE' }] } }
          : {
              status: 200,
              json: {
                networks: [{ id: 'n1', name: 'private', status: 'ACTIVE' }],
                networks_links: [{ rel: 'next', href: `http://neutron.internal:9696/v2.0/networks?name=private&limit=1&marker=n1` }],
              },
            },
      );
      fake.on('GET', `${NEUTRON}/ports`, () => ({ status: 200, json: { ports: [{ id: 'p1', device_id: 'srv-1', network_id: 'n1', fixed_ips: [] }] } }));
      const os = client();
      const nets = await os.network.listNetworks({ name: 'private' });
      assert.deepEqual(nets.map((n) => n.id), ['n1', 'n2']);
      assert.equal(fake.calls('GET', `${NEUTRON}/networks`)[0].query.get('name'), 'private');
      const ports = await os.network.listPorts({ device_id: 'srv-1' });
      assert.equal(ports[0].id, 'p1');
      assert.equal(fake.last('GET', `${NEUTRON}/ports`).query.get('device_id'), 'srv-1');
    });

    it('when managing floating IPs, then create, associate, disassociate (null), list and delete have the right shapes', async () => {
      const fip = { id: 'fip-1', floating_ip_address: '203.0.113.5', floating_network_id: 'ext', port_id: null, fixed_ip_address: null, status: 'DOWN' };
      fake.on('POST', `${NEUTRON}/floatingips`, () => ({ status: 201, json: { floatingip: fip } }));
      fake.on('PUT', `${NEUTRON}/floatingips/fip-1`, (r) => ({ status: 200, json: { floatingip: { ...fip, port_id: (r.json as any).floatingip.port_id } } }));
      fake.on('GET', `${NEUTRON}/floatingips`, () => ({ status: 200, json: { floatingips: [fip] } }));
      fake.on('DELETE', `${NEUTRON}/floatingips/fip-1`, () => ({ status: 204 }));
      const os = client();
      assert.equal((await os.network.createFloatingIp({ floating_network_id: 'ext', port_id: 'p1' })).id, 'fip-1');
      assert.deepEqual(fake.last('POST', `${NEUTRON}/floatingips`).json, { floatingip: { floating_network_id: 'ext', port_id: 'p1' } });
      assert.equal((await os.network.updateFloatingIp('fip-1', 'p2')).port_id, 'p2');
      assert.equal((await os.network.updateFloatingIp('fip-1', null)).port_id, null);
      assert.deepEqual(fake.last('PUT', `${NEUTRON}/floatingips/fip-1`).json, { floatingip: { port_id: null } });
      assert.equal((await os.network.listFloatingIps({ port_id: 'p1' })).length, 1);
      assert.equal(fake.last('GET', `${NEUTRON}/floatingips`).query.get('port_id'), 'p1');
      assert.equal(await os.network.deleteFloatingIp('fip-1'), true);
    });

    it('when making and removing a network, subnet, router and interface, then each call has its method, path and body, and 404 on delete is done only when asked', async () => {
      fake.on('POST', `${NEUTRON}/networks`, () => ({ status: 201, json: { network: { id: 'n1', name: 'env', status: 'ACTIVE' } } }));
      fake.on('POST', `${NEUTRON}/subnets`, () => ({ status: 201, json: { subnet: { id: 's1', name: 'env-subnet', network_id: 'n1', cidr: '10.5.0.0/24' } } }));
      fake.on('POST', `${NEUTRON}/routers`, () => ({ status: 201, json: { router: { id: 'r1', name: 'env-router', external_gateway_info: { network_id: 'ext' } } } }));
      fake.on('PUT', `${NEUTRON}/routers/r1/add_router_interface`, () => ({ status: 200, json: { id: 'r1', port_id: 'p9', subnet_id: 's1', subnet_ids: ['s1'], network_id: 'n1' } }));
      fake.on('PUT', `${NEUTRON}/routers/r1/remove_router_interface`, () => ({ status: 200, json: { id: 'r1', port_id: 'p9', subnet_id: 's1', network_id: 'n1' } }));
      fake.on('DELETE', `${NEUTRON}/routers/r1`, () => ({ status: 204 }));
      fake.on('DELETE', `${NEUTRON}/subnets/s1`, () => ({ status: 409, json: { NeutronError: { type: 'SubnetInUse', message: 'in use', detail: '' } } }));
      fake.on('DELETE', `${NEUTRON}/networks/n1`, () => ({ status: 404, json: { NeutronError: { type: 'NetworkNotFound', message: 'Network n1 could not be found.', detail: '' } } }));
      fake.on('GET', `${NEUTRON}/quotas/${PROJECT_ID}/details`, () => ({ status: 200, json: { quota: { network: { limit: 100, used: 1, reserved: 0 } } } }));
      const os = client();
      assert.equal((await os.network.createNetwork({ name: 'env' })).id, 'n1');
      assert.deepEqual(fake.last('POST', `${NEUTRON}/networks`).json, { network: { name: 'env' } });
      assert.equal((await os.network.createSubnet({ network_id: 'n1', cidr: '10.5.0.0/24', name: 'env-subnet', gateway_ip: null })).id, 's1');
      assert.deepEqual(fake.last('POST', `${NEUTRON}/subnets`).json, { subnet: { ip_version: 4, network_id: 'n1', cidr: '10.5.0.0/24', name: 'env-subnet', gateway_ip: null } });
      assert.equal((await os.network.createRouter({ name: 'env-router', external_network_id: 'ext' })).id, 'r1');
      assert.deepEqual(fake.last('POST', `${NEUTRON}/routers`).json, { router: { name: 'env-router', external_gateway_info: { network_id: 'ext' } } });
      assert.equal((await os.network.addRouterInterface('r1', { subnet_id: 's1' })).port_id, 'p9');
      assert.deepEqual(fake.last('PUT', `${NEUTRON}/routers/r1/add_router_interface`).json, { subnet_id: 's1' });
      await os.network.removeRouterInterface('r1', { port_id: 'p9' });
      assert.deepEqual(fake.last('PUT', `${NEUTRON}/routers/r1/remove_router_interface`).json, { port_id: 'p9' });
      assert.equal(await os.network.deleteRouter('r1'), true);
      const inUse = await rejectsWith(os.network.deleteSubnet('s1'));
      assert.equal(inUse.kind, 'Conflict');
      assert.equal((await rejectsWith(os.network.deleteNetwork('n1'))).kind, 'NotFound');
      assert.equal(await os.network.deleteNetwork('n1', { ignoreNotFound: true }), false);
      assert.deepEqual(await os.network.getQuota(PROJECT_ID, { details: true }), { network: { limit: 100, used: 1, reserved: 0 } });
    });
  });
});
