/**
 * Child processes for the embedded stack: the Temporal dev server and FerretDB. Used by
 * `npm start` (scripts/start.ts) and by the test harness (test/harness/stack.ts), so a developer,
 * a test run and CI boot the servers the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited (SIGTERM, then SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout/stderr here; otherwise they are inherited with a `[name]` prefix per line. */
  logFile?: string;
  onLine?: (line: string) => void;
}

export function spawnManaged(opts: SpawnOptions): ManagedProcess {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const pipe = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (opts.onLine) opts.onLine(line);
        else if (!log) process.stdout.write(`[${opts.name}] ${line}\n`);
      }
    });
  };
  pipe(child.stdout);
  pipe(child.stderr);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      log?.end();
      resolve(code);
    });
    child.once('error', (err) => {
      log?.write(`spawn error: ${err.message}\n`);
      log?.end();
      resolve(-1);
    });
  });
  return {
    name: opts.name,
    child,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs = 60_000, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited (code ${proc.child.exitCode ?? proc.child.signalCode}) before listening on ${host}:${port}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port the OS says is free right now (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface TemporalDevServerOptions {
  bin: string;
  port: number;
  uiPort: number;
  /** SQLite file; workflows survive a restart because history lives here. */
  dbFile: string;
  headless?: boolean;
  namespace?: string;
  codecEndpoint?: string;
  httpPort?: number;
  logFile?: string;
  /** Server dynamic configuration (`--dynamic-config-value KEY=VALUE`), e.g. a low continue-as-new suggestion for recording histories. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<ManagedProcess> {
  fs.mkdirSync(path.dirname(o.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(o.port),
    '--db-filename', o.dbFile,
    '--namespace', o.namespace ?? 'default',
    '--log-level', 'warn',
  ];
  // The dev server also opens an HTTP API on a port derived from --port; parallel stacks pick
  // their own so they never collide.
  if (o.httpPort) args.push('--http-port', String(o.httpPort));
  if (o.headless) args.push('--headless');
  else args.push('--ui-ip', '127.0.0.1', '--ui-port', String(o.uiPort));
  if (o.codecEndpoint && !o.headless) args.push('--ui-codec-endpoint', o.codecEndpoint);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(o.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  const proc = spawnManaged({ name: 'temporal', command: o.bin, args, logFile: o.logFile });
  await waitForPort('127.0.0.1', o.port, 90_000, proc);
  if (!o.headless) await waitForPort('127.0.0.1', o.uiPort, 60_000, proc);
  return proc;
}

export interface FerretDbOptions {
  bin: string;
  port: number;
  dir: string;
  logFile?: string;
}

export async function startFerretDb(o: FerretDbOptions): Promise<ManagedProcess> {
  fs.mkdirSync(o.dir, { recursive: true });
  const proc = spawnManaged({
    name: 'ferretdb',
    command: o.bin,
    args: ['--listen-addr', `127.0.0.1:${o.port}`, '--sqlite-dir', o.dir],
    logFile: o.logFile,
  });
  await waitForPort('127.0.0.1', o.port, 30_000, proc);
  return proc;
}
