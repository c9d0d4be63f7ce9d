import assert from 'node:assert/strict';
import express from 'express';
import { z } from 'zod';
import { isPublicApiRoute } from '../../api/auth-middleware';
import { ApiContract, contractOf, listExpressRoutes, toOpenApiPath } from '../../api/openapi';
import { judgeAnswer } from '../harness/conformance';
import { appWithoutConnections, documentedSchema } from '../harness/contract';

type Json = any;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Routes outside /api/v1 that answer without credentials (the session gate covers only /api/v1). */
const OPEN_OUTSIDE_API = new Set(['GET /healthz', 'GET /readyz']);

function operations(doc: Json): Array<{ method: string; path: string; op: Json }> {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Json>)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

function refsIn(value: unknown, at = '#', out: Array<{ ref: string; at: string }> = []): Array<{ ref: string; at: string }> {
  if (Array.isArray(value)) value.forEach((v, i) => refsIn(v, `${at}/${i}`, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at });
      else refsIn(v, `${at}/${k}`, out);
    }
  }
  return out;
}

function resolvePointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<Json>((node, key) => (node && typeof node === 'object' ? node[key] : undefined), doc);
}

describe('OpenAPI document', () => {
  const app = appWithoutConnections();
  const doc: Json = contractOf(app).document();

  it('when the document is built, then it has the OpenAPI 3.1 skeleton: openapi, info, servers, paths and components', () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
    assert.deepEqual(doc.servers, [{ url: '/' }]);
    assert.ok(Object.keys(doc.paths).length > 0);
    for (const part of ['schemas', 'securitySchemes', 'headers']) assert.equal(typeof doc.components[part], 'object', `components.${part}`);
    assert.deepEqual((contractOf(app).document({ serverUrl: 'https://vmflow.example' }) as Json).servers, [{ url: 'https://vmflow.example' }]);
  });

  it('when every $ref in the document is followed, then it lands on a definition', () => {
    const refs = refsIn(doc);
    assert.ok(refs.length > 20);
    const dangling = refs.filter((r) => resolvePointer(doc, r.ref) === undefined).map((r) => `${r.ref} (at ${r.at})`);
    assert.deepEqual(dangling, [], `dangling $refs:\n  ${dangling.join('\n  ')}`);
  });

  it('when operations are listed, then each has a unique operationId, a summary, a tag and a 2xx answer', () => {
    const seen = new Map<string, string>();
    for (const { method, path, op } of operations(doc)) {
      const where = `${method} ${path}`;
      assert.equal(typeof op.operationId, 'string', `${where}: operationId`);
      assert.ok(!seen.has(op.operationId), `${where}: operationId ${op.operationId} is also ${seen.get(op.operationId)}'s`);
      seen.set(op.operationId, where);
      assert.ok(op.summary, `${where}: summary`);
      assert.equal(op.tags?.length, 1, `${where}: one tag`);
      assert.ok(Object.keys(op.responses ?? {}).some((s) => /^2\d\d$/.test(s)), `${where}: no 2xx response`);
      for (const [status, res] of Object.entries(op.responses as Record<string, Json>)) assert.ok(res.description, `${where} ${status}: description`);
    }
  });

  it('when a path has {params}, then each operation declares every one as a required path parameter with a schema', () => {
    for (const { method, path, op } of operations(doc)) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p: Json) => p.in === 'path');
      assert.deepEqual(declared.map((p: Json) => p.name).sort(), inPath, `${method} ${path}: path parameters`);
      for (const p of op.parameters ?? []) {
        assert.ok(['path', 'query', 'header', 'cookie'].includes(p.in), `${method} ${path}: parameter ${p.name} in ${p.in}`);
        assert.equal(typeof p.schema, 'object', `${method} ${path}: parameter ${p.name} schema`);
        if (p.in === 'path') assert.equal(p.required, true, `${method} ${path}: path parameter ${p.name} must be required`);
      }
    }
  });

  it('when the routes Express serves are compared with the documented ones, then they are the same set', () => {
    const served = new Set(listExpressRoutes(app).map((r) => `${r.method} ${r.path}`));
    const documented = new Set(operations(doc).map((o) => `${o.method} ${o.path}`));
    const declared = new Set(contractOf(app).documentedOperations().map((o) => `${o.method} ${o.path}`));
    assert.deepEqual([...declared].sort(), [...documented].sort(), 'the document lists exactly the declared routes');
    const undocumented = [...served].filter((r) => !documented.has(r));
    const absent = [...documented].filter((r) => !served.has(r));
    assert.ok(
      undocumented.length === 0 && absent.length === 0,
      [
        undocumented.length ? `served but not documented (mount it with ApiScope#route, not router.get/post…):\n  ${undocumented.join('\n  ')}` : '',
        absent.length ? `documented but not served by createApp:\n  ${absent.join('\n  ')}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
    assert.ok(served.size >= 20, `only ${served.size} routes found: the lister misses mounted routers`);
  });

  it('when a route is public to the session gate, then it declares no security; every other route declares bearer or cookie', () => {
    const schemes = doc.components.securitySchemes;
    assert.deepEqual(schemes.bearerAuth, { ...schemes.bearerAuth, type: 'http', scheme: 'bearer' });
    assert.deepEqual(schemes.sessionCookie, { ...schemes.sessionCookie, type: 'apiKey', in: 'cookie', name: 'vmflow_session' });
    for (const { method, path, op } of operations(doc)) {
      const where = `${method} ${path}`;
      const isPublic = path.startsWith('/api/v1/') ? isPublicApiRoute(method, path.slice('/api/v1'.length)) : OPEN_OUTSIDE_API.has(where);
      assert.ok(Array.isArray(op.security), `${where}: security must be declared on the operation`);
      if (isPublic) {
        assert.deepEqual(op.security, [], `${where} is public (PUBLIC_API_ROUTES) but the document asks for credentials`);
        continue;
      }
      const names = op.security.flatMap((req: Json) => Object.keys(req));
      for (const scheme of ['bearerAuth', 'sessionCookie']) assert.ok(names.includes(scheme), `${where} needs a session but does not declare ${scheme}`);
      for (const name of names) assert.ok(schemes[name], `${where}: security scheme ${name} is not defined`);
      assert.ok(op.responses['401'], `${where} needs a session but documents no 401`);
    }
  });

  it('when an operation answers 4xx, then that answer is the Error body {error:{code,message,fields?,requestId}}', () => {
    for (const { method, path, op } of operations(doc)) {
      for (const [status, res] of Object.entries(op.responses as Record<string, Json>)) {
        if (!/^4\d\d$/.test(status)) continue;
        assert.equal(res.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${method} ${path} ${status}: not the Error schema`);
        assert.ok(res.headers?.['X-Request-Id'], `${method} ${path} ${status}: X-Request-Id header`);
        if (status === '429') assert.ok(res.headers?.['Retry-After'], `${method} ${path} 429: Retry-After header`);
      }
    }
    const error = documentedSchema('Error', doc);
    assert.ok(error.safeParse({ error: { code: 'validation_failed', message: 'm', fields: [{ field: 'name', message: 'x' }], requestId: 'r' } }).success);
    assert.ok(!error.safeParse({ error: { code: 'validation_failed', message: 'm' } }).success, 'requestId is required');
  });

  it('when a route takes a JSON body, then it documents 400 and 413, and POST /vms documents the Idempotency-Key header', () => {
    for (const { method, path, op } of operations(doc)) {
      if (!op.requestBody) continue;
      assert.ok(op.requestBody.content['application/json'].schema, `${method} ${path}: body schema`);
      for (const status of ['400', '413']) assert.ok(op.responses[status], `${method} ${path}: ${status}`);
    }
    const create = doc.paths['/api/v1/vms'].post;
    const key = create.parameters.find((p: Json) => p.name === 'Idempotency-Key');
    assert.equal(key?.in, 'header');
    assert.equal(key?.required, false);
  });

  it('when request schemas derived from zod are checked with sample bodies, then they accept what the API accepts and refuse unknown fields', () => {
    const createVm = documentedSchema('CreateVmRequest', doc);
    const vm = { name: 'web1', os: 'ubuntu-22.04', size: 'small', cloud: 'openstack' };
    assert.ok(createVm.safeParse(vm).success);
    assert.ok(createVm.safeParse({ ...vm, accountId: 'ca-1', software: ['nginx'] }).success);
    assert.ok(!createVm.safeParse({ ...vm, colour: 'red' }).success, 'VM requirements are a strict object');
    assert.ok(!createVm.safeParse({ name: 'web1' }).success, 'os, size and cloud are required');
    const patch = documentedSchema('VmPatch', doc);
    assert.ok(patch.safeParse({ size: 'large' }).success);
    assert.ok(!patch.safeParse({ name: 'other' }).success, 'name is fixed for the life of the VM');
    const account = documentedSchema('CreateCloudAccountRequest', doc);
    assert.ok(account.safeParse({ kind: 'cloudstack', name: 'cs', apiUrl: 'http://cs.example/client/api', apiKey: 'k', secretKey: 's' }).success);
    assert.ok(!account.safeParse({ kind: 'azure', name: 'x' }).success);
    assert.ok(documentedSchema('SignupRequest', doc).safeParse({ username: 'Alice', password: 'correct horse battery' }).success, 'usernames are case-insensitive');
  });

  it('when bodies the fuzzer found the API refusing are checked, then the document refuses them too and accepts what the API accepts', () => {
    const accepts = (name: string, body: unknown) => assert.ok(documentedSchema(name, doc).safeParse(body).success, `${name} should accept ${JSON.stringify(body)}`);
    const refuses = (name: string, body: unknown) => assert.ok(!documentedSchema(name, doc).safeParse(body).success, `${name} should refuse ${JSON.stringify(body)}`);
    // Optional bodies with no unknown keys (the routes read them as z.strictObject, absent → {}).
    for (const name of ['FailoverRequest', 'DrillRequest', 'RestoreRequest'] as const) {
      accepts(name, {});
      refuses(name, { unknown: 1 });
    }
    accepts('FailoverRequest', { target: 'backup-cloud', reason: 'drill' });
    refuses('FailoverRequest', { reason: 'x'.repeat(501) });
    refuses('RestoreRequest', { backupId: '' });
    // Exactly one of intervalSeconds and cron.
    accepts('BackupPolicyRequest', { cron: '0 3 * * *' });
    accepts('BackupPolicyRequest', { intervalSeconds: 3600, retention: 2 });
    refuses('BackupPolicyRequest', {});
    refuses('BackupPolicyRequest', { intervalSeconds: 3600, cron: '0 3 * * *' });
    // Codec payloads are base64.
    accepts('CodecPayloads', { payloads: [{ metadata: { encoding: 'YmluYXJ5L3BsYWlu' }, data: 'e30=' }] });
    refuses('CodecPayloads', { payloads: [{ data: 'not base64!' }] });
    refuses('CodecPayloads', { payloads: [{ metadata: { encoding: '%%' } }] });
    // Routes that read a missing body as {} say the body is optional; the others require it.
    const paths = doc.paths as Json;
    for (const [method, path] of [['put', '/api/v1/vms/{id}/dr'], ['post', '/api/v1/vms/{id}/dr/failover'], ['post', '/api/v1/vms/{id}/dr/drill'], ['post', '/api/v1/vms/{id}/restore']]) {
      assert.equal(paths[path][method].requestBody.required, false, `${method} ${path}`);
    }
    assert.equal(paths['/api/v1/vms'].post.requestBody.required, true);
    // GET /events?vmId= takes a VM id, as the route checks it.
    const events = paths['/api/v1/events'].get.parameters.find((p: Json) => p.name === 'vmId');
    assert.equal(events.schema.minLength, 1);
    assert.equal(events.schema.pattern, '^[A-Za-z0-9-]+$');
  });
});

describe('listExpressRoutes', () => {
  it('when routers are mounted inside routers, then the mount paths are joined, :params become {params} and automatic HEAD is left out', () => {
    const app = express();
    const inner = express.Router();
    inner.get('/', (_req, res) => void res.end());
    inner.patch('/:id', (_req, res) => void res.end());
    inner.post('/:id/verify', (_req, res) => void res.end());
    const api = express.Router();
    api.use((_req, _res, next) => next()); // middleware is not a route
    api.use('/things', inner);
    api.use(express.Router().delete('/other/:otherId', (_req, res) => void res.end()));
    app.use('/api/v2/', api);
    app.get('/ping', (_req, res) => void res.end());
    app.route('/both').get((_req, res) => void res.end()).put((_req, res) => void res.end());

    assert.deepEqual(listExpressRoutes(app), [
      { method: 'DELETE', path: '/api/v2/other/{otherId}' },
      { method: 'GET', path: '/api/v2/things' },
      { method: 'PATCH', path: '/api/v2/things/{id}' },
      { method: 'POST', path: '/api/v2/things/{id}/verify' },
      { method: 'GET', path: '/both' },
      { method: 'PUT', path: '/both' },
      { method: 'GET', path: '/ping' },
    ]);
  });

  it('when a route uses a wildcard or optional segment, then the lister refuses it naming the path', () => {
    const app = express();
    app.get('/files/*rest', (_req, res) => void res.end());
    assert.throws(() => listExpressRoutes(app), /\/files\/\*rest/);
    assert.throws(() => toOpenApiPath('/a{/:b}'), /\/a\{\/:b\}/);
    assert.equal(toOpenApiPath('/vms/:id/backups/:backupId'), '/vms/{id}/backups/{backupId}');
  });
});

describe('ApiScope#route', () => {
  it('when a route is declared in a nested scope, then it is mounted there and documented under the full path with the shared answers', async () => {
    const contract = new ApiContract();
    const app = express();
    const v9 = contract.scope(app).scope('/api/v9');
    v9.scope('/things').route(
      {
        method: 'get',
        path: '/:thingId',
        operationId: 'getThing',
        tag: 'vms',
        summary: 'A thing',
        params: z.object({ thingId: z.string() }),
        responses: { 200: { description: 'the thing', body: z.strictObject({ name: z.string() }).meta({ id: 'ThingForTest' }) } },
        errors: { 503: 'busy' },
      },
      (req, res) => {
        res.json({ name: String(req.params.thingId) });
      },
    );
    assert.deepEqual(listExpressRoutes(app), [{ method: 'GET', path: '/api/v9/things/{thingId}' }]);
    const doc: Json = contract.document();
    const op = doc.paths['/api/v9/things/{thingId}'].get;
    assert.equal(op.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/ThingForTest');
    assert.ok(op.responses['401'].headers['WWW-Authenticate'], 'session routes document 401 with WWW-Authenticate');
    assert.ok(op.responses['503'].headers['Retry-After'], '503 carries Retry-After');
    assert.deepEqual(op.security, [{ bearerAuth: [] }, { sessionCookie: [] }]);
    assert.equal(op.responses['413'], undefined, 'no body, no 413');
    const [declared] = contract.documentedOperations();
    assert.deepEqual([...declared.responses.keys()].sort(), [200, 401, 503]);
    assert.deepEqual(declared.responses.get(503)?.headers, ['X-Request-Id', 'Retry-After']);
  });

  it('when a route leaves out a path parameter or repeats an operationId, then declaring it throws naming it', () => {
    const scope = new ApiContract().scope(express());
    const spec = { method: 'get', path: '/a/:id', operationId: 'getA', tag: 'vms', summary: 's', responses: { 204: { description: 'none' } } } as const;
    assert.throws(() => scope.route(spec), /getA declares path parameters \[\] but \/a\/\{id\} has \[id\]/);
    scope.route({ ...spec, params: z.object({ id: z.string() }) });
    assert.throws(() => scope.route({ ...spec, path: '/b/:id', params: z.object({ id: z.string() }) }), /getA\) clashes with GET \/a\/\{id\} \(getA\)/);
  });
});

describe('response conformance (test/harness/conformance.ts)', () => {
  const json = (body: unknown, headers: Record<string, string> = {}) => ({ headers: new Headers({ 'content-type': 'application/json; charset=utf-8', ...headers }), text: JSON.stringify(body) });
  const base = 'http://127.0.0.1:9';

  it('when an answer matches its route and status, then it is validated; a 204 without content is exempt', () => {
    assert.deepEqual(judgeAnswer({ method: 'GET', url: `${base}/healthz`, status: 200, ...json({ status: 'ok' }) }), { route: 'GET /healthz', outcome: 'validated', success: true });
    assert.deepEqual(judgeAnswer({ method: 'POST', url: `${base}/api/v1/auth/logout`, status: 204, headers: new Headers({ 'set-cookie': 'vmflow_session=; Path=/' }), text: '' }), { route: 'POST /api/v1/auth/logout', outcome: 'exempt', success: true });
    const error = { error: { code: 'not_found', message: 'VM not found', requestId: 'r1' } };
    assert.equal(judgeAnswer({ method: 'GET', url: `${base}/api/v1/vms/abc?x=1`, status: 404, ...json(error, { 'x-request-id': 'r1' }) }).route, 'GET /api/v1/vms/{id}');
  });

  it('when an answer breaks the contract, then the verdict names the route, the status and the zod issue path', () => {
    const wrongField = judgeAnswer({ method: 'GET', url: `${base}/readyz`, status: 200, ...json({ status: 'ready', checks: { temporal: 'ok', mongodb: 'fine' } }) });
    assert.match(String((wrongField as { problem?: string }).problem), /^GET \/readyz \(readiness\) 200: the body breaks the documented schema: checks\.mongodb: /);
    const extra = judgeAnswer({ method: 'GET', url: `${base}/healthz`, status: 200, ...json({ status: 'ok', uptime: 3 }) });
    assert.match(String((extra as { problem?: string }).problem), /\(root\): Unrecognized key: "uptime"/);
    const status = judgeAnswer({ method: 'GET', url: `${base}/healthz`, status: 500, ...json({ error: { code: 'internal', message: 'm', requestId: 'r' } }) });
    assert.match(String((status as { problem?: string }).problem), /GET \/healthz \(health\) 500: the document does not list this status/);
    const header = judgeAnswer({ method: 'GET', url: `${base}/api/v1/vms`, status: 401, ...json({ error: { code: 'unauthorized', message: 'm', requestId: 'r' } }) });
    assert.match(String((header as { problem?: string }).problem), /the documented header X-Request-Id is missing/);
  });

  it('when a path no route declares answers, then only an Error body is asked of it', () => {
    assert.deepEqual(judgeAnswer({ method: 'GET', url: `${base}/nothing-here`, status: 404, ...json({ error: { code: 'not_found', message: 'm', requestId: 'r' } }) }), {});
    assert.match(String((judgeAnswer({ method: 'GET', url: `${base}/nothing-here`, status: 404, ...json({ oops: true }) }) as { problem?: string }).problem), /no declared route.*not the Error body/);
  });
});
