/**
 * The soak's own stack, every piece on a free loopback port: Temporal dev server + FerretDB (the
 * test harness's startStack), the OpenStack and CloudStack simulators (fast timings, seeded), the
 * image store and the REST API in this process, and the worker as a CHILD PROCESS
 * (`node --import tsx worker/main.ts`, as deployed) so that it can be SIGKILLed and started again.
 * `stop()` ends all of it; `killChildrenNow()` is the synchronous last resort for process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { ApiDeps } from '../../api/app';
import { startWebServer, type WebServer } from '../../api/server';
import { loadConfig } from '../../src/config';
import { freePort } from '../../src/embedded/processes';
import { connectDatabase } from '../../src/db/connection';
import { ImageStoreClient, startImageStore, type RunningImageStore } from '../../src/imagestore';
import { createLogger, type Logger } from '../../src/logger';
import { formatKeyring, generateKey, keyringOf } from '../../src/secrets/keyring';
import { startCloudStackSimulator, type CloudStackSimulator } from '../../src/sim/cloudstack';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/sim/openstack';
import { connectTemporalClient, type TemporalClientHandle } from '../../src/temporal/client';
import { simulatorEnv } from '../harness/clouds';
import { startStack, type TestStack } from '../harness/stack';

const repoRoot = path.resolve(__dirname, '../..');

export interface SoakTimings {
  monitorIntervalSeconds: number;
  failureThreshold: number;
  successThreshold: number;
  drHealthCheckSeconds: number;
  pollIntervalMs: number;
}

export const SOAK_TIMINGS: SoakTimings = { monitorIntervalSeconds: 2, failureThreshold: 2, successThreshold: 2, drHealthCheckSeconds: 2, pollIntervalMs: 250 };

export class WorkerProcess {
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  readonly logFiles: string[] = [];
  starts = 0;
  /** Between spawn and the first "worker polling" line. */
  starting = false;
  /** When the worker was last killed or last began polling (ms since the epoch). */
  lastChangeAt = 0;

  /** Polling its task queue (alive and past start-up). */
  polling(): boolean {
    return this.alive() && !this.starting;
  }

  /** Killed, starting, or polling for less than `ms`: work it held is still being handed over. */
  recentlyDisturbed(ms: number): boolean {
    return !this.polling() || Date.now() - this.lastChangeAt < ms;
  }

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
  ) {}

  alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.alive() ? this.proc?.pid : undefined;
  }

  /** Starts the worker unless one runs; resolves once it polls its task queue (bounded). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.alive()) return;
    this.starts += 1;
    const logFile = path.join(this.dir, `worker-${this.starts}.log`);
    this.logFiles.push(logFile);
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: repoRoot, env: this.env, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    const deadline = Date.now() + timeoutMs;
    this.starting = true;
    try {
      while (Date.now() < deadline) {
        if (!this.alive()) throw new Error(`the worker exited during start-up (code ${proc.exitCode}, signal ${proc.signalCode}); log ${logFile}:\n${this.logTail()}`);
        if (fs.readFileSync(logFile, 'utf8').includes('worker polling')) {
          this.lastChangeAt = Date.now();
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      this.starting = false;
    }
    throw new Error(`the worker did not start polling within ${timeoutMs} ms; log ${logFile}:\n${this.logTail()}`);
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.alive()) return;
    this.proc!.kill('SIGKILL');
    await this.exited;
    this.lastChangeAt = Date.now();
  }

  killNow(): void {
    if (this.alive()) this.proc!.kill('SIGKILL');
  }

  logTail(lines = 15): string {
    const f = this.logFiles[this.logFiles.length - 1];
    if (!f || !fs.existsSync(f)) return '(no worker log)';
    return fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }
}

export interface SoakSystem {
  dir: string;
  logFile: string;
  logger: Logger;
  stack: TestStack;
  openstack: OpenStackSimulator;
  cloudstack: CloudStackSimulator;
  store: RunningImageStore;
  storeClient: ImageStoreClient;
  temporal: TemporalClientHandle;
  api: WebServer;
  worker: WorkerProcess;
  timings: SoakTimings;
  stop(): Promise<void>;
  killChildrenNow(): void;
}

/** Boots everything; on a failure part-way, stops what was started and rethrows. */
export async function startSoakSystem(opts: { seed: number; say: (line: string) => void; timings?: SoakTimings }): Promise<SoakSystem> {
  const timings = opts.timings ?? SOAK_TIMINGS;
  const cleanup: Array<() => Promise<unknown>> = [];
  let worker: WorkerProcess | undefined;
  /** The Temporal dev server's and FerretDB's pids (children that appeared while the stack booted). */
  let stackPids: number[] = [];
  const stopAll = async () => {
    worker?.killNow();
    for (const step of cleanup) await step().catch(() => undefined);
    cleanup.length = 0;
  };
  try {
    opts.say('starting Temporal dev server + FerretDB');
    const before = new Set(childPids());
    const stack = await startStack();
    stackPids = childPids().filter((p) => !before.has(p));
    cleanup.unshift(() => stack.stop());
    // Outside the stack's directory (removed on stop): the soak's logs outlive the run.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-soak-'));
    const logFile = path.join(dir, 'soak-system.log');
    const logStream = pino.destination({ dest: logFile, sync: true, mkdir: true });
    const logger = createLogger(process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'info' ? process.env.LOG_LEVEL : 'warn', 'soak', logStream);

    opts.say('starting the OpenStack and CloudStack simulators (fast timings) and the image store');
    const [openstack, cloudstack] = await Promise.all([
      startOpenStackSimulator({ timings: 'fast', logger, seed: opts.seed }),
      startCloudStackSimulator({ timings: 'fast', logger, seed: opts.seed }),
    ]);
    cleanup.unshift(() => Promise.allSettled([openstack.stop(), cloudstack.stop()]));
    await fetch(`${openstack.url}/_sim/quotas`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: openstack.credentials.projectName, instances: 1000, cores: 4000, ram: 4_000_000 }),
    });
    const token = crypto.randomBytes(24).toString('base64url');
    const signingSecret = crypto.randomBytes(32).toString('base64url');
    const storeDir = path.join(dir, 'store');
    const store = await startImageStore({ dir: storeDir, serviceToken: token, signingSecret, logger });
    cleanup.unshift(() => store.stop());
    const storeClient = new ImageStoreClient({ baseUrl: store.url, serviceToken: token });

    const keyring = keyringOf(generateKey());
    const taskQueue = `soak-${crypto.randomBytes(4).toString('hex')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...simulatorEnv(openstack, cloudstack),
      VMFLOW_OPERATOR_CLOUDS: 'openstack,cloudstack',
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: stack.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      MONGODB_URI: stack.mongoUri,
      VMFLOW_ENCRYPTION_KEYS: formatKeyring(keyring),
      IMAGE_STORE_URL: store.url,
      IMAGE_STORE_PUBLIC_URL: store.url,
      IMAGE_STORE_TOKEN: token,
      IMAGE_STORE_SIGNING_SECRET: signingSecret,
      VMFLOW_WEBHOOK_URL: '',
      VMFLOW_MONITOR_INTERVAL_SECONDS: String(timings.monitorIntervalSeconds),
      VMFLOW_MONITOR_FAILURE_THRESHOLD: String(timings.failureThreshold),
      VMFLOW_MONITOR_SUCCESS_THRESHOLD: String(timings.successThreshold),
      VMFLOW_DR_HEALTH_CHECK_SECONDS: String(timings.drHealthCheckSeconds),
      VMFLOW_DR_FAILBACK_AFTER_SECONDS: '10',
      VMFLOW_BACKUP_MIN_INTERVAL_SECONDS: '1',
      VMFLOW_POLL_INTERVAL_MS: String(timings.pollIntervalMs),
      PASSWORD_SCRYPT_LOG2N: '14',
      LOG_LEVEL: 'info',
      // Ports of its own: soaks run side by side, and the worker's metrics are served under load too.
      WORKER_METRICS_PORT: String(await freePort()),
      TEMPORAL_METRICS_PORT: String(await freePort()),
    };

    // The worker first: it registers the search attributes the API's workflow starts carry.
    opts.say('starting the worker (child process)');
    worker = new WorkerProcess(env, dir);
    await worker.start();

    opts.say('starting the REST API');
    const config = loadConfig(env);
    const db = await connectDatabase(stack.mongoUri);
    cleanup.unshift(() => db.close());
    const temporal = await connectTemporalClient(stack.temporalAddress, stack.namespace, keyring);
    cleanup.unshift(() => temporal.close());
    const apiDeps: ApiDeps = { config, db, temporal, keyring, logger };
    const api = await startWebServer(apiDeps, { host: '127.0.0.1', port: 0 });
    cleanup.unshift(() => api.close());
    const w = worker;
    cleanup.unshift(() => w.kill());
    cleanup.push(async () => logStream.end());

    return {
      dir,
      logFile,
      logger,
      stack,
      openstack,
      cloudstack,
      store,
      storeClient,
      temporal,
      api,
      worker,
      timings,
      stop: stopAll,
      killChildrenNow: () => {
        worker?.killNow();
        for (const pid of stackPids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** JSON call to a simulator's /_sim admin API (never faulted, never in outage). */
export async function simAdmin<T = any>(baseUrl: string, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}/_sim${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /_sim${p}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Pids of this process's direct children, by parent pid in /proc (Linux; elsewhere none). */
function childPids(): number[] {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const pid of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(pid));
    } catch {
      // gone already
    }
  }
  return out;
}

/** Last resort of the CLI (which owns every child it has) on process exit: SIGKILL them all. */
export function killOwnChildren(): void {
  for (const pid of childPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
