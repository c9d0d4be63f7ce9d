/**
 * `npm run bench`: every benchmark in one process, one after another, each measured against a
 * baseline taken in the same run (never a number remembered from another machine or day):
 *
 *   image-export   exportImageToStore MiB/s vs a bare HTTP copy of the same bytes; peak RSS
 *   monitor-scale  per-interval cloud API calls and Temporal actions of the per-cloud monitor vs
 *                  the naive one-check-per-VM design (10,000 protected VMs on two clouds)
 *   api-latency    GET /vms, GET /vms/:id, POST /vms p50/p99 at a fixed 200 requests/s vs a bare
 *                  Express handler doing one indexed operation on the same database
 *   orchestration  create-VM and backup-run wall time through the REST API vs a bare Temporal
 *                  workflow making the same cloud calls; 500 creates at once with 1, 2, 4 worker
 *                  processes vs bare
 *   rto            RTO / RPO distribution of 20 end-to-end failovers vs the detection budget
 *                  (monitor interval × failure threshold)
 *   login-flood    login p99 while 50 sign-ups hash passwords, with the hashing gate vs without
 *   environments   create and destroy wall time of 3- and 10-member environments vs their members
 *                  alone (the slowest: parallel efficiency; the sum: the serial baseline)
 *   console        the web console's shipped JavaScript gzipped and My VMs' render time with 500
 *                  VMs in headless Chromium, vs their budgets (300 KB, 1 s)
 *
 * Each benchmark prints its own table; a summary follows, and the figures go as JSON to stdout and
 * to <VMFLOW_DATA_DIR>/bench/latest.json (plus a timestamped copy). Modules are imported only when
 * their benchmark runs, so one that is missing or broken is reported "not available" and the
 * others still run.
 *
 *   npm run bench [-- --quick] [-- --only rto[,image-export]]
 *
 * Bounded: every benchmark has its own deadline and cleans up after itself; a watchdog ends the run
 * (exit 2) if the whole of it ever overruns, so the command always stops by itself.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';

type Status = 'ok' | 'incomplete' | 'failed' | 'not available';

interface Summary {
  /** What was measured, and what it is compared with (both from this run). */
  measured: string;
  baseline: string;
  ratio: string;
}

interface BenchOutcome {
  status: Status;
  seconds: number;
  summary?: Summary;
  result?: unknown;
  error?: string;
}

interface BenchSpec {
  name: string;
  title: (quick: boolean) => string;
  run: (ctx: { quick: boolean; outDir: string }) => Promise<{ result: unknown; summary: Summary; incomplete?: string }>;
}

/** A benchmark module's export, or a reason it is not there (module missing, export missing). */
async function load<T>(modulePath: string, exportName: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modulePath)) as Record<string, unknown>;
  } catch (err) {
    throw new NotAvailable(`${modulePath} could not be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
  const fn = mod[exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof fn !== 'function') throw new NotAvailable(`${modulePath} does not export ${exportName}()`);
  return fn as T;
}

class NotAvailable extends Error {}

const BENCHES: BenchSpec[] = [
  {
    name: 'console',
    title: () => 'web console: shipped JavaScript gzipped, and My VMs with 500 VMs in headless Chromium',
    async run() {
      const run = await load<typeof import('./console').runConsoleBench>('./console', 'runConsoleBench');
      const r = await run({ vms: 500 });
      const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
      return {
        result: r,
        summary: {
          measured: `JS ${kb(r.js.gzipBytes)} gzipped; My VMs (500) ${r.render.rowsMs} ms to the rows in view (list fetched at ${r.render.listFetchedMs} ms)`,
          baseline: `budgets: ${kb(r.js.budgetBytes)} gzipped, ${r.render.budgetMs} ms`,
          ratio: `JS ×${(r.js.gzipBytes / r.js.budgetBytes).toFixed(2)} of budget; render ×${(r.render.rowsMs / r.render.budgetMs).toFixed(2)} of budget`,
        },
      };
    },
  },
  {
    name: 'image-export',
    title: (quick) => `image export: exportImageToStore vs a raw HTTP copy, ${quick ? 64 : 1024} MiB`,
    async run({ quick }) {
      const run = await load<typeof import('./image-export').runImageExportBench>('./image-export', 'runImageExportBench');
      const r = await run({ sizeMiB: quick ? 64 : 1024, runs: 1 });
      return {
        result: r,
        summary: {
          measured: `exportImageToStore ${r.activity.mibPerSec} MiB/s, peak RSS ${r.peakRssMiB} MiB`,
          baseline: `raw undici GET→PUT ${r.baseline.mibPerSec} MiB/s`,
          ratio: `${r.ratio} × raw speed`,
        },
      };
    },
  },
  {
    name: 'monitor-scale',
    title: (quick) => `cloud monitor scale: ${quick ? '2 × 250' : '2 × 5000'} protected VMs`,
    async run({ quick }) {
      const run = await load<typeof import('./monitor-scale').runMonitorScaleBench>('./monitor-scale', 'runMonitorScaleBench');
      const r = await run(quick ? { vmsPerCloud: 250, clouds: 2, naiveSample: 100, intervalSeconds: 2, deadlineMs: 4 * 60_000 } : { vmsPerCloud: 5000, clouds: 2, naiveSample: 500, intervalSeconds: 5, deadlineMs: 12 * 60_000 });
      return {
        result: r,
        summary: {
          measured:
            `monitor: ${r.monitor.apiCalls} API calls, ${r.monitor.actions} actions / interval (${r.totalVms} VMs)` +
            (r.guests ? `; with a guest check on every VM: ${r.guests.apiCalls.with} API calls, probe ≤ ${Math.max(...r.guests.clouds.map((c) => c.probeWallMs))} ms, process CPU ${r.guests.processCpuMsPerInterval.with} ms / interval` : ''),
          baseline: `naive per-VM: ${r.naive.apiCalls} API calls, ${r.naive.actions} actions` + (r.guests ? `; without guest checks: ${r.guests.apiCalls.without} API calls, CPU ${r.guests.processCpuMsPerInterval.without} ms / interval` : ''),
          ratio: `naive ÷ monitor: API ×${r.ratio.apiCalls}, actions ×${r.ratio.actions}` + (r.guests ? `; guest checks: API calls ×${Math.round((r.guests.apiCalls.with / Math.max(1, r.guests.apiCalls.without)) * 100) / 100}` : ''),
        },
      };
    },
  },
  {
    name: 'api-latency',
    title: (quick) => `API latency: GET /vms, GET /vms/:id, POST /vms at 200 requests/s for ${quick ? 10 : 60} s each, 1000 VMs stored, vs a bare Express handler`,
    async run({ quick }) {
      const run = await load<typeof import('./api-latency').runApiLatencyBench>('./api-latency', 'runApiLatencyBench');
      const r = await run({ rate: 200, durationSeconds: quick ? 10 : 60, vmsStored: 1000, memberVms: 30 });
      const fmt = (p: (typeof r.phases)[number]) => `${p.path} p50 ${p.vmflow.latencyMs.p50} / p99 ${p.vmflow.latencyMs.p99} ms, ${p.vmflow.errorCount} errors`;
      return {
        result: r,
        summary: {
          measured: r.phases.map(fmt).join('; '),
          baseline: `bare: ${r.phases.map((p) => `${p.route} p50 ${p.bare.latencyMs.p50} / p99 ${p.bare.latencyMs.p99} ms`).join('; ')}`,
          ratio: r.phases.map((p) => `${p.route} p99 ×${p.ratio.p99}`).join(', '),
        },
      };
    },
  },
  {
    name: 'orchestration',
    title: (quick) => `orchestration overhead (create and backup) and concurrent creates: ${quick ? '3 sequential creates, 2 backups, 50 at once with 1, 2 workers' : '10 sequential creates, 5 backups, 500 at once with 1, 2, 4 workers'}, vs a bare Temporal workflow`,
    async run({ quick }) {
      const run = await load<typeof import('./orchestration').runOrchestrationBench>('./orchestration', 'runOrchestrationBench');
      const r = await run(quick ? { sequential: 3, backups: 2, concurrent: 50, workerCounts: [1, 2] } : { sequential: 10, backups: 5, concurrent: 500, workerCounts: [1, 2, 4] });
      const bare = r.concurrent.find((p) => p.design === 'bare');
      return {
        result: r,
        summary: {
          measured: `create p50 ${r.overhead.vmflowMs.p50} ms; ${r.backup ? `backup p50 ${r.backup.vmflowMs.p50} ms; ` : ''}${r.concurrent.filter((p) => p.design === 'vmflow').map((p) => `${p.completed} at once, ${p.workers} worker(s): ${p.completionsPerSecond}/s, p99 ${Math.round(p.timeToActiveMs.p99 / 100) / 10} s`).join('; ')}`,
          baseline: `bare workflow: create p50 ${r.overhead.bareMs.p50} ms; ${r.backup ? `backup p50 ${r.backup.bareMs.p50} ms; ` : ''}${bare?.completionsPerSecond}/s at once`,
          ratio: `overhead ×${r.overhead.ratioP50}${r.backup ? `, backup ×${r.backup.ratioP50}` : ''}; throughput vs bare ${r.ratios.map((x) => `${x.workers}w ×${x.vsBare}`).join(', ')}`,
        },
        incomplete: r.skippedWorkerCounts?.length ? `the deadline left the ${r.skippedWorkerCounts.join(', ')}-worker phase(s) unmeasured` : r.concurrent.some((p) => p.completed < p.submitted) ? 'some creates did not complete before the deadline' : undefined,
      };
    },
  },
  {
    name: 'environments',
    title: (quick) => `environments: create and destroy of Web-App-DB, a 3-member and a ${quick ? 4 : 10}-member OverCloud vs their members alone (realistic simulator timings)`,
    async run({ quick }) {
      const run = await load<typeof import('./environments').runEnvironmentBench>('./environments', 'runEnvironmentBench');
      const r = await run({ nodes: quick ? 3 : 9, deadlineMs: quick ? 12 * 60_000 : 25 * 60_000 });
      return {
        result: r,
        summary: {
          measured: r.cases.map((c) => `${c.name}: create ${c.createSeconds} s, destroy ${c.destroySeconds} s`).join('; '),
          baseline: r.cases.map((c) => `slowest member alone ${c.baseline.slowestCreateSeconds} / ${c.baseline.slowestDeleteSeconds} s, sum ${c.baseline.sumCreateSeconds} / ${c.baseline.sumDeleteSeconds} s`).join('; '),
          ratio: r.cases.map((c) => `create ÷ slowest ×${c.ratio.createToSlowest}, ÷ chain ×${c.ratio.createToChain}, ÷ sum ×${c.ratio.createToSum}; destroy ÷ slowest ×${c.ratio.destroyToSlowest}, ÷ chain ×${c.ratio.destroyToChain}, ÷ sum ×${c.ratio.destroyToSum}`).join('; '),
        },
      };
    },
  },
  {
    name: 'rto',
    title: (quick) => `RTO distribution: ${quick ? '2 + 2' : '10 + 10'} end-to-end failovers`,
    async run({ quick, outDir }) {
      const run = await load<typeof import('./rto').runRtoBench>('./rto', 'runRtoBench');
      const r = await run({
        brokenVms: quick ? 2 : 10,
        outageVms: quick ? 2 : 10,
        intervalSeconds: 2,
        failureThreshold: 2,
        deadlineMs: quick ? 4 * 60_000 : 9 * 60_000,
        logFile: path.join(outDir, 'rto-system.log'),
      });
      const all = r.scenarios.all;
      return {
        result: r,
        summary: all
          ? {
              measured: `RTO p50 ${all.rto.p50} / p95 ${all.rto.p95} / max ${all.rto.max} s over ${all.n} failovers; RPO max ${all.rpo.max} s`,
              baseline: `detection budget ${r.config.intervalSeconds} s × ${r.config.failureThreshold} = ${r.config.detectionBudgetSeconds} s`,
              ratio: `RTO ÷ budget p50 ${all.rtoOverDetectionBudget.p50} / p95 ${all.rtoOverDetectionBudget.p95} / max ${all.rtoOverDetectionBudget.max}`,
            }
          : { measured: 'no failover completed', baseline: `detection budget ${r.config.detectionBudgetSeconds} s`, ratio: '—' },
        incomplete: r.incomplete.length ? `${r.incomplete.length} failover(s) did not complete: ${r.incomplete.map((i) => i.workflowId).join(', ')}` : undefined,
      };
    },
  },
  {
    name: 'login-flood',
    title: (quick) => `login latency while ${quick ? 20 : 50} sign-ups hash passwords: hashing gate vs none`,
    async run({ quick }) {
      const run = await load<typeof import('./login-flood').runLoginFloodBench>('./login-flood', 'runLoginFloodBench');
      const r = await run({ signups: quick ? 20 : 50 });
      return {
        result: r,
        summary: {
          measured: `login p99 ${r.gated.p99} ms during ${r.signups} sign-ups (gate of ${r.gated.concurrency}); ${r.idle.p99} ms with no flood`,
          baseline: `no gate: login p99 ${r.ungated.p99} ms`,
          ratio: `no gate ÷ gate ×${r.gated.p99 ? Math.round((r.ungated.p99 / r.gated.p99) * 10) / 10 : '—'}`,
        },
      };
    },
  },
];

function parseArgs(argv: string[]): { quick: boolean; only?: string[] } {
  let quick = false;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) throw new Error('--only needs a benchmark name');
      only = [...(only ?? []), ...v.split(',').map((s) => s.trim()).filter(Boolean)];
    } else if (a === '--help' || a === '-h') {
      console.log(`usage: npm run bench [-- --quick] [-- --only <${BENCHES.map((b) => b.name).join('|')}>[,…]]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})`);
  return { quick, only };
}

function gitCommit(): string | undefined {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return undefined;
  }
}

function printSummary(outcomes: Record<string, BenchOutcome>): void {
  const rows: string[][] = [['benchmark', 'status', 'time', 'measured', 'baseline', 'ratio']];
  for (const [name, o] of Object.entries(outcomes)) {
    rows.push([name, o.status, `${o.seconds.toFixed(0)} s`, o.summary?.measured ?? o.error ?? '', o.summary?.baseline ?? '', o.summary?.ratio ?? '']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log('\n== summary ==');
  for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`);
  for (const [name, o] of Object.entries(outcomes)) if (o.status === 'incomplete' && o.error) console.log(`  ${name}: ${o.error}`);
}

async function main(): Promise<number> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const outDir = path.join(loadConfig().dataDir, 'bench');
  fs.mkdirSync(outDir, { recursive: true });
  const selected = BENCHES.filter((b) => !only || only.includes(b.name));
  const watchdogMs = (quick ? 25 : 75) * 60_000;
  const watchdog = setTimeout(() => {
    console.error(`\nbench: the run exceeded ${watchdogMs / 60_000} minutes; stopping (servers a benchmark started may need killing by hand)`);
    process.exit(2);
  }, watchdogMs);
  watchdog.unref();

  const startedAt = new Date();
  const loadAvgAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  console.log(`vmflow benchmarks${quick ? ' (quick)' : ''}: ${selected.map((b) => b.name).join(', ')} — ${os.cpus().length} CPUs, load ${loadAvgAtStart.join(' ')}, node ${process.version}`);
  const outcomes: Record<string, BenchOutcome> = {};
  for (const b of selected) {
    console.log(`\n== ${b.name}: ${b.title(quick)} ==`);
    const t0 = Date.now();
    try {
      const { result, summary, incomplete } = await b.run({ quick, outDir });
      outcomes[b.name] = { status: incomplete ? 'incomplete' : 'ok', seconds: (Date.now() - t0) / 1000, summary, result, ...(incomplete ? { error: incomplete } : {}) };
    } catch (err) {
      const status: Status = err instanceof NotAvailable ? 'not available' : 'failed';
      const message = err instanceof Error ? err.message : String(err);
      console.log(`${b.name}: ${status}: ${message}`);
      if (status === 'failed' && err instanceof Error && err.stack) console.error(err.stack);
      outcomes[b.name] = { status, seconds: (Date.now() - t0) / 1000, error: message };
    }
  }
  clearTimeout(watchdog);

  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick,
    commit: gitCommit(),
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, loadAvgAtStart },
    benches: outcomes,
  };
  printSummary(outcomes);
  const json = JSON.stringify(report, null, 2);
  const latest = path.join(outDir, 'latest.json');
  fs.writeFileSync(latest, `${json}\n`);
  fs.writeFileSync(path.join(outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`), `${json}\n`);
  console.log(`\n== JSON (also in ${latest}) ==\n${json}`);
  return Object.values(outcomes).some((o) => o.status === 'failed' || o.status === 'incomplete') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
