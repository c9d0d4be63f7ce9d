/**
 * vmflow's own processes (api/main.ts, worker/main.ts) and the bare baseline server as child
 * processes of a benchmark, so the load generator does not share an event loop or a core's time
 * slice accounting with what it measures. Each child's output goes to a log file; its CPU time and
 * RSS are read from /proc (Linux) between two points of the run. Every child is stopped by the
 * benchmark's cleanup (SIGTERM, then SIGKILL after 5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startImageStore } from '../src/imagestore';
import { createLogger } from '../src/logger';
import { sleep } from '../src/sleep';
import { allowSimulators } from '../test/harness/clouds';

export interface BenchChild {
  name: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

const repoRoot = path.resolve(__dirname, '..');

/** Starts `node --import tsx <entry>` with `env`; resolves when `ready(outputSoFar)` holds (bounded). */
export async function startChild(o: { name: string; entry: string; env: NodeJS.ProcessEnv; logDir: string; ready: (out: string) => boolean | Promise<boolean>; timeoutMs?: number }): Promise<BenchChild> {
  const logFile = path.join(o.logDir, `${o.name}.log`);
  // The child writes its log straight to the file, as under a container's log driver. Piped
  // through this process, the API's request log lines waited for the load generator's event loop
  // (pino writes synchronously), which added hundreds of ms to vmflow's p99 and nothing to the
  // bare server's, which logs nothing.
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(repoRoot, o.entry)], { cwd: repoRoot, env: o.env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  /** What the child has written so far (its first 200 KB: enough for every ready line). */
  const output = (): string => {
    try {
      const f = fs.openSync(logFile, 'r');
      try {
        const buf = Buffer.alloc(200_000);
        return buf.subarray(0, fs.readSync(f, buf, 0, buf.length, 0)).toString();
      } finally {
        fs.closeSync(f);
      }
    } catch {
      return '';
    }
  };
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(killer);
  };
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  while (!(await o.ready(output()))) {
    if (exited !== undefined) throw new Error(`${o.name} exited (${exited}) before it was ready; see ${logFile}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${o.name} was not ready in time; see ${logFile}`);
    }
    await sleep(100);
  }
  return { name: o.name, pid: child.pid!, child, logFile, stop };
}

/** True once GET url answers (any status). */
export async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

export interface ProcUsage {
  /** CPU seconds (user + system) so far. */
  cpuSeconds: number;
  rssMiB: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU time and RSS of a process, from /proc; undefined elsewhere or when it is gone. */
export function procUsage(pid: number): ProcUsage | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    const rssPages = Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return { cpuSeconds, rssMiB: Math.round((rssPages * 4096) / 2 ** 20) };
  } catch {
    return undefined;
  }
}

/** Samples a process's CPU and RSS while a phase runs: mean CPU % of one core and peak RSS. */
export class UsageMeter {
  private readonly t0 = performance.now();
  private readonly cpu0: number;
  private peakRss = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.cpu0 = procUsage(pid)?.cpuSeconds ?? 0;
    this.timer = setInterval(() => (this.peakRss = Math.max(this.peakRss, procUsage(pid)?.rssMiB ?? 0)), 250);
    this.timer.unref();
  }

  stop(): { cpuPercent: number; cpuSeconds: number; peakRssMiB: number } {
    clearInterval(this.timer);
    const u = procUsage(this.pid);
    const cpuSeconds = (u?.cpuSeconds ?? this.cpu0) - this.cpu0;
    const wall = (performance.now() - this.t0) / 1000;
    return { cpuPercent: Math.round((cpuSeconds / wall) * 100), cpuSeconds: Math.round(cpuSeconds * 10) / 10, peakRssMiB: Math.max(this.peakRss, u?.rssMiB ?? 0) };
  }
}

export function benchLogDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vmflow-bench-${name}-`));
}

/**
 * The environment vmflow's API and worker children share in a benchmark: the test stack, the
 * simulated operator OpenStack account, one member's quota lifted (one member makes every VM of a
 * run) and metrics off (several workers on one host would fight over the metrics ports).
 */
export function vmflowChildEnv(o: {
  logDir: string;
  stack: { temporalAddress: string; namespace: string; mongoUri: string };
  taskQueue: string;
  encryptionKeys: string;
  apiPort: number;
  openstack: { authUrl: string; credentials: { username: string; password: string; projectName: string; userDomainName: string; projectDomainName: string; region: string } };
}): NodeJS.ProcessEnv {
  const c = o.openstack.credentials;
  return {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', // 'worker polling' (info) says a worker is ready
    VMFLOW_DATA_DIR: o.logDir,
    TEMPORAL_ADDRESS: o.stack.temporalAddress,
    TEMPORAL_NAMESPACE: o.stack.namespace,
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    MONGODB_URI: o.stack.mongoUri,
    VMFLOW_ENCRYPTION_KEYS: o.encryptionKeys,
    API_HOST: '127.0.0.1',
    API_PORT: String(o.apiPort),
    OPENSTACK_AUTH_URL: o.openstack.authUrl,
    OPENSTACK_USERNAME: c.username,
    OPENSTACK_PASSWORD: c.password,
    OPENSTACK_PROJECT_NAME: c.projectName,
    OPENSTACK_USER_DOMAIN_NAME: c.userDomainName,
    OPENSTACK_PROJECT_DOMAIN_NAME: c.projectDomainName,
    OPENSTACK_REGION: c.region,
    VMFLOW_OPERATOR_CLOUDS: 'openstack',
    QUOTA_VMS: '1000000',
    VMFLOW_METRICS: 'false',
  };
}

/**
 * What a benchmark adds to vmflowChildEnv for backups and deletes: the CloudStack simulator as the
 * operator's backup cloud and an image store (with new secrets) under `storeDir`; `stop` ends the store.
 */
export async function backupCloudChildEnv(o: {
  storeDir: string;
  openstack: { url: string };
  cloudstack: { url: string; apiUrl: string; credentials: { apiKey: string; secretKey: string } };
}): Promise<{ env: NodeJS.ProcessEnv; stop: () => Promise<void> }> {
  const token = crypto.randomBytes(24).toString('base64url');
  const signingSecret = crypto.randomBytes(32).toString('base64url');
  const store = await startImageStore({ dir: o.storeDir, serviceToken: token, signingSecret, logger: createLogger('silent', 'bench-image-store') });
  return {
    env: {
      CLOUDSTACK_API_URL: o.cloudstack.apiUrl,
      CLOUDSTACK_API_KEY: o.cloudstack.credentials.apiKey,
      CLOUDSTACK_SECRET_KEY: o.cloudstack.credentials.secretKey,
      IMAGE_STORE_URL: store.url,
      IMAGE_STORE_PUBLIC_URL: store.url,
      IMAGE_STORE_TOKEN: token,
      IMAGE_STORE_SIGNING_SECRET: signingSecret,
      VMFLOW_OPERATOR_CLOUDS: 'openstack,cloudstack',
      VMFLOW_OUTBOUND_ALLOW: allowSimulators({ openstack: o.openstack, cloudstack: o.cloudstack }),
    },
    stop: () => store.stop(),
  };
}
