/**
 * `npm start`: runs vmflow on its embedded default as supervised child processes — the Temporal
 * dev server (with Web UI, SQLite under the data dir), FerretDB (SQLite under the data dir), the
 * cloud simulators and image store, the worker and the REST API. It waits for every part to be
 * ready, proves the stack end to end with the selfTest workflow, builds the web console when its
 * sources changed (scripts/web.ts), prints every URL (the console's first), restarts a
 * crashed worker or API with back-off, and shuts everything down cleanly on Ctrl-C / SIGTERM.
 * TEMPORAL_ADDRESS and MONGODB_URI point it at existing servers instead of starting them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../src/config';
import { spawnManaged, startFerretDb, startTemporalDevServer, type ManagedProcess } from '../src/embedded/processes';
import { loadKeyring } from '../src/secrets/keyring';
import { connectTemporalClient } from '../src/temporal/client';
import { SELF_TEST_WORKFLOW, selfTestWorkflowId, type SelfTestResult } from '../src/contracts/system';
import { assertExecutable, ferretDbPath, temporalCliPath } from '../src/tools';
import { imageStoreOptionsFromEnv } from '../src/imagestore';
import { cloudstackSimulatorAllowList, openstackSimulatorAllowList } from '../src/sim/allow-list';

const repoRoot = path.resolve(__dirname, '..');
const say = (msg: string) => process.stdout.write(`[vmflow] ${msg}\n`);

/** A child that is restarted when it dies unexpectedly (worker, API, simulators). */
interface Supervised {
  name: string;
  start(): ManagedProcess;
  current?: ManagedProcess;
  restarts: number[];
}

const servers: ManagedProcess[] = [];
const supervised: Supervised[] = [];
let stopping = false;

async function shutdown(code: number, why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${why}; stopping…`);
  // Clients first (API, worker, simulators), then the servers they use.
  await Promise.all(supervised.map((s) => s.current?.stop(15_000)));
  for (const s of servers.reverse()) await s.stop(15_000);
  say('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const dataDir = config.dataDir;
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  // The image store and the worker share a token and signing secret; in development they are
  // generated once into the store's directory — here, before either child races to create them.
  imageStoreOptionsFromEnv();

  // The web console is rebuilt when its sources changed (scripts/web.ts ensure), beside the stack's start.
  const consoleBuild = buildConsole(logDir);

  process.once('SIGINT', () => void shutdown(0, 'SIGINT'));
  process.once('SIGTERM', () => void shutdown(0, 'SIGTERM'));

  const codecEndpoint = `http://127.0.0.1:${config.apiPort}/codec`;
  const temporalAddress = config.temporalTarget;
  if (config.embeddedTemporal) {
    const bin = temporalCliPath(config.toolsDir, config.temporalCliPath);
    assertExecutable(bin, 'Temporal CLI');
    say(`starting Temporal dev server on 127.0.0.1:${config.temporalPort} (UI ${config.temporalUiPort})…`);
    const proc = await startTemporalDevServer({
      bin,
      port: config.temporalPort,
      uiPort: config.temporalUiPort,
      dbFile: path.join(dataDir, 'temporal', 'temporal.sqlite'),
      namespace: config.temporalNamespace,
      codecEndpoint,
      logFile: path.join(logDir, 'temporal.log'),
    });
    servers.push(proc);
    watchServer(proc);
  } else {
    say(`using existing Temporal at ${temporalAddress}`);
  }

  if (config.embeddedMongo) {
    const bin = ferretDbPath(config.toolsDir);
    assertExecutable(bin, 'FerretDB');
    say(`starting FerretDB on 127.0.0.1:${config.ferretdbPort}…`);
    const proc = await startFerretDb({ bin, port: config.ferretdbPort, dir: path.join(dataDir, 'ferretdb'), logFile: path.join(logDir, 'ferretdb.log') });
    servers.push(proc);
    watchServer(proc);
  } else {
    say('using existing MongoDB (MONGODB_URI)');
  }

  // Children get the resolved addresses explicitly, so they never start servers of their own.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: temporalAddress, MONGODB_URI: config.mongodbTarget };
  if (config.startSimulators) {
    // The operator cloud accounts point at the simulators this start runs, unless set explicitly.
    childEnv.OPENSTACK_AUTH_URL ||= `http://127.0.0.1:${config.openstackSimPort}/identity/v3`;
    childEnv.CLOUDSTACK_API_URL ||= `http://127.0.0.1:${config.cloudstackSimPort}/client/api`;
    // Members may register accounts on the simulators too: their API paths (never /_sim) are let
    // through the outbound guard, on top of whatever VMFLOW_OUTBOUND_ALLOW already says.
    childEnv.VMFLOW_OUTBOUND_ALLOW = [
      process.env.VMFLOW_OUTBOUND_ALLOW,
      ...openstackSimulatorAllowList(`http://127.0.0.1:${config.openstackSimPort}`),
      ...cloudstackSimulatorAllowList(`http://127.0.0.1:${config.cloudstackSimPort}`),
    ]
      .filter(Boolean)
      .join(',');
    // The simulated servers' services answer on loopback (src/sim/openstack/guests.ts): guest
    // health checks reach them there.
    childEnv.VMFLOW_GUEST_ADDRESS_MAP ||= '10.0.0.0/8=127.0.0.0/8';
    childEnv.OPENSTACK_SIM_GUEST_PORTS ||= '80,8080';
  }
  const tsNode = (name: string, entry: string, extraEnv: NodeJS.ProcessEnv = {}): Supervised => ({
    name,
    restarts: [],
    start: () =>
      spawnManaged({
        name,
        command: process.execPath,
        args: ['--import', 'tsx', path.join(repoRoot, entry)],
        cwd: repoRoot,
        env: { ...childEnv, ...extraEnv },
        logFile: path.join(logDir, `${name}.log`),
      }),
  });

  const parts: Supervised[] = [];
  const optional = (entry: string) => fs.existsSync(path.join(repoRoot, entry));
  if (config.startSimulators) {
    if (optional('src/sim/openstack/main.ts')) parts.push(tsNode('openstack-sim', 'src/sim/openstack/main.ts', { VMFLOW_SIM_STATE_DIR: path.join(dataDir, 'sim') }));
    if (optional('src/sim/cloudstack/main.ts')) parts.push(tsNode('cloudstack-sim', 'src/sim/cloudstack/main.ts', { VMFLOW_SIM_STATE_DIR: path.join(dataDir, 'sim') }));
  }
  if (optional('src/imagestore/main.ts')) parts.push(tsNode('imagestore', 'src/imagestore/main.ts', { IMAGE_STORE_DIR: path.join(dataDir, 'images') }));
  parts.push(tsNode('worker', 'worker/main.ts'), tsNode('api', 'api/main.ts'));

  for (const part of parts) {
    supervised.push(part);
    run(part);
  }

  say('waiting for the API to be ready…');
  await waitForReady(`http://127.0.0.1:${config.apiPort}/readyz`, 120_000);
  // The same keyring as the worker's and API's (env or <dataDir>/secrets/keys): payloads are encrypted.
  const temporal = await connectTemporalClient(temporalAddress, config.temporalNamespace, loadKeyring(config));
  try {
    const result = await temporal.client.workflow.execute<(i: { note: string }) => Promise<SelfTestResult>>(SELF_TEST_WORKFLOW, {
      workflowId: selfTestWorkflowId(`start-${new Date().toISOString()}`),
      taskQueue: config.temporalTaskQueue,
      args: [{ note: 'npm start self-test' }],
      workflowExecutionTimeout: '2 minutes',
    });
    say(`self-test workflow passed (record ${result.recordId})`);
  } finally {
    await temporal.close();
  }

  const consoleBuilt = await consoleBuild;
  const lines = [
    consoleBuilt
      ? `Web console     http://127.0.0.1:${config.apiPort}/   (open this in a browser)`
      : `Web console     not built: see ${path.join(logDir, 'web-build.log')} (npm run build:web)`,
    `REST API        http://127.0.0.1:${config.apiPort}   (health: /healthz, readiness: /readyz)`,
    config.embeddedTemporal ? `Temporal UI     http://127.0.0.1:${config.temporalUiPort}` : `Temporal        ${temporalAddress}`,
    config.embeddedTemporal ? `Temporal gRPC   127.0.0.1:${config.temporalPort}` : '',
    config.embeddedMongo ? `MongoDB (FerretDB) ${config.mongodbTarget}` : 'MongoDB         (MONGODB_URI)',
    ...(await simulatorLines(config)),
    ...(config.metricsEnabled
      ? [
          `API metrics     http://${config.metricsHost}:${config.apiMetricsPort}/metrics`,
          `worker metrics  http://${config.metricsHost}:${config.workerMetricsPort}/metrics   Temporal SDK: http://${config.metricsHost}:${config.temporalMetricsPort}/metrics`,
        ]
      : []),
    `data            ${dataDir}   logs: ${logDir}`,
  ].filter(Boolean);
  // One write: a reader that sees "ready" sees every URL with it.
  process.stdout.write(['[vmflow] ready', ...lines.map((l) => `  ${l}`), '  Ctrl-C stops everything.', ''].join('\n'));
}

/** Builds web/dist when stale, in a child process; resolves whether a console is there to serve. */
function buildConsole(logDir: string): Promise<boolean> {
  const log = path.join(logDir, 'web-build.log');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'web.ts'), 'ensure'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      for (const line of String(d).split('\n').filter(Boolean)) say(line.replace(/^\[web\] /, ''));
    });
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', (err) => {
      fs.writeFileSync(log, String(err));
      resolve(false);
    });
    child.on('exit', (code) => {
      fs.writeFileSync(log, out);
      if (code !== 0) say(`web console build failed (exit ${code}); see ${log}`);
      resolve(code === 0 && fs.existsSync(path.join(repoRoot, 'web', 'dist', 'index.html')));
    });
  });
}

function watchServer(proc: ManagedProcess): void {
  void proc.exited.then((code) => shutdown(1, `${proc.name} exited unexpectedly (code ${code}); see its log under the data dir`));
}

/** Runs a part and restarts it with back-off; gives up after 5 crashes within a minute. */
function run(part: Supervised): void {
  const proc = part.start();
  part.current = proc;
  void proc.exited.then(async (code) => {
    if (stopping) return;
    const now = Date.now();
    part.restarts = part.restarts.filter((t) => now - t < 60_000);
    part.restarts.push(now);
    if (part.restarts.length > 5) {
      await shutdown(1, `${part.name} keeps crashing (code ${code}); see its log`);
      return;
    }
    const delay = 500 * 2 ** (part.restarts.length - 1);
    say(`${part.name} exited (code ${code}); restarting in ${delay} ms`);
    setTimeout(() => {
      if (!stopping) run(part);
    }, delay);
  });
}

async function waitForReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`API not ready after ${timeoutMs} ms (${last})`);
}

/** Endpoint lines for the simulators and the image store that this start runs. */
async function simulatorLines(config: Config): Promise<string[]> {
  const names = new Set(supervised.map((s) => s.name));
  const lines: string[] = [];
  if (names.has('openstack-sim')) {
    lines.push(`OpenStack sim   http://127.0.0.1:${config.openstackSimPort}/identity/v3`);
    lines.push(
      process.env.OPENSTACK_PASSWORD
        ? `                user ${config.openstackUsername} / project ${config.openstackProjectName} / domain ${config.openstackUserDomainName} (password from OPENSTACK_PASSWORD)`
        : `                demo user ${config.openstackUsername} / password ${config.openstackPassword} / project ${config.openstackProjectName} / domain ${config.openstackUserDomainName}`,
    );
  }
  if (names.has('cloudstack-sim')) {
    lines.push(`CloudStack sim  http://127.0.0.1:${config.cloudstackSimPort}/client/api`);
    // Demo credentials of the simulator are shown; real keys given through the environment never are.
    if (!process.env.CLOUDSTACK_API_KEY && !process.env.CLOUDSTACK_SECRET_KEY) {
      lines.push(`                demo api key    ${config.cloudstackApiKey}`);
      lines.push(`                demo secret key ${config.cloudstackSecretKey}`);
    } else {
      lines.push('                api key and secret key: from CLOUDSTACK_API_KEY / CLOUDSTACK_SECRET_KEY');
    }
  }
  if (names.has('imagestore')) lines.push(`image store     http://127.0.0.1:${config.imageStorePort}`);
  return lines;
}

main().catch((err) => {
  console.error(`[vmflow] start failed: ${(err as Error).message}`);
  void shutdown(1, 'start failed');
});
