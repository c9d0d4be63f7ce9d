import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import type { Connection as MongoConnection } from 'mongoose';
import { CODEC_ENDPOINT_PATH } from '../../api/routes/codec';
import { SELF_TEST_WORKFLOW, selfTestWorkflowId, type SelfTestResult } from '../../src/contracts/system';
import { ENCRYPTED_ENCODING, METADATA_KEY_ID, payloadToJson, type JsonPayload } from '../../src/temporal/codec';
import { grantRole, OPERATOR_ROLE } from '../../src/accounts/roles';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';
import { registerTestSecret, testKeyring } from '../harness/secrets';
import { sharedStack } from '../harness/stack';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { signupAndLogin, uniqueUsername, type TestUser } from '../harness/users';

type Json = any;

/** The history as text, with every byte array spelled out as raw bytes, so plaintext inside a payload would show. */
function rawText(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? `bytes:${Buffer.from(v).toString('latin1')}` : v));
}

/** Every payload of the history (inputs, results, activity inputs and results). */
function payloadsOf(value: unknown, out: Payload[] = []): Payload[] {
  if (Array.isArray(value)) for (const v of value) payloadsOf(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o.payloads)) out.push(...(o.payloads as Payload[]));
    else for (const v of Object.values(o)) payloadsOf(v, out);
  }
  return out;
}

describe('Temporal payload encryption and the codec endpoint', function () {
  this.timeout(180_000);
  const marker = `marker-secret-${crypto.randomBytes(9).toString('hex')}`;
  const codecToken = `codec-${crypto.randomBytes(24).toString('base64url')}`;
  const operatorName = uniqueUsername('ops');
  let tw: TestWorker;
  let api: TestApi;
  let workflowId: string;
  let result: SelfTestResult;
  let historyPayloads: JsonPayload[];
  let operator: TestUser;
  let member: TestUser;

  before(async () => {
    registerTestSecret(marker, codecToken);
    tw = await startTestWorker();
    api = await startTestApi({ env: { VMFLOW_CODEC_TOKEN: codecToken } });
    operator = await signupAndLogin(api.url, operatorName);
    await grantRole(api.deps.db, operatorName, OPERATOR_ROLE, operator.userId);
    member = await signupAndLogin(api.url);
    workflowId = selfTestWorkflowId(`codec-${crypto.randomBytes(4).toString('hex')}`);
    result = await tw.client.workflow.execute<(i: { note: string }) => Promise<SelfTestResult>>(SELF_TEST_WORKFLOW, {
      workflowId,
      taskQueue: tw.taskQueue,
      args: [{ note: `a note holding ${marker}` }],
    });
    historyPayloads = payloadsOf(await tw.client.workflow.getHandle(workflowId).fetchHistory()).map(payloadToJson);
  });
  after(async () => {
    await api?.close();
    await tw?.stop();
  });

  const decode = (payloads: JsonPayload[], headers: Record<string, string>) =>
    apiFetch(`${api.url}${CODEC_ENDPOINT_PATH}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ payloads }) });

  it('when a workflow runs with a secret in its input, then its result decodes through the client unchanged', () => {
    assert.equal(result.readBack, `a note holding ${marker}`);
    assert.equal(result.recordId, workflowId);
  });

  it('when its history is fetched raw, then no byte of it holds the secret, and every payload is AES-GCM ciphertext with a key id', async () => {
    const history = await tw.client.workflow.getHandle(workflowId).fetchHistory();
    const text = rawText(history);
    assert.ok(text.includes(workflowId), 'the scan sees plaintext where there is some (the workflow id)');
    assert.ok(!text.includes(marker), 'the marker secret is in the history');
    assert.ok(!text.includes(Buffer.from(marker).toString('base64')), 'the marker secret is in the history as base64');
    // input, activity input, activity result, workflow result
    assert.ok(historyPayloads.length >= 4, `payloads: ${historyPayloads.length}`);
    for (const p of historyPayloads) {
      assert.equal(Buffer.from(p.metadata!.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
      assert.equal(Buffer.from(p.metadata![METADATA_KEY_ID]!, 'base64').toString(), testKeyring().currentKid);
    }
  });

  it('when an activity fails with the secret in its error message, then the client reads the message but the raw history holds no trace of it', async () => {
    // A database stand-in whose first use fails with a message that quotes a secret. Not a
    // registered test secret: the worker rightly logs activity failures, and this one is made up.
    const errorMarker = `error-marker-${crypto.randomBytes(9).toString('hex')}`;
    const failingDb = {
      models: {},
      model: () => {
        throw ApplicationFailure.nonRetryable(`could not store the note ${errorMarker}`, 'StoreFailed');
      },
    } as unknown as MongoConnection;
    const failing = await startTestWorker({ deps: { db: failingDb } });
    try {
      const id = selfTestWorkflowId(`codec-fail-${crypto.randomBytes(4).toString('hex')}`);
      await assert.rejects(
        failing.client.workflow.execute(SELF_TEST_WORKFLOW, { workflowId: id, taskQueue: failing.taskQueue, args: [{ note: 'n' }] }),
        (err: unknown) => err instanceof WorkflowFailedError && String(((err.cause as Error)?.cause as Error)?.message).includes(errorMarker),
      );
      const text = rawText(await failing.client.workflow.getHandle(id).fetchHistory());
      assert.ok(text.includes('Encoded failure'), 'failure messages are replaced in history');
      assert.ok(!text.includes(errorMarker), 'the error message with the secret is in the history');
    } finally {
      await failing.stop();
    }
  });

  it('when a client without the keyring reads the result, then it cannot decode it', async () => {
    const stack = await sharedStack();
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const plain = new Client({ connection, namespace: stack.namespace });
      await assert.rejects(plain.workflow.getHandle(workflowId).result(), /encoding|binary\/encrypted|converter/i);
    } finally {
      await connection.close();
    }
  });

  it('when the operator token calls /codec/decode, then the history payloads come back as the original JSON', async () => {
    const res = await decode(historyPayloads, { authorization: `Bearer ${codecToken}`, 'x-namespace': (await sharedStack()).namespace });
    assert.equal(res.status, 200);
    const body = await res.json() as Json;
    assert.equal(body.payloads.length, historyPayloads.length);
    const texts = body.payloads.map((p: JsonPayload) => Buffer.from(p.data!, 'base64').toString('utf8'));
    assert.ok(texts.some((t: string) => t.includes(marker)), 'the decoded input holds the note');
    for (const p of body.payloads) assert.equal(Buffer.from(p.metadata.encoding, 'base64').toString(), 'json/plain');
  });

  it('when an operator member calls with their session, then decoding works; an ordinary member gets 403', async () => {
    const ok = await decode(historyPayloads.slice(0, 1), operator.authHeaders);
    assert.equal(ok.status, 200);
    const denied = await decode(historyPayloads.slice(0, 1), member.authHeaders);
    assert.equal(denied.status, 403);
    assert.ok(!(await denied.text()).includes(marker));
  });

  it('when the caller has no credentials or wrong ones, then 401 and nothing is decoded', async () => {
    for (const headers of <Array<Record<string, string>>>[{}, { authorization: 'Bearer not-the-codec-token-at-all-000000000' }, { authorization: `Basic ${Buffer.from(`x:${codecToken}`).toString('base64')}` }]) {
      const res = await decode(historyPayloads, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.ok(!(await res.text()).includes(marker));
    }
  });

  it('when X-Namespace names another namespace, then 403', async () => {
    const res = await decode(historyPayloads, { authorization: `Bearer ${codecToken}`, 'x-namespace': 'someone-elses-namespace' });
    assert.equal(res.status, 403);
  });

  it('when /codec/encode and /codec/decode are chained, then the payload round-trips, and a tampered one is refused with 400', async () => {
    const original: JsonPayload = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"hello":"codec"}').toString('base64') };
    const auth = { authorization: `Bearer ${codecToken}`, 'content-type': 'application/json' };
    const enc = await apiFetch(`${api.url}${CODEC_ENDPOINT_PATH}/encode`, { method: 'POST', headers: auth, body: JSON.stringify({ payloads: [original] }) });
    assert.equal(enc.status, 200);
    const encoded = ((await enc.json()) as Json).payloads[0] as JsonPayload;
    assert.equal(Buffer.from(encoded.metadata!.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
    const dec = (await (await decode([encoded], auth)).json()) as Json;
    assert.deepEqual(dec.payloads[0], original);

    const bytes = Buffer.from(encoded.data!, 'base64');
    bytes[20] = bytes[20]! ^ 0xff;
    const tampered = await decode([{ ...encoded, data: bytes.toString('base64') }], auth);
    assert.equal(tampered.status, 400);
    assert.equal(((await tampered.json()) as Json).error.code, 'payload_undecodable');
  });

  it('when the Temporal UI origin sends a preflight, then CORS allows POST with Authorization and X-Namespace and credentials; other origins are refused', async () => {
    const preflight = (origin: string) =>
      apiFetch(`${api.url}${CODEC_ENDPOINT_PATH}/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' },
      });
    for (const origin of ['http://localhost:8233', 'http://127.0.0.1:8233']) {
      const res = await preflight(origin);
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
      assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
      assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
      for (const h of ['authorization', 'content-type', 'x-namespace']) assert.ok(allowed.includes(h), h);
    }
    const evil = await preflight('http://evil.example');
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);

    const actual = await decode(historyPayloads.slice(0, 1), { authorization: `Bearer ${codecToken}`, origin: 'http://localhost:8233' });
    assert.equal(actual.status, 200);
    assert.equal(actual.headers.get('access-control-allow-origin'), 'http://localhost:8233');
  });
});
