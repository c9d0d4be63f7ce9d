/**
 * Operations metrics end to end (issue 16): the API's and the worker's /metrics endpoints are
 * scraped while a VM is created, backed up, protected, failed over to CloudStack and failed back,
 * and each metric shows what happened — VMs by state and DR state, RPO against the period (a VM
 * record with a stale backup is planted to make the stale counts non-zero), image-store bytes,
 * the monitor's last check, backup runs, failovers and failbacks with RTO, monitor checks, cloud
 * API calls with bounded labels, and API latency by route template. A second suite runs
 * `worker/main.ts` as deployed and finds its own endpoint and the Temporal SDK's runtime metrics.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { backupModel, backupPolicyModel } from '../../src/backups/model';
import { startApiMetrics, startWorkerMetrics, type MetricsServer } from '../../src/metrics';
import { formatKeyring } from '../../src/secrets/keyring';
import { vmModel } from '../../src/vms/model';
import type { TestApi } from '../harness/api';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { sharedClouds } from '../harness/clouds';
import { apiCall, waitUntil } from '../harness/http';
import { dashboardExpressions, metricNamesIn } from '../harness/metric-names';
import { familyNames, has, scrape, value, type Sample } from '../harness/prom';
import { testKeyring, testLogger } from '../harness/secrets';
import { sharedStack, uniqueTaskQueue } from '../harness/stack';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;
const repoRoot = path.resolve(__dirname, '../..');

describe('metrics: what an on-call engineer scrapes', function () {
  this.timeout(600_000);
  let sys: DrSystem;
  let api: TestApi;
  let alice: TestUser;
  let apiMetrics: MetricsServer;
  let workerMetrics: MetricsServer;
  const staleVmId = `stale-${crypto.randomBytes(4).toString('hex')}`;

  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, alice, method, p, body);
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 150_000) => waitUntil(what, fn, timeoutMs);
  const vm = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
  const dr = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;

  before(async () => {
    // A namespace and database of its own: the fleet gauges count everything in them.
    sys = await startDrSystem({ isolated: true });
    api = sys.api;
    const logger = testLogger('metrics');
    // cacheMs 0: each scrape reads the fleet afresh, so a test sees a change at its next scrape.
    apiMetrics = await startApiMetrics({ listen: { host: '127.0.0.1', port: 0 }, db: api.deps.db, temporal: api.deps.temporal.client, logger, perVm: true, cacheMs: 0 });
    workerMetrics = await startWorkerMetrics({ listen: { host: '127.0.0.1', port: 0 }, logger });
    alice = await signupAndLogin(api.url);
  });
  after(async () => {
    await Promise.all([backupModel(api.deps.db).deleteMany({ vmId: staleVmId }), backupPolicyModel(api.deps.db).deleteOne({ _id: staleVmId }), vmModel(api.deps.db).deleteOne({ _id: staleVmId })]).catch(() => undefined);
    await apiMetrics?.close();
    await workerMetrics?.close();
    await sys?.stop();
  });

  it('when a VM is created, backed up, failed over and failed back, then both endpoints show each step with bounded labels', async () => {
    const w0 = (await scrape(workerMetrics.url)).samples;
    const delta = (now: Sample[], name: string, labels: Record<string, string> = {}) => value(now, name, labels) - value(w0, name, labels);
    // The fleet starts empty; `fleet` still reads each gauge against this first scrape, so the
    // figures stay this test's own if the suite is pointed at a shared namespace and database.
    const a0 = (await scrape(apiMetrics.url)).samples;
    assert.equal(value(a0, 'vmflow_vms', { state: 'active' }), 0, 'an empty fleet to start');
    const fleet = (now: Sample[], name: string, labels: Record<string, string> = {}) => value(now, name, labels) - value(a0, name, labels);

    // Create with a backup policy (hourly: the schedule will not run during the test), back up now, protect.
    const r = await call('POST', '/api/v1/vms', { name: 'metrics', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', backup: { intervalSeconds: 3600, retention: 2 } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    const created = await until('VM active', async () => {
      const v = await vm(vmId);
      return v.state === 'active' ? v : undefined;
    });
    const run = await call('POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const backup = await until('backup done', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((b) => b.status !== 'running'));
    assert.equal(backup.status, 'succeeded', JSON.stringify(backup));
    const p = await call('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'approval', failbackAfterHealthySeconds: 1 });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    await until('Protected', async () => ((await dr(vmId)).state?.state === 'Protected' ? true : undefined));

    // A VM whose newest good backup is 10 minutes old against a 60 s period: stale over 1× and 2×.
    const ten = new Date(Date.now() - 600_000);
    await vmModel(api.deps.db).create({ _id: staleVmId, ownerId: alice.userId, name: 'stale', cloud: 'openstack', accountId: 'operator-openstack', requirements: { os: 'ubuntu-24.04', size: 'small', software: [] } as never, state: 'active', workflowIds: [], history: [] });
    await backupPolicyModel(api.deps.db).create({ _id: staleVmId, ownerId: alice.userId, intervalSeconds: 60, retention: 1, targets: { baseStandby: false, backupCloudStandby: false }, paused: false, backupAccountId: 'operator-cloudstack' });
    await backupModel(api.deps.db).create({ _id: `${staleVmId}-b`, vmId: staleVmId, ownerId: alice.userId, workflowId: 'planted', trigger: 'manual', status: 'succeeded', startedAt: ten, finishedAt: ten, image: { id: 'planted', name: 'planted', size: 1, checksum: 'x' }, store: { key: 'planted', size: 4096, sha256: 'x', md5: 'x' }, tasks: [] });

    // ── API endpoint: the fleet as MongoDB and the workflows tell it ──
    const a1 = await until('the monitor reports a check', async () => {
      const s = (await scrape(apiMetrics.url)).samples;
      return value(s, 'vmflow_monitor_up', { account: 'operator-openstack' }) === 1 && has(s, 'vmflow_monitor_last_check_age_seconds', { account: 'operator-openstack' }) ? s : undefined;
    });
    assert.equal(value(a1, 'vmflow_fleet_read_ok'), 1);
    assert.equal(fleet(a1, 'vmflow_vms', { state: 'active' }), 2, 'the VM and the planted one');
    assert.equal(fleet(a1, 'vmflow_vms', { state: 'failed' }), 0);
    assert.equal(fleet(a1, 'vmflow_vms_running_in', { cloud: 'openstack' }), 1);
    assert.equal(fleet(a1, 'vmflow_dr_protected_vms'), 1);
    assert.equal(fleet(a1, 'vmflow_dr_vms', { dr_state: 'Protected' }), 1);
    assert.equal(fleet(a1, 'vmflow_dr_vms', { dr_state: 'Unknown' }), 0);
    assert.equal(fleet(a1, 'vmflow_backup_policy_vms', { protected: 'true' }), 1);
    assert.equal(fleet(a1, 'vmflow_backup_stale_vms', { protected: 'true', over: 'period' }), 0, 'a fresh backup against an hour');
    assert.equal(fleet(a1, 'vmflow_backup_stale_vms', { protected: 'false', over: 'period' }), 1);
    assert.equal(fleet(a1, 'vmflow_backup_stale_vms', { protected: 'false', over: 'twice_period' }), 1);
    assert.equal(value(a1, 'vmflow_vm_backup_period_seconds', { vm_id: vmId }), 3600);
    assert.equal(value(a1, 'vmflow_vm_backup_period_seconds', { vm_id: staleVmId }), 60);
    const rpo = value(a1, 'vmflow_vm_rpo_seconds', { vm_id: vmId, protected: 'true' });
    assert.ok(rpo >= 0 && rpo < 3600, `RPO of a fresh backup: ${rpo}`);
    assert.ok(value(a1, 'vmflow_vm_rpo_seconds', { vm_id: staleVmId }) >= 600);
    const storeBytes = (await backupModel(api.deps.db).find({ retiredAt: { $exists: false }, store: { $exists: true } }).lean()).reduce((n, b) => n + (b.store?.size ?? 0), 0);
    assert.ok(storeBytes > 4096, 'the real backup has a store copy');
    assert.equal(value(a1, 'vmflow_image_store_bytes'), storeBytes);
    assert.equal(fleet(a1, 'vmflow_image_store_objects'), 2);
    assert.equal(value(a1, 'vmflow_monitor_interval_seconds', { account: 'operator-openstack' }), 1);
    assert.equal(value(a1, 'vmflow_monitor_cloud_healthy', { account: 'operator-openstack' }), 1);
    assert.ok(value(a1, 'vmflow_monitor_last_check_age_seconds', { account: 'operator-openstack' }) >= 0);
    // API latency by route template: the VM's id is never a label of these series.
    assert.ok(value(a1, 'vmflow_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/vms', status: '202' }) >= 1);
    assert.ok(value(a1, 'vmflow_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/vms/:id', status: '200' }) >= 1);
    assert.ok(value(a1, 'vmflow_http_request_duration_seconds_count', { method: 'PUT', route: '/api/v1/vms/:id/dr', status: '200' }) >= 1);
    const routes = new Set(a1.filter((s) => s.name === 'vmflow_http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const route of routes) assert.ok(!route.includes(vmId), `route label ${route} names no VM`);
    const notFound = await fetch(`${api.url}/no/such/${crypto.randomUUID()}`);
    assert.equal(notFound.status, 404);
    const a1b = (await scrape(apiMetrics.url)).samples;
    assert.ok(value(a1b, 'vmflow_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }) >= 1);
    assert.ok(has(a1b, 'vmflow_api_process_resident_memory_bytes'), 'the API process metrics');

    // ── worker endpoint: what its activities saw end ──
    const w1 = (await scrape(workerMetrics.url)).samples;
    assert.equal(delta(w1, 'vmflow_backup_runs_total', { outcome: 'succeeded', trigger: 'manual' }), 1);
    assert.equal(delta(w1, 'vmflow_backup_duration_seconds_count', { outcome: 'succeeded' }), 1);
    const took = delta(w1, 'vmflow_backup_duration_seconds_sum', { outcome: 'succeeded' });
    const recorded = (Date.parse(backup.finishedAt) - Date.parse(backup.startedAt)) / 1000;
    assert.ok(Math.abs(took - recorded) < 0.01, `backup duration ${took} s is the record's ${recorded} s`);
    assert.ok(delta(w1, 'vmflow_monitor_checks_total', { outcome: 'ok' }) >= 1);
    assert.ok(delta(w1, 'vmflow_monitor_probe_duration_seconds_count', { outcome: 'ok' }) >= 1);
    assert.ok(delta(w1, 'vmflow_cloud_api_requests_total', { cloud: 'openstack', method: 'POST', operation: '/identity/v3/auth/tokens', status: '201' }) >= 1);
    assert.ok(delta(w1, 'vmflow_cloud_api_requests_total', { cloud: 'openstack', method: 'POST', operation: '/compute/v2.1/servers/:id/action' }) >= 1, 'server actions, the id replaced');
    assert.ok(delta(w1, 'vmflow_cloud_api_requests_total', { cloud: 'cloudstack', operation: 'deployVirtualMachine', status: '200' }) >= 1, 'the CloudStack standby');
    assert.ok(delta(w1, 'vmflow_cloud_api_request_duration_seconds_count', { cloud: 'cloudstack', operation: 'deployVirtualMachine' }) >= 1);
    assert.equal(delta(w1, 'vmflow_dr_operations_total'), 0, 'no failover yet');

    // ── failover to CloudStack ──
    const fo = await call('POST', `/api/v1/vms/${vmId}/dr/failover`, { target: 'backup-cloud' });
    assert.equal(fo.status, 202, JSON.stringify(fo.body));
    await until('failed over', async () => {
      const d = await dr(vmId);
      return d.state?.state === 'FailedOver' && d.state.awaitingApproval ? d : undefined;
    });
    // The DR state is the workflow's answer to a query at scrape time (a busy worker may answer late: Unknown).
    const drStates = (s: Sample[]) => JSON.stringify(s.filter((x) => x.name === 'vmflow_dr_vms').map((x) => [x.labels.dr_state, x.value]));
    let last: Sample[] = [];
    const a2 = await until('the scrape shows FailedOver', async () => {
      last = (await scrape(apiMetrics.url)).samples;
      return fleet(last, 'vmflow_dr_vms', { dr_state: 'FailedOver' }) === 1 ? last : undefined;
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${drStates(last)}`);
    });
    assert.equal(fleet(a2, 'vmflow_dr_vms', { dr_state: 'Protected' }), 0);
    assert.equal(fleet(a2, 'vmflow_vms_running_in', { cloud: 'cloudstack' }), 1);
    assert.equal(fleet(a2, 'vmflow_vms_running_in', { cloud: 'openstack' }), 0);
    const failoverEvent = (await dr(vmId)).events.find((e: Json) => e.kind === 'failover.completed');
    const w2 = (await scrape(workerMetrics.url)).samples;
    assert.equal(delta(w2, 'vmflow_dr_operations_total', { operation: 'failover', outcome: 'completed' }), 1);
    assert.equal(delta(w2, 'vmflow_dr_events_total', { kind: 'failover.completed' }), 1);
    assert.equal(typeof failoverEvent.rtoSeconds, 'number', 'a failover records its RTO');
    assert.equal(delta(w2, 'vmflow_dr_rto_seconds_count', { operation: 'failover' }), 1);
    assert.ok(Math.abs(delta(w2, 'vmflow_dr_rto_seconds_sum', { operation: 'failover' }) - failoverEvent.rtoSeconds) < 0.01);
    assert.equal(delta(w2, 'vmflow_dr_rpo_seconds_count', { operation: 'failover' }), 1);
    assert.ok(Math.abs(delta(w2, 'vmflow_dr_rpo_seconds_sum', { operation: 'failover' }) - failoverEvent.rpoSeconds) < 0.01);
    assert.ok(delta(w2, 'vmflow_cloud_api_requests_total', { cloud: 'cloudstack', operation: 'startVirtualMachine', status: '200' }) >= 1);

    // ── failback on approval ──
    const ap = await call('POST', `/api/v1/vms/${vmId}/dr/approve`);
    assert.equal(ap.status, 202, JSON.stringify(ap.body));
    const back = await until('failed back', async () => {
      const d = await dr(vmId);
      return d.state?.state === 'Protected' && d.events.some((e: Json) => e.kind === 'failback.completed') ? d : undefined;
    }, 300_000);
    const failbackEvent = back.events.find((e: Json) => e.kind === 'failback.completed');
    const w3 = (await scrape(workerMetrics.url)).samples;
    assert.equal(delta(w3, 'vmflow_dr_operations_total', { operation: 'failback', outcome: 'completed' }), 1);
    assert.equal(delta(w3, 'vmflow_dr_operations_total', { operation: 'failback', outcome: 'failed' }), 0);
    assert.equal(delta(w3, 'vmflow_dr_rto_seconds_count', { operation: 'failback' }), 1);
    assert.ok(Math.abs(delta(w3, 'vmflow_dr_rto_seconds_sum', { operation: 'failback' }) - failbackEvent.rtoSeconds) < 0.01);
    const a3 = (await scrape(apiMetrics.url)).samples;
    assert.equal(fleet(a3, 'vmflow_dr_vms', { dr_state: 'Protected' }), 1);
    assert.equal(fleet(a3, 'vmflow_dr_failbacks_in_progress'), 0);
    if (value(a0, 'vmflow_dr_failbacks_in_progress') === 0) assert.equal(value(a3, 'vmflow_dr_failback_oldest_seconds'), 0);
    assert.equal(fleet(a3, 'vmflow_vms_running_in', { cloud: 'openstack' }), 1);

    // Bounded labels: no server, VM or template id appears in the worker's scrape.
    const text = (await scrape(workerMetrics.url)).text;
    const state = await vm(vmId);
    for (const id of [vmId, created.placement.serverId, state.placement.serverId]) assert.ok(!text.includes(id), `worker metrics name no id (${id})`);

    // Every metric the dashboard and the alert rules query is in what the two endpoints serve.
    const served = new Set([...familyNames((await scrape(apiMetrics.url)).text), ...familyNames(text)]);
    const rules = (YAML.parse(fs.readFileSync(path.join(repoRoot, 'deploy/prometheus/rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups.flatMap((g) => g.rules.map((r) => r.expr));
    const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, 'deploy/grafana/dashboards/vmflow.json'), 'utf8'));
    const queried = new Set([...rules, ...dashboardExpressions(dashboard).map((e) => e.expr)].flatMap(metricNamesIn));
    assert.ok(queried.size > 20);
    for (const name of queried) assert.ok(served.has(name) || served.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} is served`);
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('metrics: the worker as deployed (worker/main.ts)', function () {
  this.timeout(180_000);
  let proc: ChildProcess | undefined;
  let logFile: string;

  after(async () => {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('when the worker starts, then it serves its own metrics and the Temporal SDK runtime metrics on 127.0.0.1 and logs their URLs', async () => {
    const stack = await sharedStack();
    const clouds = await sharedClouds();
    const [workerPort, sdkPort] = [await freePort(), await freePort()];
    logFile = path.join(stack.dir, `metrics-worker-${workerPort}.log`);
    const fd = fs.openSync(logFile, 'a');
    proc = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...clouds.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: stack.namespace,
        MONGODB_URI: stack.mongoUri,
        TEMPORAL_TASK_QUEUE: uniqueTaskQueue('metrics-worker'),
        VMFLOW_ENCRYPTION_KEYS: formatKeyring(testKeyring()),
        WORKER_METRICS_PORT: String(workerPort),
        TEMPORAL_METRICS_PORT: String(sdkPort),
        IMAGE_STORE_TOKEN: crypto.randomBytes(16).toString('hex'),
        IMAGE_STORE_SIGNING_SECRET: crypto.randomBytes(16).toString('hex'),
        VMFLOW_WEBHOOK_URL: '',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const log = () => fs.readFileSync(logFile, 'utf8');
    await waitUntil('worker polling', async () => (log().includes('worker polling') ? true : undefined), 150_000, () => log().split('\n').slice(-10).join('\n'));
    const listening = log().split('\n').find((l) => l.includes('"worker metrics listening"'));
    assert.ok(listening, 'the worker logs where its metrics are');
    assert.equal(JSON.parse(listening).url, `http://127.0.0.1:${workerPort}/metrics`);
    assert.equal(JSON.parse(listening).temporalSdk, `http://127.0.0.1:${sdkPort}/metrics`);

    const own = await scrape(`http://127.0.0.1:${workerPort}/metrics`);
    assert.ok(has(own.samples, 'vmflow_worker_process_cpu_seconds_total'), 'process metrics');
    for (const family of ['vmflow_backup_runs_total', 'vmflow_dr_operations_total', 'vmflow_monitor_checks_total', 'vmflow_cloud_api_requests_total']) {
      assert.match(own.text, new RegExp(`^# TYPE ${family} counter$`, 'm'), family);
    }
    const sdk = await waitUntil('SDK metrics', async () => {
      const s = await scrape(`http://127.0.0.1:${sdkPort}/metrics`).catch(() => undefined);
      return s && s.samples.some((x) => x.name.startsWith('temporal_')) ? s : undefined;
    }, 60_000);
    assert.ok(sdk.samples.some((x) => /^temporal_.*poll/.test(x.name) || x.name === 'temporal_worker_start'), `SDK worker metrics: ${[...new Set(sdk.samples.map((x) => x.name))].slice(0, 10).join(', ')}`);
    const refused = await fetch(`http://127.0.0.1:${workerPort}/other`);
    assert.equal(refused.status, 404);
  });
});
