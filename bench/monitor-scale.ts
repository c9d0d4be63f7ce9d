/**
 * Cloud monitor scale benchmark (UC-009): what monitoring 10,000 protected VMs costs per interval
 * with one cloudMonitor per cloud account, against the naive design of one check (one
 * GET /servers/{id} in one activity) per VM per interval.
 *
 * Boots its own Temporal dev server and FerretDB (the test stack's launcher; TEMPORAL_ADDRESS /
 * MONGODB_URI point it at existing ones), one OpenStack simulator per cloud (fast timings) with
 * `--vms` servers each made through Nova, the VM and dr_protections documents in MongoDB, a
 * worker, and one monitor per cloud with a short interval. After a few intervals it reads:
 * - cloud API calls per interval: the probe's own count, checked against the simulator's request
 *   counter over all the checks;
 * - Temporal cost per interval: the monitor's history events between two consecutive timer
 *   firings (one steady interval), and the billable actions among them (activities scheduled,
 *   timers started, signals sent);
 * - the probe's wall time (and its MongoDB part).
 * The naive baseline is measured in the same run on a sample (`--sample`, default 500) of real
 * GET /servers/{id} calls and extrapolated to every VM; its Temporal cost is the measured cost
 * of one monitor interval (same shape: one activity + one timer) times the number of VMs.
 * Every server is ACTIVE, so no health signal is sent: this is the steady state.
 *
 * Then (unless --no-guests) the same monitors again with a TCP guest check on every VM, served by
 * the simulators on loopback: cloud API calls per interval (must not change), the probe's wall time
 * and its guest part, and the bench process's CPU per interval without and with the checks.
 *
 *   tsx bench/monitor-scale.ts [--vms 5000] [--clouds 2] [--sample 500] [--interval 5] [--no-guests]
 */
import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Connection as MongoConnection } from 'mongoose';
import { DR_PROTECTIONS_COLLECTION, loadProtectedVms } from '../activities/dr-monitor';
import { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { CloudAccountStore } from '../src/cloud-accounts/store';
import { ComputeClient, OpenStackSession, TokenCache } from '../src/clouds/openstack';
import { CLOUD_MONITOR_WORKFLOW, cloudMonitorWorkflowId } from '../src/contracts/dr';
import { connectDatabase } from '../src/db/connection';
import { createLogger } from '../src/logger';
import { sleep } from '../src/sleep';
import { generateKey, keyringOf } from '../src/secrets/keyring';
import { startOpenStackSimulator, type OpenStackSimulator } from '../src/sim/openstack';
import { createDataConverter } from '../src/temporal/data-converter';
import { vmModel } from '../src/vms/model';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../src/contracts/dr-monitor';
import { allowSimulators, simAdmin } from '../test/harness/clouds';
import { startStack } from '../test/harness/stack';
import { exitWhenDone, numberFlag } from './cli';
import { freePort } from '../src/embedded/processes';
import { markProtectedSetChanged } from '../src/dr/protected-set';

/** The simulators serve guests on loopback; the worker connects there (src/sim/openstack/guests.ts). */
const GUEST_MAP = '10.0.0.0/8=127.0.0.0/8';
import { startBenchWorker } from './worker';

export interface MonitorScaleBenchOptions {
  /** Protected VMs (servers) per cloud; default 5000. */
  vmsPerCloud?: number;
  /** Clouds (accounts, one simulator each); default 2. */
  clouds?: number;
  /** Per-VM GETs actually made for the naive baseline; default 500. */
  naiveSample?: number;
  /** Monitor interval in seconds; default 5. */
  intervalSeconds?: number;
  /** Whole-run deadline; default 10 minutes. */
  deadlineMs?: number;
  /** Second phase with a TCP guest check on every VM (issue 17, item 1); default true. */
  guests?: boolean;
  print?: boolean;
}

/** The monitors again, every VM with a guest check (the simulators serve the guests on loopback). */
export interface GuestPhaseFigures {
  intervalSeconds: number;
  clouds: Array<{ apiCallsPerInterval: number; probeWallMs: number; guestMs: number; checked: number; failing: number; inconclusive: number; refused: number }>;
  /** Cloud API calls per interval, all clouds: without guest checks (phase 1) and with them. */
  apiCalls: { without: number; with: number };
  /** CPU of the bench process (worker AND both simulators, which serve the 10,000 guests) per interval, ms. */
  processCpuMsPerInterval: { without: number; with: number };
  /** The first check with guests: every guest seen for the first time is written once (vm_guest_status). */
  firstCheckProbeMs: number;
}

export interface CloudIntervalFigures {
  accountId: string;
  protectedVms: number;
  serversListed: number;
  /** Reported by the probe for its last (steady) check. */
  apiCallsPerInterval: number;
  /** Simulator requests during monitoring ÷ checks (includes the first check's token issue). */
  simRequestsPerCheck: number;
  checks: number;
  probeWallMs: number;
  probeDbMs: number;
  /** The steady probe's protected set came from its kept copy (src/dr/protected-set.ts). */
  probeDbCached: boolean;
  /**
   * The protected set read from the VM documents, as every probe did before the kept copy (and a
   * probe still does after a change): timed directly in this run, after the monitors stopped.
   */
  uncachedDbMs: number;
  /** Share of the probe that is the database read: before (uncached read + the rest of this probe) and now. */
  dbShareOfProbe: { before: number; now: number };
  historyEventsPerInterval: number;
  eventTypes: Record<string, number>;
  actionsPerInterval: { activities: number; timers: number; signals: number; total: number };
}

export interface MonitorScaleBenchResult {
  totalVms: number;
  intervalSeconds: number;
  setup: { serverCreateSeconds: number; dbInsertSeconds: number };
  clouds: CloudIntervalFigures[];
  monitor: { apiCalls: number; actions: number; historyEvents: number; maxProbeWallMs: number };
  naive: {
    sampled: number;
    sampleSimRequests: number;
    meanGetMs: number;
    /** Extrapolated to totalVms. */
    apiCalls: number;
    sumOfGetSeconds: number;
    actions: number;
    historyEvents: number;
  };
  ratio: { apiCalls: number; actions: number; historyEvents: number };
  guests?: GuestPhaseFigures;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const EventType = temporal.api.enums.v1.EventType;
const ACTION_EVENTS = {
  activities: EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  timers: EventType.EVENT_TYPE_TIMER_STARTED,
  signals: EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
} as const;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

function computeOf(sim: OpenStackSimulator): ComputeClient {
  return new ComputeClient(new OpenStackSession({ ...sim.credentials, authUrl: sim.authUrl }, { tokenCache: new TokenCache() }));
}

/** `count` ACTIVE servers in the simulator's demo project (quota raised), made through Nova. */
async function makeServers(sim: OpenStackSimulator, count: number, deadline: number, withAddresses: boolean): Promise<string[]> {
  await simAdmin(sim.url, 'PATCH', '/quotas', { project: sim.credentials.projectName, instances: count + 10, cores: count * 4, ram: count * 4096 });
  const state = await simAdmin(sim.url, 'GET', '/state');
  const image = state.images.items.find((i: { name: string }) => i.name === 'ubuntu-24.04');
  const compute = computeOf(sim);
  const ids: string[] = [];
  await pool(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
    // Guests answer on their server's address: those servers get a port on the private network.
    ids.push((await compute.createServer({ name: `bench-${i}`, flavorRef: '1', imageRef: image.id, networks: withAddresses ? 'auto' : 'none' })).id);
  });
  while ((await simAdmin(sim.url, 'GET', '/state')).servers.byStatus.ACTIVE !== count) {
    if (Date.now() > deadline) throw new Error('servers did not all become ACTIVE in time');
    await sleep(100);
  }
  return ids;
}

async function insertProtectedVms(db: MongoConnection, accountId: string, cloud: number, serverIds: string[]): Promise<void> {
  const now = new Date();
  for (let i = 0; i < serverIds.length; i += 1000) {
    const chunk = serverIds.slice(i, i + 1000).map((serverId, j) => ({ vmId: `bench-c${cloud}-vm-${String(i + j).padStart(5, '0')}`, serverId }));
    await vmModel(db).insertMany(
      chunk.map(({ vmId, serverId }) => ({
        _id: vmId,
        ownerId: 'bench-owner',
        name: vmId,
        cloud: 'openstack',
        accountId,
        requirements: {},
        state: 'active',
        placement: { cloud: 'openstack', accountId, serverId },
        workflowIds: [],
        history: [],
        createdAt: now,
        updatedAt: now,
      })),
      { lean: true },
    );
    await db.collection(DR_PROTECTIONS_COLLECTION).insertMany(chunk.map(({ vmId }) => ({ _id: vmId, ownerId: 'bench-owner', enabled: true })) as never);
  }
}

/** Events of one steady interval: after one TimerFired up to and including the next. */
function steadyInterval(events: temporal.api.history.v1.IHistoryEvent[]): temporal.api.history.v1.IHistoryEvent[] {
  const fired = events.flatMap((e, i) => (e.eventType === EventType.EVENT_TYPE_TIMER_FIRED ? [i] : []));
  if (fired.length < 2) throw new Error(`need two timer firings in the monitor's history, found ${fired.length}`);
  return events.slice(fired[fired.length - 2] + 1, fired[fired.length - 1] + 1);
}

export async function runMonitorScaleBench(opts: MonitorScaleBenchOptions = {}): Promise<MonitorScaleBenchResult> {
  const vmsPerCloud = opts.vmsPerCloud ?? 5000;
  const cloudCount = opts.clouds ?? 2;
  const sampleSize = Math.min(opts.naiveSample ?? 500, vmsPerCloud * cloudCount);
  const intervalSeconds = opts.intervalSeconds ?? 5;
  const withGuests = opts.guests !== false;
  const deadline = Date.now() + (opts.deadlineMs ?? 10 * 60_000);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'silent', 'bench-monitor-scale');
  const keyring = keyringOf(generateKey());
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
  } catch {
    // installed already (run from another bench)
  }

  const stack = await startStack();
  const sims: OpenStackSimulator[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    // Each simulator serves its servers' guests on its own port (both map 10.0.x.y to 127.0.x.y).
    const guestPorts: number[] = [];
    for (let i = 0; i < cloudCount; i++) {
      guestPorts.push(await freePort());
      sims.push(await startOpenStackSimulator({ timings: 'fast', logger, privatePrefixLength: 16, ...(withGuests ? { guests: { ports: [guestPorts[i]], addressMap: GUEST_MAP } } : {}) }));
    }
    // The accounts are members': the outbound guard must let the simulators' APIs through, and
    // (guest checks of a member's VMs are held to it too) the simulated private range.
    for (const sim of sims) allowSimulators({ openstack: sim });
    if (withGuests) process.env.VMFLOW_OUTBOUND_ALLOW = [process.env.VMFLOW_OUTBOUND_ALLOW, '10.0.0.0/16'].filter(Boolean).join(',');
    let t0 = Date.now();
    const serverIds: string[][] = [];
    for (const sim of sims) serverIds.push(await makeServers(sim, vmsPerCloud, deadline, withGuests));
    const serverCreateSeconds = (Date.now() - t0) / 1000;

    const db = await connectDatabase(stack.mongoUri);
    cleanup.push(() => db.close());
    const store = new CloudAccountStore(db, keyring);
    const accountIds: string[] = [];
    t0 = Date.now();
    for (const [i, sim] of sims.entries()) {
      const c = sim.credentials;
      const view = await store.createForMember('bench-owner', { kind: 'openstack', name: `bench-cloud-${i + 1}`, authUrl: sim.authUrl, region: c.region, projectName: c.projectName, projectDomainName: c.projectDomainName, username: c.username, userDomainName: c.userDomainName, password: c.password });
      accountIds.push(view.id);
      await insertProtectedVms(db, view.id, i + 1, serverIds[i]);
    }
    const dbInsertSeconds = (Date.now() - t0) / 1000;

    const connection = await Connection.connect({ address: stack.temporalAddress });
    cleanup.push(() => connection.close());
    const client = new Client({ connection, namespace: stack.namespace, dataConverter: createDataConverter(keyring) });
    const taskQueue = `bench-monitor-${crypto.randomBytes(4).toString('hex')}`;
    await startBenchWorker(
      { address: stack.temporalAddress, namespace: stack.namespace, taskQueue, keyring, deps: { db, logger, cloudAccounts: new CloudAccountResolver({ db, keyring, logger }), temporalClient: client, guestAddressMap: GUEST_MAP } },
      cleanup,
    );

    const requestsBefore = await Promise.all(sims.map(async (s) => (await simAdmin(s.url, 'GET', '/state')).requests.total as number));
    const startMonitors = (interval: number) =>
      Promise.all(
        accountIds.map((accountId) =>
          client.workflow.start(CLOUD_MONITOR_WORKFLOW, {
            taskQueue,
            workflowId: cloudMonitorWorkflowId(accountId),
            args: [{ accountId, settings: { intervalSeconds: interval, failureThreshold: 3, successThreshold: 2 } }],
          }),
        ),
      );
    /** Waits until every monitor has made `checks` checks and waits for the next; their statuses. */
    const afterChecks = async (handles: Awaited<ReturnType<typeof startMonitors>>, checks: number) => {
      const out: MonitorStatus[] = [];
      for (const m of handles) {
        for (;;) {
          if (Date.now() > deadline) throw new Error(`the monitors did not complete ${checks} checks before the deadline`);
          const st = await m.query<MonitorStatus>(MONITOR_STATUS_QUERY);
          if (st.checks >= checks && st.phase === 'waiting') {
            out.push(st);
            break;
          }
          await sleep(100);
        }
      }
      return out;
    };
    /** CPU of this process per monitor interval, over two steady intervals (checks 2 → 4). */
    const cpuPerInterval = async (handles: Awaited<ReturnType<typeof startMonitors>>) => {
      await afterChecks(handles, 2);
      const c0 = process.cpuUsage();
      const statuses = await afterChecks(handles, 4);
      const c = process.cpuUsage(c0);
      return { statuses, cpuMs: round((c.user + c.system) / 1000 / 2) };
    };
    const monitors = await startMonitors(intervalSeconds);
    cleanup.unshift(() => Promise.allSettled(monitors.map((m) => m.terminate('bench over'))));

    // Four checks each: the first (token issue) and three steady ones; CPU over the last two.
    const { statuses, cpuMs: cpuWithout } = await cpuPerInterval(monitors);
    await Promise.all(monitors.map((m) => m.terminate('bench measured')));
    const requestsAfter = await Promise.all(sims.map(async (s) => (await simAdmin(s.url, 'GET', '/state')).requests.total as number));

    // Before/after of the probe's database read, same run: the uncached read timed directly.
    const uncachedDbMs: number[] = [];
    for (const accountId of accountIds) {
      const t = Date.now();
      await loadProtectedVms(db, accountId);
      uncachedDbMs.push(Date.now() - t);
    }

    // Phase 2 (issue 17, item 1): a TCP guest check on every VM, the monitors again.
    let guests: GuestPhaseFigures | undefined;
    if (withGuests) {
      const guestInterval = Math.max(5, intervalSeconds);
      // Written anew in bulk: FerretDB's SQLite backend updates a filtered set one document at a
      // time (an updateMany of 5,000 protections took minutes), an insertMany is one statement.
      const protections = db.collection(DR_PROTECTIONS_COLLECTION);
      await protections.deleteMany({});
      for (const [i, ids] of serverIds.entries()) {
        for (let j = 0; j < ids.length; j += 1000) {
          await protections.insertMany(
            ids.slice(j, j + 1000).map((_, k) => ({ _id: `bench-c${i + 1}-vm-${String(j + k).padStart(5, '0')}`, ownerId: 'bench-owner', enabled: true, healthCheck: { protocol: 'tcp', port: guestPorts[i], intervalSeconds: guestInterval, timeoutSeconds: 2 } })) as never,
          );
        }
      }
      await markProtectedSetChanged(db);
      const again = await startMonitors(guestInterval);
      cleanup.unshift(() => Promise.allSettled(again.map((m) => m.terminate('bench over'))));
      const first = await afterChecks(again, 1);
      const { statuses: st, cpuMs } = await cpuPerInterval(again);
      await Promise.all(again.map((m) => m.terminate('bench measured')));
      const perCloud = st.map((x, i) => {
        const g = x.lastProbe?.guests;
        if (!x.lastProbe?.cloudOk || !g) throw new Error(`cloud ${i + 1}: no guest figures in the last probe (${x.lastProbe?.cloudDetail ?? x.lastError})`);
        return { apiCallsPerInterval: x.lastProbe.apiCalls, probeWallMs: x.lastProbe.elapsedMs, guestMs: g.elapsedMs, checked: g.checked, failing: g.failing, inconclusive: g.inconclusive, refused: g.refused };
      });
      guests = {
        intervalSeconds: guestInterval,
        clouds: perCloud,
        apiCalls: { without: statuses.reduce((a, x) => a + (x.lastProbe?.apiCalls ?? 0), 0), with: perCloud.reduce((a, c) => a + c.apiCallsPerInterval, 0) },
        processCpuMsPerInterval: { without: cpuWithout, with: cpuMs },
        firstCheckProbeMs: Math.max(...first.map((x) => x.lastProbe?.elapsedMs ?? 0)),
      };
    }

    const clouds: CloudIntervalFigures[] = [];
    for (const [i, m] of monitors.entries()) {
      const s = statuses[i];
      if (!s.lastProbe?.cloudOk) throw new Error(`cloud ${i + 1} check failed: ${s.lastProbe?.cloudDetail ?? s.lastError}`);
      const history = await m.fetchHistory();
      const interval = steadyInterval(history.events ?? []);
      const eventTypes: Record<string, number> = {};
      for (const e of interval) {
        const name = EventType[e.eventType ?? 0].replace(/^EVENT_TYPE_/, '');
        eventTypes[name] = (eventTypes[name] ?? 0) + 1;
      }
      const count = (t: number) => interval.filter((e) => e.eventType === t).length;
      const actions = { activities: count(ACTION_EVENTS.activities), timers: count(ACTION_EVENTS.timers), signals: count(ACTION_EVENTS.signals), total: 0 };
      actions.total = actions.activities + actions.timers + actions.signals;
      clouds.push({
        accountId: accountIds[i],
        protectedVms: s.protectedCount ?? 0,
        serversListed: s.lastProbe.serversListed,
        apiCallsPerInterval: s.lastProbe.apiCalls,
        simRequestsPerCheck: round((requestsAfter[i] - requestsBefore[i]) / s.checks, 2),
        checks: s.checks,
        probeWallMs: s.lastProbe.elapsedMs,
        probeDbMs: s.lastProbe.dbMs,
        probeDbCached: s.lastProbe.dbCached === true,
        uncachedDbMs: uncachedDbMs[i],
        dbShareOfProbe: {
          before: round(uncachedDbMs[i] / (s.lastProbe.elapsedMs - s.lastProbe.dbMs + uncachedDbMs[i]), 3),
          now: round(s.lastProbe.dbMs / Math.max(1, s.lastProbe.elapsedMs), 3),
        },
        historyEventsPerInterval: interval.length,
        eventTypes,
        actionsPerInterval: actions,
      });
    }

    // Naive baseline: one GET /servers/{id} per VM, measured on a sample spread over the clouds.
    const perCloud = Math.ceil(sampleSize / sims.length);
    let sampled = 0;
    let getMs = 0;
    let sampleSimRequests = 0;
    for (const [i, sim] of sims.entries()) {
      const compute = computeOf(sim);
      await compute.getServer(serverIds[i][0]); // token issue, not part of the per-VM cost
      const before = (await simAdmin(sim.url, 'GET', '/state')).requests.total as number;
      const t = Date.now();
      const ids = serverIds[i].slice(0, Math.min(perCloud, sampleSize - sampled));
      for (const id of ids) await compute.getServer(id);
      getMs += Date.now() - t;
      sampled += ids.length;
      sampleSimRequests += ((await simAdmin(sim.url, 'GET', '/state')).requests.total as number) - before;
    }
    const totalVms = vmsPerCloud * cloudCount;
    const meanGetMs = getMs / sampled;
    const perMonitorInterval = clouds[0];
    const naive = {
      sampled,
      sampleSimRequests,
      meanGetMs: round(meanGetMs, 2),
      apiCalls: Math.round((sampleSimRequests / sampled) * totalVms),
      sumOfGetSeconds: round((meanGetMs * totalVms) / 1000, 1),
      actions: perMonitorInterval.actionsPerInterval.activities * totalVms + perMonitorInterval.actionsPerInterval.timers * totalVms,
      historyEvents: perMonitorInterval.historyEventsPerInterval * totalVms,
    };
    const monitor = {
      apiCalls: clouds.reduce((a, c) => a + c.apiCallsPerInterval, 0),
      actions: clouds.reduce((a, c) => a + c.actionsPerInterval.total, 0),
      historyEvents: clouds.reduce((a, c) => a + c.historyEventsPerInterval, 0),
      maxProbeWallMs: Math.max(...clouds.map((c) => c.probeWallMs)),
    };
    const result: MonitorScaleBenchResult = {
      totalVms,
      intervalSeconds,
      setup: { serverCreateSeconds: round(serverCreateSeconds), dbInsertSeconds: round(dbInsertSeconds) },
      clouds,
      monitor,
      naive,
      ratio: { apiCalls: round(naive.apiCalls / monitor.apiCalls), actions: round(naive.actions / monitor.actions), historyEvents: round(naive.historyEvents / monitor.historyEvents) },
      ...(guests ? { guests } : {}),
    };
    if (opts.print !== false) printReport(result);
    return result;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
    await Promise.allSettled(sims.map((s) => s.stop()));
    await stack.stop();
  }
}

function printReport(r: MonitorScaleBenchResult): void {
  const out: string[] = [];
  out.push('', `cloud monitor scale: ${r.clouds.length} cloud(s), ${r.totalVms} protected VMs, interval ${r.intervalSeconds} s, all servers ACTIVE (steady state)`);
  out.push(`  setup: ${r.totalVms} servers through Nova in ${r.setup.serverCreateSeconds} s; VM + protection documents in ${r.setup.dbInsertSeconds} s`);
  out.push('  per interval, per cloud (measured):');
  for (const [i, c] of r.clouds.entries()) {
    out.push(
      `    cloud ${i + 1}: ${c.protectedVms} protected VMs, ${c.serversListed} servers listed; ${c.apiCallsPerInterval} API calls (simulator: ${c.simRequestsPerCheck} per check over ${c.checks} checks, the first one issuing the token); ` +
        `probe ${c.probeWallMs} ms (MongoDB ${c.probeDbMs} ms${c.probeDbCached ? ', protected set kept' : ''}; uncached read ${c.uncachedDbMs} ms: DB share of the probe ${Math.round(c.dbShareOfProbe.before * 100)} % before → ${Math.round(c.dbShareOfProbe.now * 100)} % now); ${c.historyEventsPerInterval} history events; ${c.actionsPerInterval.total} Temporal actions ` +
        `(${c.actionsPerInterval.activities} activity, ${c.actionsPerInterval.timers} timer, ${c.actionsPerInterval.signals} signals)`,
    );
    out.push(`      events: ${Object.entries(c.eventTypes).map(([k, v]) => `${k}×${v}`).join(', ')}`);
  }
  out.push(`  monitor design, all clouds, per interval: ${r.monitor.apiCalls} API calls, ${r.monitor.actions} actions, ${r.monitor.historyEvents} history events; slowest probe ${r.monitor.maxProbeWallMs} ms`);
  out.push(
    `  naive per-VM design, per interval — EXTRAPOLATED from ${r.naive.sampled} real GET /servers/{id} calls (${r.naive.sampleSimRequests} simulator requests, mean ${r.naive.meanGetMs} ms) to ${r.totalVms} VMs, ` +
      `with one activity + one timer per VM costing what one monitor interval costs: ${r.naive.apiCalls} API calls (${r.naive.sumOfGetSeconds} s of calls), ${r.naive.actions} actions, ${r.naive.historyEvents} history events`,
  );
  out.push(`  ratio naive / monitor: API calls ×${r.ratio.apiCalls}, actions ×${r.ratio.actions}, history events ×${r.ratio.historyEvents}`);
  if (r.guests) {
    const g = r.guests;
    out.push(`  with a TCP guest check on every VM (interval ${g.intervalSeconds} s): cloud API calls per interval ${g.apiCalls.without} → ${g.apiCalls.with}${g.apiCalls.with === g.apiCalls.without ? ' (unchanged)' : ' (CHANGED)'}; first check (every guest armed, recorded once) ${g.firstCheckProbeMs} ms`);
    for (const [i, c] of g.clouds.entries()) out.push(`    cloud ${i + 1}: probe ${c.probeWallMs} ms, of which guest checks ${c.guestMs} ms: ${c.checked} checked, ${c.failing} failing, ${c.inconclusive} inconclusive, ${c.refused} refused`);
    out.push(`    CPU of the bench process (worker + simulators serving the guests) per interval: ${g.processCpuMsPerInterval.without} ms without → ${g.processCpuMsPerInterval.with} ms with guest checks`);
  }
  out.push('');
  console.log(out.join('\n'));
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  exitWhenDone(
    runMonitorScaleBench({ vmsPerCloud: numberFlag(argv, '--vms'), clouds: numberFlag(argv, '--clouds'), naiveSample: numberFlag(argv, '--sample'), intervalSeconds: numberFlag(argv, '--interval'), guests: !argv.includes('--no-guests') }),
    undefined,
    'monitor-scale',
  );
}
