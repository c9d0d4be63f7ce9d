/**
 * Orchestration overhead and concurrent creates (issue 13, items 1 and 2): what vmflow adds on top
 * of Temporal and the cloud when a VM is created, against a bare Temporal workflow making the same
 * cloud calls in the same number of activities (bench/bare/), in the same run, on the same Temporal
 * dev server, FerretDB and OpenStack simulator (fast timings: the cloud takes tens of ms, so what
 * is left is orchestration). vmflow's API and workers and the bare worker are child processes.
 *
 * 1. Overhead: `--sequential` creates one after another, each timed from POST /api/v1/vms to the
 *    VM record's `active` (what a member polling GET /vms/:id sees), against bareCreateVm started
 *    and awaited through the Temporal client; median and p90 of each, and the ratio. One create's
 *    histories say where the difference goes: the POST itself, the lease (vmOwner, signals), and
 *    the activities, local activities and workflow tasks each design runs.
 *    The same for a backup run (`--backups`, after the creates): POST /api/v1/vms/:id/backups →
 *    the backup record `succeeded` (what a member polling GET /vms/:id/backups sees), against
 *    bareBackupVm making backupVm's cloud calls (Nova snapshot, Glance wait, export to the image
 *    store, CloudStack template from the store URL and its wait, a stopped standby on each cloud,
 *    the leftover sweep's listings) in the same graph shape. Each run backs up a VM of its own made
 *    in the create runs (more are made when there are more backups than creates): a VM's first
 *    backup has no standby to replace and nothing to retire, so every run does the same work.
 * 2. Concurrent: `--concurrent` creates submitted at once through the API (100 connections),
 *    time to `active` of each (p50/p95/p99) and completions per second, with 1, 2 and 4 vmflow
 *    worker processes (`--workers 1,2,4`); the bare workflow at the same concurrency with one
 *    worker process. CPU % (of one core) and peak RSS of the API and worker processes per phase;
 *    Temporal's and FerretDB's own CPU is not counted (they are the same for both designs' runs).
 *
 *   tsx bench/orchestration.ts [--sequential 10] [--backups 5] [--concurrent 500] [--workers 1,2,4] [--poll-ms 250]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Agent, request } from 'undici';
import { backupModel } from '../src/backups/model';
import { loadCatalog } from '../src/catalog/load';
import { findSize } from '../src/catalog';
import { connectDatabase } from '../src/db/connection';
import { freePort } from '../src/embedded/processes';
import { createLogger } from '../src/logger';
import { formatKeyring, generateKey, keyringOf } from '../src/secrets/keyring';
import { sleep } from '../src/sleep';
import { startCloudStackSimulator } from '../src/sim/cloudstack';
import { DEMO_ACCOUNT } from '../src/sim/cloudstack/seed';
import { startOpenStackSimulator } from '../src/sim/openstack';
import { createDataConverter } from '../src/temporal/data-converter';
import { vmModel } from '../src/vms/model';
import { simAdmin } from '../test/harness/clouds';
import { startStack } from '../test/harness/stack';
import { signupAndLogin } from '../test/harness/users';
import { exitWhenDone, numberFlag } from './cli';
import { percentile } from './load';
import { answers, backupCloudChildEnv, benchLogDir, startChild, UsageMeter, vmflowChildEnv, type BenchChild } from './procs';

export interface OrchestrationBenchOptions {
  sequential?: number;
  /** Backup runs one at a time after the creates (0: none); default 5. */
  backups?: number;
  concurrent?: number;
  workerCounts?: number[];
  pollMs?: number;
  deadlineMs?: number;
  print?: boolean;
}

interface Dist {
  n: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface HistoryShape {
  workflowTasks: number;
  activities: number;
  localActivities: number;
  signalsSent: number;
  signalsReceived: number;
  timers: number;
  events: number;
}

/** One backup run, from its histories: where the wall time goes, in ms. */
export interface BackupBreakdown {
  /** vmflow: the POST's answer time (the VM look-up, the in-flight quota's count of running backups in Temporal's visibility, the workflow start). */
  post?: number;
  /** vmflow: backupVm started → lease granted by vmOwner. */
  startToLease?: number;
  /** From the lease (vmflow) or the workflow's start (bare) to the snapshot activity's scheduling: vmflow's plan and record start. */
  beforeCloudSteps: number;
  /** Snapshot scheduled → the last standby activity closed: the cloud steps and the workflow tasks between them. */
  cloudSteps: number;
  /** The last standby closed → the record `succeeded` seen (vmflow) or the result (bare): record writes, retention, sweep. */
  afterCloudSteps: number;
  total: number;
}

export interface BackupOverhead {
  vmflowMs: Dist;
  bareMs: Dist;
  ratioP50: number;
  breakdownMs: { vmflow: BackupBreakdown; bare: BackupBreakdown };
  histories: { vmflowBackup: HistoryShape; vmflowOwner: HistoryShape; bare: HistoryShape };
  /** The sampled runs' activities by type, in the order first scheduled: "name [×n] <ms scheduled → closed, summed>". */
  activities: { vmflow: string[]; bare: string[] };
}

export interface ConcurrentPhase {
  design: 'vmflow' | 'bare';
  workers: number;
  submitted: number;
  completed: number;
  failed: number;
  /** Completions ÷ time from the first submission to the last completion. */
  completionsPerSecond: number;
  timeToActiveMs: Dist;
  /** vmflow: POST answer time under this load. */
  submitMs?: Dist;
  /** 503 busy answers (the API's create gate) the creates were tried again after. */
  busyAnswers?: number;
  processes: Array<{ name: string; cpuPercent: number; peakRssMiB: number }>;
}

export interface OrchestrationBenchResult {
  pollMs: number;
  overhead: {
    vmflowMs: Dist;
    bareMs: Dist;
    ratioP50: number;
    /** Where vmflow's time goes, from one create: POST answer, lease wait, the rest of createVm. */
    breakdownMs: { post: number; startToLease: number; leaseToActive: number; total: number };
    histories: { vmflowCreate: HistoryShape; vmflowOwner: HistoryShape; bare: HistoryShape };
  };
  /** Absent with `backups: 0`. */
  backup?: BackupOverhead;
  concurrent: ConcurrentPhase[];
  /** Worker counts whose phase the deadline left unmeasured. */
  skippedWorkerCounts?: number[];
  /** Completions/s of vmflow with N workers ÷ bare (1 worker), and ÷ vmflow with 1 worker. */
  ratios: Array<{ workers: number; vsBare: number; speedUp: number }>;
  logDir: string;
}

const EventType = temporal.api.enums.v1.EventType;
const r1 = (n: number) => Math.round(n * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: r1(percentile(s, 50)), p90: r1(percentile(s, 90)), p95: r1(percentile(s, 95)), p99: r1(percentile(s, 99)), max: r1(s[s.length - 1] ?? NaN) };
}

function shapeOf(events: temporal.api.history.v1.IHistoryEvent[]): HistoryShape {
  const count = (t: number) => events.filter((e) => e.eventType === t).length;
  return {
    workflowTasks: count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    activities: count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
    localActivities: events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
    signalsSent: count(EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED),
    signalsReceived: count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
    timers: count(EventType.EVENT_TYPE_TIMER_STARTED),
    events: events.length,
  };
}

const tsMs = (e: temporal.api.history.v1.IHistoryEvent | undefined) => (e?.eventTime ? Number(e.eventTime.seconds ?? 0) * 1000 + Math.round((e.eventTime.nanos ?? 0) / 1e6) : NaN);

interface ActivitySpan {
  name: string;
  scheduledMs: number;
  closedMs: number;
}

/** Each activity of a history: its type, when it was scheduled and when it closed (NaN while open). */
function activitySpans(events: temporal.api.history.v1.IHistoryEvent[]): ActivitySpan[] {
  const byEventId = new Map<string, ActivitySpan>();
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      byEventId.set(String(e.eventId), { name: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', scheduledMs: tsMs(e), closedMs: NaN });
    }
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
    const span = closed?.scheduledEventId ? byEventId.get(String(closed.scheduledEventId)) : undefined;
    if (span) span.closedMs = tsMs(e);
  }
  return [...byEventId.values()];
}

/**
 * Activity types in the order first scheduled, with the time from scheduling to close summed over
 * a type's runs ("name ×n" when it ran n times): the task queue wait is in it, so one activity's
 * round trip through Temporal shows as well as its own work.
 */
function activityList(spans: ActivitySpan[]): string[] {
  const byName = new Map<string, { n: number; ms: number }>();
  for (const s of spans) {
    const t = byName.get(s.name) ?? { n: 0, ms: 0 };
    byName.set(s.name, { n: t.n + 1, ms: t.ms + (s.closedMs - s.scheduledMs) });
  }
  return [...byName].map(([name, t]) => `${name}${t.n > 1 ? ` ×${t.n}` : ''} ${Math.round(t.ms)} ms`);
}

/** First scheduling and last close of the named activities (the cloud steps of a backup). */
function stepWindow(spans: ActivitySpan[], first: string, last: readonly string[]): { startMs: number; endMs: number } {
  return { startMs: Math.min(...spans.filter((s) => s.name === first).map((s) => s.scheduledMs)), endMs: Math.max(...spans.filter((s) => last.includes(s.name)).map((s) => s.closedMs)) };
}

export async function runOrchestrationBench(opts: OrchestrationBenchOptions = {}): Promise<OrchestrationBenchResult> {
  const sequential = opts.sequential ?? 10;
  const backups = opts.backups ?? 5;
  const concurrent = opts.concurrent ?? 500;
  const workerCounts = opts.workerCounts ?? [1, 2, 4];
  const pollMs = opts.pollMs ?? 250;
  // Each concurrent phase may take up to 10 min (its own deadline), plus the overhead runs.
  const deadline = Date.now() + (opts.deadlineMs ?? (10 + 10 * workerCounts.length) * 60_000);
  const logDir = benchLogDir('orchestration');
  const say = (m: string) => console.log(`[orchestration] ${m}`);
  const cleanup: Array<() => Promise<unknown>> = [];
  const stack = await startStack();
  cleanup.push(() => stack.stop());
  try {
    const silent = createLogger('silent', 'bench-orchestration');
    // A /16 private network: the run makes over 1,500 VMs, a devstack-sized /24 holds 253.
    const os = await startOpenStackSimulator({ timings: 'fast', privatePrefixLength: 16, logger: silent });
    cleanup.unshift(() => os.stop());
    // The backup cloud and the image store only serve the backup runs; both designs use the same ones.
    // The demo account's default limit of 20 instances would stop the standbys of a long run.
    const cs = await startCloudStackSimulator({ timings: 'fast', logger: silent, accounts: [{ ...DEMO_ACCOUNT, vmLimit: 1000 }] });
    cleanup.unshift(() => cs.stop());
    const backupCloud = await backupCloudChildEnv({ storeDir: path.join(stack.dir, 'image-store'), openstack: os, cloudstack: cs }); // the store's dir goes with the stack
    cleanup.unshift(() => backupCloud.stop());
    // Creates, then per backup run a standby (and for runs beyond the creates a VM) of each design.
    const servers = (sequential + 2) * 2 + (backups + 1) * 4 + concurrent * (workerCounts.length + 1) + 10;
    await simAdmin(os.url, 'PATCH', '/quotas', { project: os.credentials.projectName, instances: servers, cores: servers * 8, ram: servers * 16384 });
    const keyring = keyringOf(generateKey());
    const vmflowQueue = `bench-orch-${crypto.randomBytes(4).toString('hex')}`;
    const bareQueue = `${vmflowQueue}-bare`;
    const apiPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...vmflowChildEnv({ logDir, stack, taskQueue: vmflowQueue, encryptionKeys: formatKeyring(keyring), apiPort, openstack: os }),
      BARE_TASK_QUEUE: bareQueue,
      ...backupCloud.env,
      VMFLOW_POLL_INTERVAL_MS: String(pollMs),
    };
    say(`stack, simulators and image store up; starting the API, one vmflow worker and the bare worker (logs in ${logDir})`);
    const workers: BenchChild[] = [];
    const startWorker = async () => {
      const w = await startChild({ name: `worker-${workers.length + 1}`, entry: 'worker/main.ts', env, logDir, ready: (out) => out.includes('worker polling'), timeoutMs: 120_000 });
      workers.push(w);
      cleanup.unshift(() => w.stop());
    };
    await startWorker();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const api = await startChild({ name: 'api', entry: 'api/main.ts', env, logDir, ready: () => answers(`${apiUrl}/healthz`) });
    cleanup.unshift(() => api.stop());
    const bare = await startChild({ name: 'bare-worker', entry: 'bench/bare/worker.ts', env, logDir, ready: (out) => out.includes('bare worker polling'), timeoutMs: 120_000 });
    cleanup.unshift(() => bare.stop());

    const db = await connectDatabase(stack.mongoUri);
    cleanup.unshift(() => db.close());
    const Vm = vmModel(db);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanup.unshift(() => connection.close());
    const bareClient = new Client({ connection, namespace: stack.namespace });
    const vmflowClient = new Client({ connection, namespace: stack.namespace, dataConverter: createDataConverter(keyring) });
    const member = await signupAndLogin(apiUrl, `perf-orch-${crypto.randomBytes(3).toString('hex')}`);
    const agent = new Agent({ connections: 100 });
    cleanup.unshift(() => agent.close());
    const requirements = (name: string) => ({ name, os: 'ubuntu-24.04', size: 'small', cloud: 'openstack' });

    /** A create as a client makes it: a 503 busy (the API's create gate) is tried again after its Retry-After, at most 10 min. */
    const post = async (name: string): Promise<{ id: string; ms: number; busy: number }> => {
      const t = performance.now();
      const key = crypto.randomUUID();
      for (let busy = 0; ; busy++) {
        const res = await request(`${apiUrl}/api/v1/vms`, { method: 'POST', headers: { ...member.authHeaders, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(requirements(name)), dispatcher: agent });
        const body = (await res.body.json()) as { vm?: { id: string } };
        if (res.statusCode === 503 && performance.now() - t < 10 * 60_000) {
          await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
          continue;
        }
        if (res.statusCode !== 202 || !body.vm) throw new Error(`POST /vms: ${res.statusCode} ${JSON.stringify(body)}`);
        return { id: body.vm.id, ms: performance.now() - t, busy };
      }
    };
    /** When the VM's record became active (its history entry), or undefined while it is not. */
    const activeAt = async (id: string): Promise<number | undefined> => {
      const d = await Vm.findById(id, { state: 1, history: 1 }).lean();
      if (d?.state === 'failed') throw new Error(`VM ${id} failed: ${JSON.stringify(d.history.at(-1))}`);
      const h = d?.state === 'active' ? d.history.find((e) => e.to === 'active') : undefined;
      return h ? new Date(h.at).getTime() : undefined;
    };
    const bareCreate = async (id: string): Promise<{ id: string; serverId: string }> => {
      const h = await bareClient.workflow.start('bareCreateVm', { taskQueue: bareQueue, workflowId: `bare-create:${id}`, args: [{ id, requirements: requirements(`bare-${id}`) }] });
      const { serverId } = (await h.result()) as { serverId: string };
      return { id, serverId };
    };
    /** VMs the create runs made, kept for the backup runs (one each). */
    const vmflowVms: string[] = [];
    const bareVms: Array<{ id: string; serverId: string }> = [];

    // ---- 1. overhead: one create at a time --------------------------------------------------
    say(`overhead: ${sequential} creates one at a time, vmflow (REST → active) and bare (start → result), after one warm-up each`);
    const vmflowMs: number[] = [];
    const bareMs: number[] = [];
    let sample: { id: string; postMs: number; t0: number } | undefined;
    for (let i = 0; i <= sequential; i++) {
      if (Date.now() > deadline) throw new Error('deadline reached during the overhead runs');
      const t0 = Date.now();
      const { id, ms } = await post(`seq-${i}`);
      let at: number | undefined;
      while ((at = await activeAt(id)) === undefined) await sleep(5);
      if (i > 0) vmflowMs.push(at - t0);
      if (i === sequential) sample = { id, postMs: ms, t0 };
      vmflowVms.push(id);
      const b0 = performance.now();
      bareVms.push(await bareCreate(`seq-${i}-${crypto.randomBytes(3).toString('hex')}`));
      if (i > 0) bareMs.push(performance.now() - b0);
    }
    // Where the time goes, from the last create's histories.
    await sleep(500);
    const createEvents = (await vmflowClient.workflow.getHandle(`vm-create:${sample!.id}`).fetchHistory()).events ?? [];
    const ownerEvents = (await vmflowClient.workflow.getHandle(`vm-owner:${sample!.id}`).fetchHistory()).events ?? [];
    const bareSample = await bareClient.workflow.start('bareCreateVm', { taskQueue: bareQueue, workflowId: `bare-create:sample-${crypto.randomBytes(3).toString('hex')}`, args: [{ id: `sample-${Date.now()}`, requirements: requirements('bare-sample') }] });
    await bareSample.result();
    const bareEvents = (await bareSample.fetchHistory()).events ?? [];
    const started = tsMs(createEvents[0]);
    const granted = tsMs(createEvents.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED));
    const activeMs = (await activeAt(sample!.id))!;
    const breakdownMs = { post: r1(sample!.postMs), startToLease: r1(granted - started), leaseToActive: r1(activeMs - granted), total: r1(activeMs - sample!.t0) };

    // ---- 1b. overhead: one backup run at a time ----------------------------------------------
    /**
     * `backups` runs after one warm-up each, one VM per run (see the header), alternating designs
     * as the creates do. vmflow is timed from the POST to the record's `succeeded` as read from the
     * database every 5 ms (as the create runs read `active`), bare from start to result.
     */
    async function measureBackups(): Promise<BackupOverhead> {
      say(`overhead: ${backups} backup runs one at a time, vmflow (REST → record succeeded) and bare (start → result), after one warm-up each`);
      while (vmflowVms.length < backups + 1) {
        if (Date.now() > deadline) throw new Error('deadline reached making VMs for the backup runs');
        const { id } = await post(`bk-${vmflowVms.length}`);
        while ((await activeAt(id)) === undefined) await sleep(5);
        vmflowVms.push(id);
        bareVms.push(await bareCreate(`bk-${bareVms.length}-${crypto.randomBytes(3).toString('hex')}`));
      }
      const Backup = backupModel(db);
      const size = findSize(loadCatalog(), 'small');
      const bareInput = (vm: { id: string; serverId: string }) => ({
        ...vm,
        // What backupVm's plan reads from the catalog for a small VM, and the worker's network.
        flavorName: size?.openstack.flavorName ?? 'm1.small',
        networkName: 'private',
        serviceOfferingName: size?.cloudstack.serviceOfferingName ?? 'Small Instance',
      });
      const vmflowBackupMs: number[] = [];
      const bareBackupMs: number[] = [];
      let last: { vmId: string; workflowId: string; postMs: number; t0: number; seenAt: number; bareWorkflowId: string; bareMs: number } | undefined;
      for (let i = 0; i <= backups; i++) {
        if (Date.now() > deadline) throw new Error('deadline reached during the backup runs');
        const vmId = vmflowVms[i];
        const t0 = Date.now();
        const p0 = performance.now();
        const res = await request(`${apiUrl}/api/v1/vms/${vmId}/backups`, { method: 'POST', headers: member.authHeaders, dispatcher: agent });
        const body = (await res.body.json()) as { workflowId?: string };
        const postMs = performance.now() - p0;
        if (res.statusCode !== 202 || !body.workflowId) throw new Error(`POST /vms/${vmId}/backups: ${res.statusCode} ${JSON.stringify(body)}`);
        const runDeadline = Math.min(deadline, Date.now() + 5 * 60_000);
        for (;;) {
          const d = await Backup.findOne({ workflowId: body.workflowId }, { status: 1, reason: 1 }).lean();
          if (d?.status === 'succeeded') break;
          if (d && d.status !== 'running') throw new Error(`backup ${body.workflowId} ${d.status}: ${d.reason ?? ''}`);
          if (Date.now() > runDeadline) throw new Error(`backup ${body.workflowId} not succeeded in time (record: ${d?.status ?? 'none yet'})`);
          await sleep(5);
        }
        const seenAt = Date.now();
        if (i > 0) vmflowBackupMs.push(seenAt - t0);
        // backupVm goes on after the record (the catalog copy in the store, the lease's release):
        // awaited untimed, so the bare run does not share the machine with that tail.
        await vmflowClient.workflow.getHandle(body.workflowId).result();
        const b0 = performance.now();
        const bareWorkflowId = `bare-backup:${bareVms[i].id}`;
        await bareClient.workflow.execute('bareBackupVm', { taskQueue: bareQueue, workflowId: bareWorkflowId, args: [bareInput(bareVms[i])] });
        const bareRunMs = performance.now() - b0;
        if (i > 0) bareBackupMs.push(bareRunMs);
        last = { vmId, workflowId: body.workflowId, postMs, t0, seenAt, bareWorkflowId, bareMs: bareRunMs };
      }
      // Where the time goes, from the last run's histories.
      const run = last!;
      await sleep(500);
      const backupEvents = (await vmflowClient.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
      const started = tsMs(backupEvents[0]);
      // The owner has run since the VM's create; only what it did for this backup counts.
      const ownerEvents = ((await vmflowClient.workflow.getHandle(`vm-owner:${run.vmId}`).fetchHistory()).events ?? []).filter((e) => tsMs(e) >= started);
      const bareEvents = (await bareClient.workflow.getHandle(run.bareWorkflowId).fetchHistory()).events ?? [];
      const granted = tsMs(backupEvents.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED));
      const vmflowSpans = activitySpans(backupEvents);
      const bareSpans = activitySpans(bareEvents);
      const vmflowCloud = stepWindow(vmflowSpans, 'osSnapshotServer', ['osEnsureStandby', 'csEnsureStandby']);
      const bareCloud = stepWindow(bareSpans, 'bareSnapshot', ['bareBaseStandby', 'bareBackupCloudStandby']);
      const bareStarted = tsMs(bareEvents[0]);
      const bareClosed = tsMs(bareEvents.at(-1));
      return {
        vmflowMs: dist(vmflowBackupMs),
        bareMs: dist(bareBackupMs),
        ratioP50: r2(percentile([...vmflowBackupMs].sort((a, b) => a - b), 50) / percentile([...bareBackupMs].sort((a, b) => a - b), 50)),
        breakdownMs: {
          vmflow: {
            post: r1(run.postMs),
            startToLease: r1(granted - started),
            beforeCloudSteps: r1(vmflowCloud.startMs - granted),
            cloudSteps: r1(vmflowCloud.endMs - vmflowCloud.startMs),
            afterCloudSteps: r1(run.seenAt - vmflowCloud.endMs),
            total: r1(run.seenAt - run.t0),
          },
          bare: {
            beforeCloudSteps: r1(bareCloud.startMs - bareStarted),
            cloudSteps: r1(bareCloud.endMs - bareCloud.startMs),
            afterCloudSteps: r1(bareClosed - bareCloud.endMs),
            total: r1(run.bareMs),
          },
        },
        histories: { vmflowBackup: shapeOf(backupEvents), vmflowOwner: shapeOf(ownerEvents), bare: shapeOf(bareEvents) },
        activities: { vmflow: activityList(vmflowSpans), bare: activityList(bareSpans) },
      };
    }
    const backup = backups > 0 ? await measureBackups() : undefined;

    // ---- 2. concurrent creates ------------------------------------------------------------
    const concurrentPhases: ConcurrentPhase[] = [];
    const meters = (procs: BenchChild[]) => procs.map((p) => ({ name: p.name, meter: new UsageMeter(p.pid) }));
    // The baseline first: a run that reaches its deadline during the vmflow phases still has it.
    say(`concurrent: ${concurrent} bare workflows at once, 1 worker process`);
    {
      const m = meters([bare]);
      const t0 = performance.now();
      const results = await Promise.allSettled(
        Array.from({ length: concurrent }, async (_, i) => {
          await bareCreate(`c-${i}-${crypto.randomBytes(3).toString('hex')}`);
          return performance.now() - t0;
        }),
      );
      const usage = m.map((x) => ({ name: x.name, ...x.meter.stop() }));
      const times = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      concurrentPhases.push({
        design: 'bare',
        workers: 1,
        submitted: concurrent,
        completed: times.length,
        failed: concurrent - times.length,
        completionsPerSecond: r1(times.length / (Math.max(...times) / 1000)),
        timeToActiveMs: dist(times),
        processes: usage.map((u) => ({ name: u.name, cpuPercent: u.cpuPercent, peakRssMiB: u.peakRssMiB })),
      });
    }
    const bareRate = concurrentPhases[0]!.completionsPerSecond;
    say(`  ${concurrentPhases[0]!.completed}/${concurrent} done, ${bareRate}/s`);
    const skipped: number[] = [];
    for (const n of workerCounts) {
      if (Date.now() > deadline) {
        // Reported as not measured rather than thrown: the phases before keep their figures.
        say(`  deadline reached: the ${n}-worker phase is not run`);
        skipped.push(n);
        continue;
      }
      while (workers.length < n) await startWorker();
      say(`concurrent: ${concurrent} creates at once through the API, ${n} worker process(es)`);
      const m = meters([api, ...workers.slice(0, n)]);
      const t0 = Date.now();
      const submitted = await Promise.allSettled(Array.from({ length: concurrent }, (_, i) => post(`c${n}-${i}`)));
      const ids = submitted.flatMap((s) => (s.status === 'fulfilled' ? [s.value.id] : []));
      const postMs = submitted.flatMap((s) => (s.status === 'fulfilled' ? [s.value.ms] : []));
      const refused = submitted.flatMap((s) => (s.status === 'rejected' ? [String((s.reason as Error).message)] : []));
      if (refused.length) say(`  ${refused.length} of ${concurrent} POSTs failed, the first: ${refused[0].slice(0, 300)}`);
      const done = new Map<string, number>();
      let failed = 0;
      const phaseDeadline = Math.min(deadline, Date.now() + 10 * 60_000);
      while (done.size + failed < ids.length && Date.now() < phaseDeadline) {
        await sleep(1000);
        const left = ids.filter((id) => !done.has(id));
        const docs = await Vm.find({ _id: { $in: left } }, { state: 1, history: 1 }).lean();
        for (const d of docs) {
          if (d.state === 'failed') failed++;
          const h = d.state === 'active' ? d.history.find((e) => e.to === 'active') : undefined;
          if (h) done.set(d._id, new Date(h.at).getTime() - t0);
        }
      }
      const usage = m.map((x) => ({ name: x.name, ...x.meter.stop() }));
      const times = [...done.values()];
      concurrentPhases.push({
        design: 'vmflow',
        workers: n,
        submitted: ids.length,
        completed: done.size,
        failed: failed + (concurrent - ids.length),
        completionsPerSecond: r1(done.size / (Math.max(...times) / 1000)),
        timeToActiveMs: dist(times),
        submitMs: dist(postMs),
        busyAnswers: submitted.reduce((n, x) => n + (x.status === 'fulfilled' ? x.value.busy : 0), 0),
        processes: usage.map((u) => ({ name: u.name, cpuPercent: u.cpuPercent, peakRssMiB: u.peakRssMiB })),
      });
      say(`  ${done.size}/${concurrent} active, ${concurrentPhases.at(-1)!.completionsPerSecond}/s`);
    }
    const one = concurrentPhases.find((p) => p.design === 'vmflow' && p.workers === 1)?.completionsPerSecond ?? NaN;
    const result: OrchestrationBenchResult = {
      pollMs,
      overhead: {
        vmflowMs: dist(vmflowMs),
        bareMs: dist(bareMs),
        ratioP50: r2(percentile([...vmflowMs].sort((a, b) => a - b), 50) / percentile([...bareMs].sort((a, b) => a - b), 50)),
        breakdownMs,
        histories: { vmflowCreate: shapeOf(createEvents), vmflowOwner: shapeOf(ownerEvents), bare: shapeOf(bareEvents) },
      },
      ...(backup ? { backup } : {}),
      concurrent: concurrentPhases,
      ...(skipped.length ? { skippedWorkerCounts: skipped } : {}),
      ratios: concurrentPhases.filter((p) => p.design === 'vmflow').map((p) => ({ workers: p.workers, vsBare: r2(p.completionsPerSecond / bareRate), speedUp: r2(p.completionsPerSecond / one) })),
      logDir,
    };
    if (opts.print !== false) printReport(result);
    return result;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
    if (!process.env.VMFLOW_BENCH_KEEP_LOGS) fs.rmSync(logDir, { recursive: true, force: true });
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`);
}

function backupReport(b: BackupOverhead, pollMs: number, shape: (s: HistoryShape) => string[]): string[] {
  const v = b.breakdownMs.vmflow;
  const x = b.breakdownMs.bare;
  return [
    '',
    `orchestration overhead: backup run wall time, one at a time (${b.vmflowMs.n} each, each a VM's first backup, both standbys; simulator fast timings, poll ${pollMs} ms)`,
    ...table([
      ['design', 'p50 ms', 'p90 ms', 'max ms'],
      ['vmflow: POST /api/v1/vms/:id/backups → record succeeded', String(b.vmflowMs.p50), String(b.vmflowMs.p90), String(b.vmflowMs.max)],
      ['bare Temporal workflow: start → result', String(b.bareMs.p50), String(b.bareMs.p90), String(b.bareMs.max)],
      ['ratio (p50)', String(b.ratioP50), '', ''],
    ]),
    `  one vmflow backup: POST answered in ${v.post} ms; backupVm start → lease granted ${v.startToLease} ms; lease → snapshot scheduled ${v.beforeCloudSteps} ms; cloud steps ${v.cloudSteps} ms; last standby → record succeeded ${v.afterCloudSteps} ms; total ${v.total} ms`,
    `  one bare backup: start → snapshot scheduled ${x.beforeCloudSteps} ms; cloud steps ${x.cloudSteps} ms; last standby → result ${x.afterCloudSteps} ms; total ${x.total} ms`,
    ...table([
      ['history', 'events', 'wf tasks', 'activities', 'local act.', 'signals out', 'signals in', 'timers'],
      ['vmflow backupVm', ...shape(b.histories.vmflowBackup)],
      ['vmflow vmOwner (this backup)', ...shape(b.histories.vmflowOwner)],
      ['bare', ...shape(b.histories.bare)],
    ]),
    `  vmflow activities (scheduled → closed): ${b.activities.vmflow.join(', ')}`,
    `  bare activities (scheduled → closed): ${b.activities.bare.join(', ')}`,
  ];
}

function printReport(r: OrchestrationBenchResult): void {
  const o = r.overhead;
  const h = o.histories;
  const shape = (s: HistoryShape) => [String(s.events), String(s.workflowTasks), String(s.activities), String(s.localActivities), String(s.signalsSent), String(s.signalsReceived), String(s.timers)];
  const out = [
    '',
    `orchestration overhead: create-VM wall time, one at a time (${o.vmflowMs.n} each, simulator fast timings, poll ${r.pollMs} ms)`,
    ...table([
      ['design', 'p50 ms', 'p90 ms', 'max ms'],
      ['vmflow: POST /api/v1/vms → active', String(o.vmflowMs.p50), String(o.vmflowMs.p90), String(o.vmflowMs.max)],
      ['bare Temporal workflow: start → result', String(o.bareMs.p50), String(o.bareMs.p90), String(o.bareMs.max)],
      ['ratio (p50)', String(o.ratioP50), '', ''],
    ]),
    `  one vmflow create: POST answered in ${o.breakdownMs.post} ms; createVm start → lease granted ${o.breakdownMs.startToLease} ms; lease → active ${o.breakdownMs.leaseToActive} ms; total ${o.breakdownMs.total} ms`,
    ...table([
      ['history', 'events', 'wf tasks', 'activities', 'local act.', 'signals out', 'signals in', 'timers'],
      ['vmflow createVm', ...shape(h.vmflowCreate)],
      ['vmflow vmOwner', ...shape(h.vmflowOwner)],
      ['bare', ...shape(h.bare)],
    ]),
    ...(r.backup ? backupReport(r.backup, r.pollMs, shape) : []),
    '',
    'concurrent creates, submitted at once',
    ...table([
      ['design', 'workers', 'done', 'failed', 'done/s', 'p50 s', 'p95 s', 'p99 s', 'POST p50/p99 ms (incl. retries)', '503 busy', 'CPU % (RSS MiB) per process'],
      ...r.concurrent.map((p) => [
        p.design,
        String(p.workers),
        `${p.completed}/${p.submitted}`,
        String(p.failed),
        String(p.completionsPerSecond),
        String(r1(p.timeToActiveMs.p50 / 1000)),
        String(r1(p.timeToActiveMs.p95 / 1000)),
        String(r1(p.timeToActiveMs.p99 / 1000)),
        p.submitMs ? `${p.submitMs.p50}/${p.submitMs.p99}` : '',
        p.busyAnswers === undefined ? '' : String(p.busyAnswers),
        p.processes.map((x) => `${x.name} ${x.cpuPercent} (${x.peakRssMiB})`).join(', '),
      ]),
    ]),
    `  vmflow ÷ bare completions/s: ${r.ratios.map((x) => `${x.workers} worker(s) ×${x.vsBare} (speed-up ×${x.speedUp})`).join('; ')}`,
    ...(r.skippedWorkerCounts?.length ? [`  not measured (deadline): ${r.skippedWorkerCounts.join(', ')} worker(s)`] : []),
    '',
  ];
  console.log(out.join('\n'));
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--workers');
  const workerCounts = i >= 0 ? (argv[i + 1] ?? '').split(',').map(Number) : undefined;
  if (workerCounts?.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('--workers takes counts 1-8, comma-separated');
  exitWhenDone(runOrchestrationBench({ sequential: numberFlag(argv, '--sequential'), backups: numberFlag(argv, '--backups', { allowZero: true }), concurrent: numberFlag(argv, '--concurrent'), workerCounts, pollMs: numberFlag(argv, '--poll-ms') }), undefined, 'orchestration');
}
