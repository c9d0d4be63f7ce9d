/**
 * API latency benchmark (issue 13, items 3 and 4): GET /api/v1/vms, GET /api/v1/vms/:id and
 * POST /api/v1/vms at a fixed arrival rate (bench/load.ts, open loop), against a bare Express
 * server doing one indexed operation on the same database (bench/bare-api.ts), in the same run.
 *
 * Boots its own Temporal dev server and FerretDB, a fast OpenStack simulator, and vmflow's own
 * processes as children — the worker (worker/main.ts) and the API (api/main.ts) — plus the bare
 * server, so the load generator does not share their event loop. Then:
 * - one member creates `--member-vms` VMs through the API and the worker runs their createVm
 *   workflows to the end (these are the VMs read: closed workflows, as in a console);
 * - `--vms` VM documents are stored in all (the rest belong to 50 other members);
 * - for each route, vmflow then the bare server get `--rate` requests/s for `--duration` s
 *   (reads spread over the member's VMs, with the member's session); the API process's CPU and
 *   peak RSS are sampled per phase;
 * - the worker is stopped before the POST phase: creates are accepted (202) and wait in Temporal,
 *   so POST measures what the API does (validation, insert, workflow start), not the clouds.
 *
 * Phases run read, create, list (the bare list scans every VM document and can leave FerretDB busy).
 *
 *   tsx bench/api-latency.ts [--rate 200] [--duration 60] [--vms 1000] [--member-vms 30] [--routes read,create,list]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { formatKeyring, generateKey, keyringOf } from '../src/secrets/keyring';
import { connectDatabase } from '../src/db/connection';
import { freePort } from '../src/embedded/processes';
import { sleep } from '../src/sleep';
import { startOpenStackSimulator } from '../src/sim/openstack';
import { createLogger } from '../src/logger';
import { vmModel } from '../src/vms/model';
import { allowSimulators, simAdmin } from '../test/harness/clouds';
import { startStack } from '../test/harness/stack';
import { signupAndLogin } from '../test/harness/users';
import { exitWhenDone, numberFlag } from './cli';
import { openLoop, type LoadResult } from './load';
import { answers, benchLogDir, startChild, UsageMeter, vmflowChildEnv, type BenchChild } from './procs';

export type ApiRoute = 'list' | 'read' | 'create';
/** In this order: the bare list (a scan of every VM document on FerretDB) can leave the database busy after it. */
const ALL_ROUTES: ApiRoute[] = ['read', 'create', 'list'];

export interface ApiLatencyBenchOptions {
  rate?: number;
  durationSeconds?: number;
  vmsStored?: number;
  memberVms?: number;
  routes?: ApiRoute[];
  deadlineMs?: number;
  print?: boolean;
}

export interface RoutePhase {
  route: ApiRoute;
  path: string;
  vmflow: LoadResult & { apiProcess: { cpuPercent: number; cpuSeconds: number; peakRssMiB: number } };
  bare: LoadResult;
  /** vmflow ÷ bare, p50 and p99. */
  ratio: { p50: number; p99: number };
}

export interface ApiLatencyBenchResult {
  rate: number;
  durationSeconds: number;
  vmsStored: number;
  memberVms: number;
  setup: { createSeconds: number };
  phases: RoutePhase[];
  logDir: string;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export async function runApiLatencyBench(opts: ApiLatencyBenchOptions = {}): Promise<ApiLatencyBenchResult> {
  const rate = opts.rate ?? 200;
  const durationSeconds = opts.durationSeconds ?? 60;
  const vmsStored = opts.vmsStored ?? 1000;
  const memberVms = Math.min(opts.memberVms ?? 30, vmsStored);
  const routes = opts.routes ?? ALL_ROUTES;
  const deadline = Date.now() + (opts.deadlineMs ?? 20 * 60_000);
  const logDir = benchLogDir('api-latency');
  const say = (m: string) => console.log(`[api-latency] ${m}`);
  const cleanup: Array<() => Promise<unknown>> = [];
  const stack = await startStack();
  cleanup.push(() => stack.stop());
  try {
    const logger = createLogger('silent', 'bench-api-latency');
    const os = await startOpenStackSimulator({ timings: 'fast', logger });
    cleanup.unshift(() => os.stop());
    await simAdmin(os.url, 'PATCH', '/quotas', { project: os.credentials.projectName, instances: memberVms + 10, cores: memberVms * 8, ram: memberVms * 16384 });
    const keyring = keyringOf(generateKey());
    const taskQueue = `bench-api-${crypto.randomBytes(4).toString('hex')}`;
    const [apiPort, barePort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...vmflowChildEnv({ logDir, stack, taskQueue, encryptionKeys: formatKeyring(keyring), apiPort, openstack: os }),
      BARE_PORT: String(barePort),
      VMFLOW_OUTBOUND_ALLOW: allowSimulators({ openstack: os }),
      VMFLOW_POLL_INTERVAL_MS: '100',
    };
    say(`stack up; starting worker, API and bare server (logs in ${logDir})`);
    const worker: BenchChild = await startChild({ name: 'worker', entry: 'worker/main.ts', env, logDir, ready: (out) => out.includes('worker polling'), timeoutMs: 120_000 });
    cleanup.unshift(() => worker.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const api = await startChild({ name: 'api', entry: 'api/main.ts', env, logDir, ready: () => answers(`${apiUrl}/healthz`) });
    cleanup.unshift(() => api.stop());
    const bareUrl = `http://127.0.0.1:${barePort}`;
    const bare = await startChild({ name: 'bare', entry: 'bench/bare-api.ts', env, logDir, ready: (out) => out.includes('bare API listening') });
    cleanup.unshift(() => bare.stop());

    const member = await signupAndLogin(apiUrl, `perf-member-${crypto.randomBytes(3).toString('hex')}`);
    const auth = member.authHeaders;
    // Creates under load are another member's, so the member's list stays the same size.
    const creator = await signupAndLogin(apiUrl, `perf-creator-${crypto.randomBytes(3).toString('hex')}`);
    const db = await connectDatabase(stack.mongoUri);
    cleanup.unshift(() => db.close());
    const Vm = vmModel(db);

    // The member's VMs, made through the API and the worker (closed createVm workflows).
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < memberVms; i++) {
      const res = await fetch(`${apiUrl}/api/v1/vms`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: `bench-${i}`, os: 'ubuntu-24.04', size: 'small', cloud: 'openstack' }) });
      const body = (await res.json()) as { vm: { id: string } };
      if (res.status !== 202) throw new Error(`create ${i}: ${res.status} ${JSON.stringify(body)}`);
      ids.push(body.vm.id);
    }
    for (;;) {
      const active = await Vm.countDocuments({ ownerId: member.userId, state: 'active' });
      const failed = await Vm.countDocuments({ ownerId: member.userId, state: 'failed' });
      if (failed) throw new Error(`${failed} of the member's creates failed (worker log: ${worker.logFile})`);
      if (active === memberVms) break;
      if (Date.now() > deadline) throw new Error(`only ${active} of ${memberVms} VMs active before the deadline`);
      await sleep(250);
    }
    // Their workflows closed (the VM is active a moment before its createVm completes).
    await sleep(2000);
    const createSeconds = (Date.now() - t0) / 1000;
    say(`${memberVms} VMs created through the API in ${createSeconds.toFixed(1)} s; storing ${vmsStored - memberVms} more of 50 other members`);
    const template = await Vm.findById(ids[0]).lean();
    const others = Array.from({ length: vmsStored - memberVms }, (_, i) => ({
      ...template!,
      _id: `bench-other-${i}`,
      ownerId: `bench-other-owner-${i % 50}`,
      name: `other-${i}`,
      workflowIds: [`vm-create:bench-other-${i}`],
    }));
    for (let i = 0; i < others.length; i += 500) await Vm.collection.insertMany(others.slice(i, i + 500) as never);

    /**
     * Requests a server gave up on may still be queued in FerretDB: before the next phase, wait
     * (at most 60 s) until a lookup by _id answers within 50 ms again.
     */
    const drain = async () => {
      const until = Date.now() + 60_000;
      for (;;) {
        const t = performance.now();
        await Vm.findById(ids[0], { _id: 1 }).lean();
        if (performance.now() - t < 50 || Date.now() > until) return;
        await sleep(500);
      }
    };
    const phases: RoutePhase[] = [];
    const durationMs = durationSeconds * 1000;
    for (const route of routes) {
      if (Date.now() + 3 * durationMs > deadline) throw new Error(`no time left for the ${route} phase before the deadline`);
      if (route === 'create') await worker.stop(); // accepted creates wait in Temporal; see the header
      const path = route === 'read' ? '/vms/:id' : '/vms';
      const method = route === 'create' ? 'POST' : 'GET';
      const body = (i: number) => (route === 'create' ? JSON.stringify({ name: `load-${i}`, os: 'ubuntu-24.04', size: 'small', cloud: 'openstack' }) : undefined);
      const suffix = (i: number) => (route === 'read' ? `/${ids[i % ids.length]}` : '');
      const headers = route === 'create' ? { 'content-type': 'application/json' } : undefined;
      say(`${method} ${path}: vmflow at ${rate}/s for ${durationSeconds} s`);
      const meter = new UsageMeter(api.pid);
      const who = route === 'create' ? creator.authHeaders : auth;
      const v = await openLoop({ rate, durationMs, request: (i) => ({ method, url: `${apiUrl}/api/v1${route === 'read' ? '/vms' : path}${suffix(i)}`, headers: { ...who, ...headers }, body: body(i) }) });
      const usage = meter.stop();
      await drain();
      say(`${method} ${path}: bare at ${rate}/s for ${durationSeconds} s`);
      const b = await openLoop({ rate, durationMs, request: (i) => ({ method, url: `${bareUrl}${route === 'read' ? '/vms' : path}${suffix(i)}`, headers: { 'x-owner': route === 'create' ? creator.userId : member.userId, ...headers }, body: body(i) }) });
      phases.push({ route, path: `${method} /api/v1${path}`, vmflow: { ...v, apiProcess: usage }, bare: b, ratio: { p50: r2(v.latencyMs.p50 / b.latencyMs.p50), p99: r2(v.latencyMs.p99 / b.latencyMs.p99) } });
      await drain();
    }
    const result: ApiLatencyBenchResult = { rate, durationSeconds, vmsStored, memberVms, setup: { createSeconds: Math.round(createSeconds * 10) / 10 }, phases, logDir };
    if (opts.print !== false) printReport(result);
    return result;
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
    if (!process.env.VMFLOW_BENCH_KEEP_LOGS) fs.rmSync(logDir, { recursive: true, force: true });
  }
}

function printReport(r: ApiLatencyBenchResult): void {
  const rows: string[][] = [['route', 'server', 'due', 'served/s', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'API CPU %', 'API RSS MiB', 'p50 ×', 'p99 ×']];
  const errs = (l: LoadResult) => (l.errorCount ? `${l.errorCount} (${Object.entries(l.errors).map(([k, n]) => `${k}×${n}`).join(' ')})` : '0');
  for (const p of r.phases) {
    rows.push([p.path, 'vmflow', String(p.vmflow.due), String(p.vmflow.servedPerSecond), errs(p.vmflow), String(p.vmflow.latencyMs.p50), String(p.vmflow.latencyMs.p90), String(p.vmflow.latencyMs.p99), String(p.vmflow.latencyMs.max), String(p.vmflow.apiProcess.cpuPercent), String(p.vmflow.apiProcess.peakRssMiB), String(p.ratio.p50), String(p.ratio.p99)]);
    rows.push(['', 'bare', String(p.bare.due), String(p.bare.servedPerSecond), errs(p.bare), String(p.bare.latencyMs.p50), String(p.bare.latencyMs.p90), String(p.bare.latencyMs.p99), String(p.bare.latencyMs.max), '', '', '', '']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log(`\nAPI latency: ${r.rate} requests/s for ${r.durationSeconds} s each, ${r.vmsStored} VMs stored (the member reading owns ${r.memberVms}, made through the API); open-loop arrivals, latency from the due time`);
  for (const row of rows) console.log(`  ${row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`);
  console.log('');
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--routes');
  const routes = i >= 0 ? (argv[i + 1] ?? '').split(',').map((s) => s.trim()) : undefined;
  if (routes?.some((r) => !ALL_ROUTES.includes(r as ApiRoute))) throw new Error(`--routes takes ${ALL_ROUTES.join(',')}`);
  exitWhenDone(
    runApiLatencyBench({
      rate: numberFlag(argv, '--rate'),
      durationSeconds: numberFlag(argv, '--duration'),
      vmsStored: numberFlag(argv, '--vms'),
      memberVms: numberFlag(argv, '--member-vms'),
      routes: routes as ApiRoute[] | undefined,
    }),
    undefined,
    'api-latency',
  );
}
