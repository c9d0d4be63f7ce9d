/**
 * Issue 12, item 8: members' own webhooks, signed per Standard Webhooks. Against a real API and
 * worker (deliverAlert on the test Temporal server) and a receiver on loopback (allow-listed by
 * path, as an operator would list a private receiver):
 *   - a webhook URL that leads inside (loopback outside the allowed path, the metadata service,
 *     an IPv4-mapped loopback) is refused at registration, naming `url`;
 *   - an event goes to its owner's endpoints only, signed over id.timestamp.body: a captured
 *     delivery replayed with a fresh timestamp fails verification;
 *   - a receiver that fails is retried with back-off, and the member reads the delivery log;
 *     another member cannot.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { alertWorkflowId, DELIVER_ALERT_WORKFLOW } from '../../src/contracts/dr';
import { OutboundGuard, parseAllowList } from '../../src/outbound/guard';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';
import { registerTestSecret, testKeyring } from '../harness/secrets';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { assertOwnerScoped, signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

interface Received {
  path: string;
  headers: Record<string, string>;
  raw: string;
}

describe('member webhooks (issue 12 item 8)', function () {
  this.timeout(180_000);
  let receiver: http.Server;
  let base: string;
  const received: Received[] = [];
  /** Per path: how many more requests to answer 500. */
  const failFirst = new Map<string, number>();
  let api: TestApi;
  let tw: TestWorker;
  let alice: TestUser;
  let bob: TestUser;

  async function call(user: TestUser, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
    const res = await apiFetch(`${api.url}${path}`, { method, headers: { ...user.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function register(user: TestUser, path: string): Promise<{ id: string; secret: string }> {
    const r = await call(user, 'POST', '/api/v1/webhooks', { url: `${base}${path}`, description: 'test receiver' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    registerTestSecret(r.body.secret);
    return r.body;
  }

  /** A DR event of `owner`, delivered by the real deliverAlert workflow. */
  async function deliverEvent(owner: TestUser, kind = 'drill.completed'): Promise<{ eventId: string; delivered: boolean }> {
    const eventId = crypto.randomUUID();
    await api.deps.db.collection('events').insertOne({ _id: eventId as never, ownerId: owner.userId, vmId: `vm-${eventId.slice(0, 8)}`, kind, message: 'a drill finished', at: new Date(), delivery: { status: 'disabled', attempts: 0 } });
    const result = await tw.client.workflow.execute<(i: { eventId: string }) => Promise<{ delivered: boolean }>>(DELIVER_ALERT_WORKFLOW, { workflowId: alertWorkflowId(eventId), taskQueue: tw.taskQueue, args: [{ eventId }] });
    return { eventId, ...result };
  }

  before(async () => {
    receiver = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const path = req.url ?? '';
        received.push({ path, headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), raw });
        const left = failFirst.get(path) ?? 0;
        if (left > 0) {
          failFirst.set(path, left - 1);
          res.writeHead(500).end('receiver body that must not be echoed');
        } else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const allow = `${base}/hooks/`;
    api = await startTestApi({ env: { VMFLOW_OUTBOUND_ALLOW: allow } });
    tw = await startTestWorker({ deps: { webhooks: { keyring: testKeyring(), outbound: new OutboundGuard({ allow: parseAllowList(allow) }) } } });
    alice = await signupAndLogin(api.url);
    bob = await signupAndLogin(api.url);
  });
  after(async () => {
    await tw?.stop();
    await api?.close();
    receiver?.close();
  });

  it('when a member registers a webhook URL that leads inside, then 400 url_not_allowed names url and nothing is stored', async () => {
    for (const url of [`${base}/_sim/reset`, 'http://169.254.169.254/latest/meta-data/', `http://[::ffff:127.0.0.1]:${(receiver.address() as AddressInfo).port}/hooks/x`, 'http://10.0.0.1/hook', 'file:///etc/passwd']) {
      const r = await call(alice, 'POST', '/api/v1/webhooks', { url });
      assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
      assert.ok(['url_not_allowed', 'validation_failed'].includes(r.body.error.code), url);
      assert.deepEqual(r.body.error.fields.map((f: { field: string }) => f.field), ['url'], url);
    }
    assert.deepEqual((await call(alice, 'GET', '/api/v1/webhooks')).body.items, []);
    assert.equal(received.length, 0, 'nothing was sent');
  });

  it('when an event of one member is delivered, then only their endpoint gets it, signed over id.timestamp.body, and a replay with a fresh timestamp fails verification', async () => {
    const mine = await register(alice, '/hooks/alice');
    const theirs = await register(bob, '/hooks/bob');
    const listed = await call(alice, 'GET', '/api/v1/webhooks');
    assert.deepEqual(listed.body.items.map((w: Json) => w.id), [mine.id]);
    assert.ok(!JSON.stringify(listed.body).includes(mine.secret), 'the secret is answered only at creation');

    const { eventId, delivered } = await deliverEvent(alice);
    assert.equal(delivered, true);
    const got = received.filter((r) => r.path === '/hooks/alice');
    assert.equal(got.length, 1);
    assert.equal(received.filter((r) => r.path === '/hooks/bob').length, 0, 'another member\'s endpoint gets nothing');
    const d = got[0]!;
    assert.equal(d.headers['webhook-id'], eventId);
    assert.match(d.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/=]+$/);
    const payload = new Webhook(mine.secret).verify(d.raw, d.headers) as Json;
    assert.equal(payload.type, 'drill.completed');
    assert.equal(payload.data.eventId, eventId);
    assert.ok(!d.raw.includes(alice.userId), 'the owner id is not sent');
    // A captured request re-sent later must carry a fresh timestamp to pass the age check: the signature then fails.
    const replayed = { ...d.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) + 1) };
    assert.throws(() => new Webhook(mine.secret).verify(d.raw, replayed));
    assert.throws(() => new Webhook(theirs.secret).verify(d.raw, d.headers), 'another endpoint\'s secret does not verify it');

    const log = await call(alice, 'GET', `/api/v1/webhooks/${mine.id}/deliveries`);
    assert.equal(log.status, 200);
    assert.deepEqual(
      log.body.items.map((i: Json) => ({ eventId: i.eventId, status: i.status, attempts: i.attempts, lastStatusCode: i.lastStatusCode })),
      [{ eventId, status: 'delivered', attempts: 1, lastStatusCode: 204 }],
    );
    assert.deepEqual((await call(bob, 'GET', `/api/v1/webhooks/${theirs.id}/deliveries`)).body.items, []);
    await assertOwnerScoped(api.url, {
      owner: alice,
      other: bob,
      requests: [
        { method: 'GET', path: `/api/v1/webhooks/${mine.id}` },
        { method: 'GET', path: `/api/v1/webhooks/${mine.id}/deliveries` },
      ],
    });
  });

  it('when the receiver fails twice, then the delivery is retried with back-off until it is accepted, and the log says so without the receiver\'s body', async () => {
    const carol = await signupAndLogin(api.url);
    const hook = await register(carol, '/hooks/carol');
    failFirst.set('/hooks/carol', 2);
    const { eventId, delivered } = await deliverEvent(carol, 'failover.completed');
    assert.equal(delivered, true);
    const attempts = received.filter((r) => r.path === '/hooks/carol');
    assert.equal(attempts.length, 3);
    assert.ok(attempts.every((a) => a.headers['webhook-id'] === eventId), 'the same webhook-id on every attempt');
    for (const a of attempts) new Webhook(hook.secret).verify(a.raw, a.headers);
    const log = (await call(carol, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`)).body.items as Json[];
    assert.equal(log.length, 1);
    assert.equal(log[0].status, 'delivered');
    assert.equal(log[0].attempts, 3);
    assert.ok(!JSON.stringify(log).includes('must not be echoed'));

    // Deleted: a later event is not sent to it.
    assert.equal((await call(carol, 'DELETE', `/api/v1/webhooks/${hook.id}`)).status, 204);
    const before = received.length;
    await deliverEvent(carol);
    assert.equal(received.length, before);
  });
});
