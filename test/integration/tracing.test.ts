/**
 * OpenTelemetry traces (issue 16, item 4): the API and the worker run as processes (api/main.ts,
 * worker/main.ts) with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver on loopback;
 * a member creates a VM, and one trace holds the API request, the workflow start, the workflow,
 * its activities and the cloud HTTP calls each activity made — with no VM id, password or token in
 * any span name or attribute.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/embedded/processes';
import { formatKeyring } from '../../src/secrets/keyring';
import { sharedClouds } from '../harness/clouds';
import { apiCall, waitUntil } from '../harness/http';
import { registerTestSecret, testKeyring } from '../harness/secrets';
import { sharedStack, uniqueTaskQueue } from '../harness/stack';
import { signupAndLogin } from '../harness/users';

type Json = any;
const repoRoot = path.resolve(__dirname, '../..');

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP (JSON) trace receiver: what the exporters POST to /v1/traces. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; bodies: string[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !/json/.test(req.headers['content-type'] ?? '')) {
        res.writeHead(404).end();
        return;
      }
      bodies.push(text);
      const body = JSON.parse(text) as Json;
      for (const rs of body.resourceSpans ?? []) {
        const service = (rs.resource?.attributes as Json[]).find((a) => a.key === 'service.name')?.value?.stringValue;
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            const attributes = Object.fromEntries(((s.attributes ?? []) as Json[]).map((a) => [a.key, Object.values(a.value ?? {})[0]]));
            spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, attributes });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

describe('tracing: one trace from the API request to the cloud HTTP call', function () {
  this.timeout(600_000);
  const procs: ChildProcess[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  after(async () => {
    await Promise.all(
      procs.map(async (proc) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }),
    );
    await receiver?.close();
  });

  it('when tracing is configured and a member creates a VM, then the API span, the workflow, its activities and their cloud calls share one trace', async () => {
    receiver = await startReceiver();
    const stack = await sharedStack();
    const clouds = await sharedClouds();
    const apiPort = await freePort();
    const secrets = { IMAGE_STORE_TOKEN: crypto.randomBytes(16).toString('hex'), IMAGE_STORE_SIGNING_SECRET: crypto.randomBytes(16).toString('hex') };
    for (const s of Object.values(secrets)) registerTestSecret(s);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...clouds.env,
      ...secrets,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.namespace,
      MONGODB_URI: stack.mongoUri,
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('tracing'),
      VMFLOW_ENCRYPTION_KEYS: formatKeyring(testKeyring()),
      VMFLOW_METRICS: 'false',
      VMFLOW_WEBHOOK_URL: '',
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      VMFLOW_OTEL_EXPORT_DELAY_MS: '200',
      LOG_LEVEL: 'info',
    };
    const start = (name: string, entry: string, extra: NodeJS.ProcessEnv = {}) => {
      const log = path.join(stack.dir, `tracing-${name}.log`);
      const fd = fs.openSync(log, 'a');
      const proc = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env: { ...env, ...extra }, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      procs.push(proc);
      return () => fs.readFileSync(log, 'utf8');
    };
    const workerLog = start('worker', 'worker/main.ts');
    const apiLog = start('api', 'api/main.ts');
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    await waitUntil('the API ready', async () => ((await fetch(`${apiUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined), 150_000, () => apiLog().split('\n').slice(-10).join('\n'));
    await waitUntil('the worker polling', async () => (workerLog().includes('worker polling') ? true : undefined), 150_000, () => workerLog().split('\n').slice(-10).join('\n'));
    assert.match(workerLog(), /exporting OpenTelemetry traces/);

    const member = await signupAndLogin(apiUrl);
    const created = await apiCall(apiUrl, member, 'POST', '/api/v1/vms', { name: 'traced', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const vmId = created.body.vm.id as string;
    await waitUntil('the VM active', async () => ((await apiCall(apiUrl, member, 'GET', `/api/v1/vms/${vmId}`)).body.vm?.state === 'active' ? true : undefined), 300_000);

    // The request's span, then everything of its trace (spans arrive in batches, the workflow's last).
    const request = await waitUntil('the API request span', async () => receiver.spans.find((s) => s.service === 'vmflow-api' && s.name === 'POST /api/v1/vms'), 30_000);
    assert.equal(request.attributes['http.route'], '/api/v1/vms');
    assert.equal(request.attributes['http.response.status_code'], 202);
    const inTrace = () => receiver.spans.filter((s) => s.traceId === request.traceId);
    const trace = await waitUntil('the workflow span and its activities', async () => {
      const t = inTrace();
      return t.some((s) => s.name === 'RunWorkflow:createVm') && t.some((s) => s.name.startsWith('RunActivity:')) && t.some((s) => /^openstack (GET|POST|PUT|PATCH|DELETE) \//.test(s.name)) ? t : undefined;
    }, 60_000, () => JSON.stringify(inTrace().map((s) => `${s.service} ${s.name}`)));
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const ancestors = (s: ReceivedSpan): string[] => {
      const out: string[] = [];
      for (let p = byId.get(s.parentSpanId); p; p = byId.get(p.parentSpanId)) out.push(p.name);
      return out;
    };

    const startSpan = trace.find((s) => s.name === 'StartWorkflow:createVm');
    assert.ok(startSpan, 'the API started the workflow in the trace');
    assert.equal(startSpan.service, 'vmflow-api');
    assert.equal(startSpan.parentSpanId, request.spanId, 'the start is a child of the request');
    const run = trace.find((s) => s.name === 'RunWorkflow:createVm')!;
    assert.equal(run.service, 'vmflow-worker');
    assert.ok(ancestors(run).includes('POST /api/v1/vms'), `the workflow under the request: ${ancestors(run).join(' < ')}`);
    const activities = trace.filter((s) => s.name.startsWith('RunActivity:'));
    for (const a of activities) assert.ok(ancestors(a).includes('RunWorkflow:createVm'), `${a.name} under the workflow: ${ancestors(a).join(' < ')}`);
    // The API's own cloud calls (the quota pre-check reads the project's limits before anything
    // starts) are children of the request; every other cloud call is an activity's.
    const apiCalls = trace.filter((s) => /^(openstack|cloudstack) /.test(s.name) && s.parentSpanId === request.spanId);
    for (const c of apiCalls) assert.match(c.name, /^openstack (POST \/identity\/v3\/auth\/tokens|GET \/compute\/v2\.1\/limits)/, `${c.name} made by the API itself`);
    const cloudCalls = trace.filter((s) => /^(openstack|cloudstack) /.test(s.name) && !apiCalls.includes(s));
    assert.ok(cloudCalls.length >= 3, `cloud calls: ${cloudCalls.map((s) => s.name).join(', ')}`);
    for (const c of cloudCalls) {
      assert.ok(byId.get(c.parentSpanId)?.name.startsWith('RunActivity:'), `${c.name} is a child of an activity (parent ${byId.get(c.parentSpanId)?.name})`);
      assert.equal(c.service, 'vmflow-worker');
      assert.match(String(c.attributes['vmflow.cloud.status']), /^\d{3}$/);
    }
    assert.ok(cloudCalls.some((c) => c.name === 'openstack POST /identity/v3/auth/tokens'), 'the Keystone login, by route template');

    // Span names are templates (a stack's or server's name would hold the VM id); the VM is named
    // only by the workflow id Temporal's spans carry (temporalWorkflowId, workflowId). No secret anywhere.
    for (const s of trace) {
      assert.ok(!s.name.includes(vmId), `span name ${s.name} names no VM`);
      for (const [k, v] of Object.entries(s.attributes)) if (String(v).includes(vmId)) assert.ok(/^(temporalWorkflowId|workflowId)$/.test(k), `${s.name}: ${k}=${String(v)}`);
    }
    const everything = receiver.bodies.join('\n');
    for (const [what, secret] of [['password', member.password], ['store token', secrets.IMAGE_STORE_TOKEN]] as const) assert.ok(secret && !everything.includes(secret), `no ${what} anywhere in the export`);
  });
});
