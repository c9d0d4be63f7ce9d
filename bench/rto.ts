/**
 * RTO distribution benchmark (UC-009): many failovers end to end through the real system — a
 * Temporal dev server and FerretDB (the test stack's launcher, its own instance), the worker and
 * the REST API in this process — against the simulators, and the RTO / RPO the DR workflows record
 * on their `failover.completed` events.
 *
 * Clouds (all started here, one each):
 * - OpenStack A, the operator account: its VMs get broken one by one (POST /_sim/servers/:id/break
 *   {mode:'error'}) while the cloud stays healthy → each fails over to its base standby;
 * - OpenStack B, a member account registered through the API: one outage (POST /_sim/outage
 *   {mode:'503'}) takes down every VM on it at once → all fail over to CloudStack together;
 * - CloudStack, the operator backup cloud.
 * Setup runs on the simulators' `fast` timings (tens of ms per step). Before the first fault the
 * steps a failover waits for are switched to the `realistic` preset (Nova os-start 4 s, os-stop 3 s;
 * CloudStack start 5 s, stop 4 s, 40 ms per API call) so the recovery part of the RTO is not a
 * simulator artefact of a few milliseconds; `failoverTimings: 'fast'` keeps everything fast.
 *
 * Each VM is made as a member would: POST /api/v1/vms, one POST …/backups (so both standbys
 * exist), PUT …/dr {failbackMode:'approval'} (so nothing fails back during the run). Breaks are
 * spread at random over time (uniform 0–2 intervals apart) so they land at every phase of the
 * monitor's check cycle.
 *
 * RTO as recorded = first failed check → switch complete. The baseline is the configured
 * detection budget, interval × failureThreshold: the ratio RTO ÷ budget says how much of the RTO
 * detection accounts for (≈1 when the failover itself is instant; the first failed check comes
 * (threshold − 1) intervals before the verdict, so detection inside the RTO is a bit under the budget).
 * Beside it: fault → first failed check (not in the RTO; up to one interval) and fault → switch.
 *
 *   tsx bench/rto.ts [--broken 10] [--outage 10] [--interval 2] [--threshold 2] [--fast]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import pino from 'pino';
import type { ApiDeps } from '../api/app';
import { startWebServer, type WebServer } from '../api/server';
import { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { OPERATOR_ACCOUNT_IDS } from '../src/cloud-accounts/types';
import { loadConfig, type Config } from '../src/config';
import { cloudMonitorWorkflowId, drWorkflowId } from '../src/contracts/dr';
import { connectDatabase } from '../src/db/connection';
import { ImageStoreClient, startImageStore } from '../src/imagestore';
import { createLogger } from '../src/logger';
import { sleep } from '../src/sleep';
import { generateKey, keyringOf } from '../src/secrets/keyring';
import { startCloudStackSimulator } from '../src/sim/cloudstack';
import { startOpenStackSimulator } from '../src/sim/openstack';
import { connectTemporalClient } from '../src/temporal/client';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../src/contracts/dr-monitor';
import { allowSimulators, simAdmin } from '../test/harness/clouds';
import { apiCall, waitUntil } from '../test/harness/http';
import { startStack } from '../test/harness/stack';
import { signupAndLogin, type TestUser } from '../test/harness/users';
import { exitWhenDone, numberFlag } from './cli';
import { startBenchWorker } from './worker';

type Json = any;
export type RtoScenario = 'vm-broken' | 'cloud-outage';

export interface RtoBenchOptions {
  /** VMs broken one by one while the base cloud stays healthy (→ base standby); default 10. */
  brokenVms?: number;
  /** VMs on the OpenStack cloud that goes down in one outage (→ CloudStack); default 10. */
  outageVms?: number;
  /** VMFLOW_MONITOR_INTERVAL_SECONDS; default 2. */
  intervalSeconds?: number;
  /** VMFLOW_MONITOR_FAILURE_THRESHOLD; default 2. */
  failureThreshold?: number;
  /** Simulator timings while failing over: 'realistic' start/stop steps (default) or all 'fast'. */
  failoverTimings?: 'realistic' | 'fast';
  /** How often waiting activities poll the clouds (VMFLOW_POLL_INTERVAL_MS); default 500. */
  pollIntervalMs?: number;
  /** VMs set up at once; default 5. */
  setupConcurrency?: number;
  /** Whole-run deadline; default 9 minutes. Failovers not done by then are reported, not awaited. */
  deadlineMs?: number;
  /** Where the system's warn+ logs go; default a temp file (its path is in the result). */
  logFile?: string;
  print?: boolean;
  /** Progress lines while it runs; default console.log. */
  progress?: (line: string) => void;
}

export interface FailoverSample {
  scenario: RtoScenario;
  vmId: string;
  workflowId: string;
  target: string;
  /** As recorded on failover.completed: first failed check → switch complete. */
  rtoSeconds: number;
  /** As recorded: age of the backup the failover used. */
  rpoSeconds: number | null;
  /** rtoSeconds ÷ (interval × failureThreshold). */
  rtoOverDetectionBudget: number;
  /** Fault injected → first failed check (outside the recorded RTO). */
  faultToFirstFailedCheckSeconds: number;
  /** First failed check → the DR workflow starts failing over (threshold reached, signal delivered). */
  confirmSeconds: number;
  /** Failover started → switch complete. */
  recoverSeconds: number;
  /** confirmSeconds ÷ rtoSeconds: the measured share of the RTO spent before failing over. */
  detectionShare: number;
  /** Fault injected → switch complete (what a user of the VM sees). */
  faultToSwitchSeconds: number;
}

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

export interface ScenarioFigures {
  n: number;
  rto: Distribution;
  rpo: Distribution;
  rtoOverDetectionBudget: Distribution;
  faultToFirstFailedCheck: Distribution;
  confirm: Distribution;
  recover: Distribution;
  detectionShare: Distribution;
  faultToSwitch: Distribution;
}

export interface IncompleteFailover {
  scenario: RtoScenario;
  vmId: string;
  workflowId: string;
  drState?: string;
  step?: string;
  lastError?: string;
  events: string[];
}

export interface RtoBenchResult {
  config: {
    intervalSeconds: number;
    failureThreshold: number;
    successThreshold: number;
    /** interval × failureThreshold: the baseline of the ratio. */
    detectionBudgetSeconds: number;
    failoverTimings: 'realistic' | 'fast';
    pollIntervalMs: number;
    brokenVms: number;
    outageVms: number;
  };
  setup: { vms: number; seconds: number };
  samples: FailoverSample[];
  scenarios: Partial<Record<RtoScenario | 'all', ScenarioFigures>>;
  incomplete: IncompleteFailover[];
  /** Base-standby failovers re-protected (a fresh backup, Protected again) before the outage phase. */
  reprotected: { done: number; of: number; seconds: number };
  seconds: number;
  logFile: string;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile (p in 0–100) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function distribution(xs: number[]): Distribution {
  if (!xs.length) return { n: 0, min: NaN, p50: NaN, p95: NaN, max: NaN, mean: NaN };
  return {
    n: xs.length,
    min: round(Math.min(...xs)),
    p50: round(percentile(xs, 50)),
    p95: round(percentile(xs, 95)),
    max: round(Math.max(...xs)),
    mean: round(xs.reduce((a, b) => a + b, 0) / xs.length),
  };
}

function figures(samples: FailoverSample[]): ScenarioFigures {
  return {
    n: samples.length,
    rto: distribution(samples.map((s) => s.rtoSeconds)),
    rpo: distribution(samples.flatMap((s) => (s.rpoSeconds === null ? [] : [s.rpoSeconds]))),
    rtoOverDetectionBudget: distribution(samples.map((s) => s.rtoOverDetectionBudget)),
    faultToFirstFailedCheck: distribution(samples.map((s) => s.faultToFirstFailedCheckSeconds)),
    confirm: distribution(samples.map((s) => s.confirmSeconds)),
    recover: distribution(samples.map((s) => s.recoverSeconds)),
    detectionShare: distribution(samples.map((s) => s.detectionShare)),
    faultToSwitch: distribution(samples.map((s) => s.faultToSwitchSeconds)),
  };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export async function runRtoBench(opts: RtoBenchOptions = {}): Promise<RtoBenchResult> {
  const brokenVms = Math.max(0, Math.floor(opts.brokenVms ?? 10));
  const outageVms = Math.max(0, Math.floor(opts.outageVms ?? 10));
  const intervalSeconds = opts.intervalSeconds ?? 2;
  const failureThreshold = opts.failureThreshold ?? 2;
  const successThreshold = 2;
  const failoverTimings = opts.failoverTimings ?? 'realistic';
  const pollIntervalMs = opts.pollIntervalMs ?? 500;
  const budget = intervalSeconds * failureThreshold;
  const t0 = Date.now();
  const deadline = t0 + (opts.deadlineMs ?? 9 * 60_000);
  const progress = opts.progress ?? ((line: string) => console.log(line));
  const say = (msg: string) => progress(`[rto +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  const timeLeft = () => deadline - Date.now();

  const logFile = opts.logFile ?? path.join(os.tmpdir(), `vmflow-bench-rto-${process.pid}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  // One run per file: a stale failure from an earlier run must not read as this run's.
  const logStream = pino.destination({ dest: logFile, sync: true, mkdir: true, append: false });
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench-rto', logStream);
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  } catch {
    // installed already (another bench in this process)
  }

  const cleanup: Array<() => Promise<unknown>> = [];
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-bench-rto-store-'));
  cleanup.push(async () => fs.rmSync(storeDir, { recursive: true, force: true }));
  try {
    say(`starting Temporal dev server + FerretDB, 2 OpenStack simulators, CloudStack simulator, image store, worker, API`);
    const stack = await startStack();
    cleanup.unshift(() => stack.stop());
    const [osA, osB, cs] = await Promise.all([
      startOpenStackSimulator({ timings: 'fast', logger }),
      startOpenStackSimulator({ timings: 'fast', logger }),
      startCloudStackSimulator({ timings: 'fast', logger }),
    ]);
    cleanup.unshift(() => Promise.allSettled([osA.stop(), osB.stop(), cs.stop()]));
    for (const sim of [osA, osB]) await simAdmin(sim.url, 'PATCH', '/quotas', { project: sim.credentials.projectName, instances: 1000, cores: 4000, ram: 4_000_000 });

    const token = crypto.randomBytes(24).toString('base64url');
    const signingSecret = crypto.randomBytes(32).toString('base64url');
    const store = await startImageStore({ dir: storeDir, serviceToken: token, signingSecret, logger });
    cleanup.unshift(() => store.stop());

    const keyring = keyringOf(generateKey());
    const taskQueue = `bench-rto-${crypto.randomBytes(4).toString('hex')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OPENSTACK_AUTH_URL: osA.authUrl,
      OPENSTACK_USERNAME: osA.credentials.username,
      OPENSTACK_PASSWORD: osA.credentials.password,
      OPENSTACK_PROJECT_NAME: osA.credentials.projectName,
      OPENSTACK_USER_DOMAIN_NAME: osA.credentials.userDomainName,
      OPENSTACK_PROJECT_DOMAIN_NAME: osA.credentials.projectDomainName,
      OPENSTACK_REGION: osA.credentials.region,
      CLOUDSTACK_API_URL: cs.apiUrl,
      CLOUDSTACK_API_KEY: cs.credentials.apiKey,
      CLOUDSTACK_SECRET_KEY: cs.credentials.secretKey,
      VMFLOW_OPERATOR_CLOUDS: 'openstack,cloudstack',
      // Member accounts on the simulators, and the failback's extract download, pass the outbound guard.
      VMFLOW_OUTBOUND_ALLOW: [allowSimulators({ openstack: osA, cloudstack: cs }), allowSimulators({ openstack: osB })].join(','),
      VMFLOW_MONITOR_INTERVAL_SECONDS: String(intervalSeconds),
      VMFLOW_MONITOR_FAILURE_THRESHOLD: String(failureThreshold),
      VMFLOW_MONITOR_SUCCESS_THRESHOLD: String(successThreshold),
      VMFLOW_DR_HEALTH_CHECK_SECONDS: '2',
      VMFLOW_BACKUP_MIN_INTERVAL_SECONDS: '1',
      VMFLOW_POLL_INTERVAL_MS: String(pollIntervalMs),
    };
    const config: Config = { ...loadConfig(env), temporalTaskQueue: taskQueue };

    const db = await connectDatabase(stack.mongoUri);
    cleanup.unshift(() => db.close());
    const temporal = await connectTemporalClient(stack.temporalAddress, stack.namespace, keyring);
    cleanup.unshift(() => temporal.close());

    await startBenchWorker(
      {
        address: stack.temporalAddress,
        namespace: stack.namespace,
        taskQueue,
        keyring,
        deps: {
          db,
          logger,
          cloudAccounts: new CloudAccountResolver({ db, keyring, logger, openstack: { timeoutMs: 3000 }, cloudstack: { timeoutMs: 3000, pollIntervalMs } }),
          temporalClient: temporal.client,
          timing: { pollIntervalMs },
          imageStore: { client: new ImageStoreClient({ baseUrl: store.url, serviceToken: token }), publicBaseUrl: store.url, signingSecret },
        },
      },
      cleanup,
    );

    const apiDeps: ApiDeps = { config, db, temporal, keyring, logger };
    const web: WebServer = await startWebServer(apiDeps, { host: '127.0.0.1', port: 0 });
    cleanup.unshift(() => web.close());
    const member: TestUser = await signupAndLogin(web.url, `bench-rto-${crypto.randomBytes(3).toString('hex')}`);

    const call = (method: string, p: string, body?: unknown) => apiCall(web.url, member, method, p, body);
    const until = <T>(what: string, fn: () => Promise<T | undefined>, stopAt = deadline) => waitUntil(what, fn, Math.max(0, stopAt - Date.now()));

    // The outage cloud is the member's own OpenStack account.
    const b = osB.credentials;
    const acct = await call('POST', '/api/v1/cloud-accounts', {
      kind: 'openstack',
      name: 'bench-outage-cloud',
      authUrl: osB.authUrl,
      region: b.region,
      projectName: b.projectName,
      projectDomainName: b.projectDomainName,
      username: b.username,
      userDomainName: b.userDomainName,
      password: b.password,
    });
    if (acct.status !== 201) throw new Error(`registering the outage cloud: ${acct.status} ${JSON.stringify(acct.body)}`);
    const outageAccountId = acct.body.id as string;

    // ---- setup: create, back up once, protect -------------------------------------------------
    interface Planned {
      scenario: RtoScenario;
      name: string;
      accountId?: string;
      vmId?: string;
      serverId?: string;
    }
    const planned: Planned[] = [
      ...Array.from({ length: brokenVms }, (_, i) => ({ scenario: 'vm-broken' as const, name: `rto-broken-${i + 1}` })),
      ...Array.from({ length: outageVms }, (_, i) => ({ scenario: 'cloud-outage' as const, name: `rto-outage-${i + 1}`, accountId: outageAccountId })),
    ];
    say(`setting up ${planned.length} protected VMs (${brokenVms} on OpenStack A, ${outageVms} on OpenStack B): create → one backup → DR (failbackMode approval)`);
    const setupStart = Date.now();
    let ready = 0;
    await pool(planned, opts.setupConcurrency ?? 5, async (p) => {
      const r = await call('POST', '/api/v1/vms', { name: p.name, os: 'ubuntu-24.04', software: [], size: 'small', cloud: 'openstack', ...(p.accountId ? { accountId: p.accountId } : {}) });
      if (r.status !== 202) throw new Error(`create ${p.name}: ${r.status} ${JSON.stringify(r.body)}`);
      const vmId = r.body.vm.id as string;
      p.vmId = vmId;
      const vm = await until(`${p.name} (${vmId}) active`, async () => {
        const v = (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
        if (v.state === 'failed') throw new Error(`VM ${vmId} is ${v.state}: ${v.lastError ?? ''}`);
        return v.state === 'active' ? v : undefined;
      });
      p.serverId = vm.placement.serverId;
      const bk = await call('POST', `/api/v1/vms/${vmId}/backups`);
      if (bk.status !== 202) throw new Error(`backup of ${vmId}: ${bk.status} ${JSON.stringify(bk.body)}`);
      const done = await until(`backup of ${vmId}`, async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((x) => x.status !== 'running'));
      if (done.status !== 'succeeded') throw new Error(`backup of ${vmId} ${done.status}: ${JSON.stringify(done)}`);
      const dr = await call('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'approval' });
      if (dr.status !== 200) throw new Error(`protect ${vmId}: ${dr.status} ${JSON.stringify(dr.body)}`);
      await until(`DR workflow of ${vmId} Protected`, async () => ((await call('GET', `/api/v1/vms/${vmId}/dr`)).body.state?.state === 'Protected' ? true : undefined));
      ready++;
      if (ready % 5 === 0 || ready === planned.length) say(`  ${ready}/${planned.length} VMs protected`);
    });
    const setupSeconds = (Date.now() - setupStart) / 1000;

    // Both monitors must be watching every protected VM before the first fault.
    const monitorOf = (accountId: string) => temporal.client.workflow.getHandle(cloudMonitorWorkflowId(accountId));
    for (const [accountId, count] of [[OPERATOR_ACCOUNT_IDS.openstack, brokenVms], [outageAccountId, outageVms]] as const) {
      if (!count) continue;
      const first = await until(`monitor of ${accountId} sees ${count} protected VMs`, async () => {
        const s = await monitorOf(accountId).query<MonitorStatus>(MONITOR_STATUS_QUERY);
        return (s.protectedCount ?? 0) >= count && s.lastProbe?.cloudOk ? s : undefined;
      });
      await until(`monitor of ${accountId} checks again`, async () => ((await monitorOf(accountId).query<MonitorStatus>(MONITOR_STATUS_QUERY)).checks > first.checks ? true : undefined));
    }
    if (failoverTimings === 'realistic') {
      const osSlow = { serverStartMs: 4_000, serverStopMs: 3_000 };
      await Promise.all([simAdmin(osA.url, 'PATCH', '/timings', osSlow), simAdmin(osB.url, 'PATCH', '/timings', osSlow), simAdmin(cs.url, 'PATCH', '/timings', { startMs: 5_000, stopMs: 4_000, apiLatencyMs: 40 })]);
    }
    say(`setup done in ${setupSeconds.toFixed(1)} s; monitors see every VM; failover timings: ${failoverTimings}`);

    // ---- failovers ----------------------------------------------------------------------------
    const injectedAt = new Map<string, number>();
    const samples: FailoverSample[] = [];
    const failed = new Map<string, string>();
    const byVm = new Map(planned.map((p) => [p.vmId!, p]));
    const seenEvents = new Set<string>();

    /** Reads the member's DR events; records new failover.completed / failover.failed. */
    async function collect(): Promise<void> {
      const events = (await call('GET', '/api/v1/events?limit=500')).body.events as Json[];
      for (const e of events) {
        if (seenEvents.has(e.id)) continue;
        const p = byVm.get(e.vmId);
        if (!p || !injectedAt.has(e.vmId)) continue;
        if (e.kind === 'failover.failed') {
          seenEvents.add(e.id);
          failed.set(e.vmId, e.message);
          say(`  ${p.scenario} ${e.vmId}: failover.failed — ${e.message}`);
        }
        if (e.kind !== 'failover.completed') continue;
        seenEvents.add(e.id);
        const injected = injectedAt.get(e.vmId)!;
        const firstFailed = Date.parse(e.details?.firstFailedAt);
        const started = Date.parse(e.details?.startedAt);
        const completed = Date.parse(e.at);
        const s: FailoverSample = {
          scenario: p.scenario,
          vmId: e.vmId,
          workflowId: drWorkflowId(e.vmId),
          target: String(e.details?.target),
          rtoSeconds: round(e.rtoSeconds, 3),
          rpoSeconds: typeof e.rpoSeconds === 'number' ? round(e.rpoSeconds, 3) : null,
          rtoOverDetectionBudget: round(e.rtoSeconds / budget, 3),
          faultToFirstFailedCheckSeconds: round((firstFailed - injected) / 1000, 3),
          confirmSeconds: round((started - firstFailed) / 1000, 3),
          recoverSeconds: round((completed - started) / 1000, 3),
          detectionShare: round((started - firstFailed) / 1000 / e.rtoSeconds, 3),
          faultToSwitchSeconds: round((completed - injected) / 1000, 3),
        };
        samples.push(s);
        say(`  ${p.scenario} ${e.vmId} → ${s.target}: RTO ${s.rtoSeconds.toFixed(2)} s, RPO ${s.rpoSeconds?.toFixed(1) ?? '—'} s (${samples.length}/${injectedAt.size} done)`);
      }
    }
    const settled = (vmIds: string[]) => vmIds.every((id) => samples.some((s) => s.vmId === id) || failed.has(id));
    async function awaitFailovers(vmIds: string[], stopAt: number): Promise<void> {
      while (!settled(vmIds) && Date.now() < stopAt) {
        await collect().catch((err: Error) => say(`  reading events failed: ${err.message}`));
        if (!settled(vmIds)) await sleep(500);
      }
      await collect().catch(() => undefined);
    }

    // Phase 1: VMs broken one by one, the base cloud healthy.
    const broken = planned.filter((p) => p.scenario === 'vm-broken');
    const reprotected = { done: 0, of: broken.length, seconds: 0 };
    if (broken.length) {
      say(`phase 1: breaking ${broken.length} servers on OpenStack A (mode error), 0–${2 * intervalSeconds} s apart`);
      for (const p of broken) {
        await simAdmin(osA.url, 'POST', `/servers/${p.serverId}/break`, { mode: 'error' });
        injectedAt.set(p.vmId!, Date.now());
        await collect().catch(() => undefined);
        await sleep(Math.random() * 2 * intervalSeconds * 1000);
      }
      // Leave room for the outage phase: at most 60 % of what is left.
      await awaitFailovers(broken.map((p) => p.vmId!), Date.now() + Math.max(30_000, timeLeft() * 0.6));
      // Re-protection (a fresh backup) follows each base-standby failover; let it finish so the
      // outage phase does not share the machine with ten backups.
      const reStart = Date.now();
      const reStop = Math.min(deadline - 90_000, Date.now() + 120_000);
      while (Date.now() < reStop) {
        const states = await Promise.all(broken.map(async (p) => (await call('GET', `/api/v1/vms/${p.vmId}/dr`)).body.state as Json));
        reprotected.done = states.filter((s) => s?.state === 'Protected' && s.recentEvents?.some((e: Json) => e.kind === 'failover.completed')).length;
        if (reprotected.done === broken.length) break;
        await sleep(1000);
      }
      reprotected.seconds = round((Date.now() - reStart) / 1000, 1);
      say(`phase 1 done: ${samples.length}/${broken.length} failovers completed; ${reprotected.done}/${broken.length} re-protected (${reprotected.seconds} s after)`);
    }

    // Phase 2: one outage of OpenStack B, every VM on it at once.
    const outage = planned.filter((p) => p.scenario === 'cloud-outage');
    if (outage.length) {
      say(`phase 2: outage (503) of OpenStack B with ${outage.length} protected VMs`);
      await simAdmin(osB.url, 'POST', '/outage', { mode: '503' });
      const at = Date.now();
      for (const p of outage) injectedAt.set(p.vmId!, at);
      await awaitFailovers(outage.map((p) => p.vmId!), deadline - 20_000);
      await simAdmin(osB.url, 'DELETE', '/outage').catch(() => undefined);
      say(`phase 2 done: ${samples.filter((s) => s.scenario === 'cloud-outage').length}/${outage.length} failovers completed`);
    }

    // What did not complete, and where it stands (workflow id, DR state, recent events).
    const incomplete: IncompleteFailover[] = [];
    for (const p of planned) {
      if (samples.some((s) => s.vmId === p.vmId)) continue;
      const d = await call('GET', `/api/v1/vms/${p.vmId}/dr`).catch(() => undefined);
      const st = d?.body?.state as Json;
      incomplete.push({
        scenario: p.scenario,
        vmId: p.vmId!,
        workflowId: drWorkflowId(p.vmId!),
        drState: st?.state,
        step: st?.step,
        lastError: failed.get(p.vmId!) ?? st?.lastError,
        events: ((d?.body?.events ?? []) as Json[]).map((e) => `${e.at} ${e.kind}: ${e.message}`).reverse(),
      });
    }

    const scenarios: RtoBenchResult['scenarios'] = {};
    for (const sc of ['vm-broken', 'cloud-outage'] as const) {
      const xs = samples.filter((s) => s.scenario === sc);
      if (xs.length) scenarios[sc] = figures(xs);
    }
    if (samples.length) scenarios.all = figures(samples);
    const result: RtoBenchResult = {
      config: { intervalSeconds, failureThreshold, successThreshold, detectionBudgetSeconds: budget, failoverTimings, pollIntervalMs, brokenVms, outageVms },
      setup: { vms: planned.length, seconds: round(setupSeconds, 1) },
      samples,
      scenarios,
      incomplete,
      reprotected,
      seconds: 0,
      logFile,
    };
    result.seconds = round((Date.now() - t0) / 1000, 1);
    if (opts.print !== false) printReport(result);
    return result;
  } finally {
    say('stopping');
    for (const step of cleanup) await step().catch(() => undefined);
    logStream.end();
  }
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function printReport(r: RtoBenchResult): void {
  const c = r.config;
  const out: string[] = [];
  out.push(
    '',
    `RTO distribution: ${r.samples.length} failovers end to end (${c.brokenVms} VM broken → base standby, ${c.outageVms} in one base-cloud outage → CloudStack)`,
    `  detection: monitor interval ${c.intervalSeconds} s × failure threshold ${c.failureThreshold} = ${c.detectionBudgetSeconds} s budget (the baseline); ` +
      `failover timings ${c.failoverTimings === 'realistic' ? 'realistic (Nova start 4 s / stop 3 s, CloudStack start 5 s / stop 4 s)' : 'fast'}, activity poll ${c.pollIntervalMs} ms; setup ${r.setup.vms} VMs in ${r.setup.seconds} s`,
    `  RTO = first failed check → switch complete (recorded on failover.completed); ratio = RTO ÷ ${c.detectionBudgetSeconds} s; percentiles nearest-rank, seconds`,
  );
  const rows: string[][] = [['scenario', 'n', 'RTO p50', 'p95', 'max', 'RTO÷budget p50', 'p95', 'max', 'RPO p50', 'p95', 'max', 'fault→switch p50', 'p95', 'max']];
  for (const [name, f] of Object.entries(r.scenarios)) {
    rows.push([name, String(f.n), fmt(f.rto.p50, 2), fmt(f.rto.p95, 2), fmt(f.rto.max, 2), fmt(f.rtoOverDetectionBudget.p50, 2), fmt(f.rtoOverDetectionBudget.p95, 2), fmt(f.rtoOverDetectionBudget.max, 2), fmt(f.rpo.p50), fmt(f.rpo.p95), fmt(f.rpo.max), fmt(f.faultToSwitch.p50, 2), fmt(f.faultToSwitch.p95, 2), fmt(f.faultToSwitch.max, 2)]);
  }
  out.push(...table(rows, [0]));
  out.push('  where the time goes (p50 / max, seconds; share p50 / max):');
  const split: string[][] = [['scenario', 'fault → 1st failed check (outside RTO)', '1st failed check → failover starts', 'failover → switch', 'detection share of RTO']];
  for (const [name, f] of Object.entries(r.scenarios)) {
    const pm = (d: Distribution) => `${fmt(d.p50, 2)} / ${fmt(d.max, 2)}`;
    split.push([name, pm(f.faultToFirstFailedCheck), pm(f.confirm), pm(f.recover), pm(f.detectionShare)]);
  }
  out.push(...table(split, [0], '    '));
  out.push('  each failover:');
  const each: string[][] = [['scenario', 'vm', 'target', 'RTO s', 'RPO s', 'RTO÷budget', 'fault→switch s']];
  for (const s of r.samples) each.push([s.scenario, s.vmId, s.target, fmt(s.rtoSeconds, 2), fmt(s.rpoSeconds ?? NaN), fmt(s.rtoOverDetectionBudget, 2), fmt(s.faultToSwitchSeconds, 2)]);
  out.push(...table(each, [0, 1, 2], '    '));
  if (c.brokenVms) out.push(`  re-protected after base-standby failover: ${r.reprotected.done}/${r.reprotected.of} (waited ${r.reprotected.seconds} s)`);
  if (r.incomplete.length) {
    out.push(`  INCOMPLETE: ${r.incomplete.length} failover(s) did not complete in time (system logs: ${r.logFile})`);
    for (const i of r.incomplete) {
      out.push(`    ${i.scenario} workflow ${i.workflowId}: DR state ${i.drState ?? '?'}${i.step ? `, step "${i.step}"` : ''}${i.lastError ? `, error: ${i.lastError}` : ''}`);
      for (const e of i.events.slice(-6)) out.push(`      ${e}`);
    }
  }
  out.push(`  total ${r.seconds} s`, '');
  console.log(out.join('\n'));
}

/** Columns padded to their widest cell; `left` columns are left-aligned, the rest (numbers) right. */
function table(rows: string[][], left: number[], indent = '  '): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => indent + row.map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd());
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const flag = (name: string) => numberFlag(argv, name, { allowZero: true });
  exitWhenDone(
    runRtoBench({
      brokenVms: flag('--broken'),
      outageVms: flag('--outage'),
      intervalSeconds: flag('--interval'),
      failureThreshold: flag('--threshold'),
      failoverTimings: argv.includes('--fast') ? 'fast' : undefined,
    }),
    (r) => (r.incomplete.length ? 1 : 0),
  );
}
