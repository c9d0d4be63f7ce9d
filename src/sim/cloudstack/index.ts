/**
 * A CloudStack management server simulator good enough for vmflow's clients and for CloudMonkey:
 * signed API at /client/api, real async jobs, real template downloads and extract URLs, and a
 * fault-injection API at /_sim (see admin.ts). Start it in-process with startCloudStackSimulator
 * or alone with `tsx src/sim/cloudstack/main.ts`.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { listen } from '../../listen';
import { logger as rootLogger, type Logger } from '../../logger';
import { CloudStackEngine, type SimStateSummary } from './engine';
import type { SimAccountSpec } from './model';
import { ADMIN_ACCOUNT, DEMO_ACCOUNT } from './seed';
import { SimulatorHttp } from './server';
import { resolveTimings, type CloudStackTimings } from './timings';

export type { SimStateSummary } from './engine';
export type { SimAccountSpec } from './model';
export type { CloudStackTimings } from './timings';
export { FAST_TIMINGS, REALISTIC_TIMINGS } from './timings';
export { ADMIN_ACCOUNT, DEMO_ACCOUNT } from './seed';
export type { FaultSpec, Fault } from './faults';

export interface CloudStackSimulator {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** `<url>/client/api`. */
  apiUrl: string;
  port: number;
  /** The demo account's keys. */
  credentials: { apiKey: string; secretKey: string };
  state(): SimStateSummary;
  stop(): Promise<void>;
}

export interface CloudStackSimulatorOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (a free port). */
  port?: number;
  /** Base URL clients reach the simulator at, used in download URLs (behind a proxy); default `url`. */
  publicUrl?: string;
  /** 'fast' (default), 'realistic', or knobs laid over 'fast'. */
  timings?: 'fast' | 'realistic' | Partial<CloudStackTimings>;
  /** Where image bytes live. Default: next to stateFile, else a temporary directory removed on stop. */
  dataDir?: string;
  /** JSON state file, written debounced, read at start, so a demo survives a restart. */
  stateFile?: string;
  /** Accounts besides (or replacing, by name) the default `demo` user and `admin` root admin. */
  accounts?: SimAccountSpec[];
  /** Seeds ids of the fixed infrastructure and the fault dice; default 1. */
  seed?: number;
  /** allow.user.view.destroyed.vm: let user accounts list their Destroyed VMs (default false, as on a fresh install). */
  allowUserViewDestroyedVm?: boolean;
  /** Where the simulator logs (default: the process logger); tests pass their run log. */
  logger?: Logger;
}

export async function startCloudStackSimulator(opts: CloudStackSimulatorOptions = {}): Promise<CloudStackSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const log = (opts.logger ?? rootLogger).child({ component: 'cloudstack-sim' });
  const ownsDataDir = !opts.dataDir && !opts.stateFile;
  const dataDir = opts.dataDir
    ? path.resolve(opts.dataDir)
    : opts.stateFile
      ? path.join(path.dirname(path.resolve(opts.stateFile)), 'cloudstack-sim-data')
      : fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-cssim-'));

  let baseUrl = '';
  const engine = new CloudStackEngine({
    dataDir,
    stateFile: opts.stateFile ? path.resolve(opts.stateFile) : undefined,
    timings: resolveTimings(opts.timings),
    accounts: opts.accounts ?? [],
    seed: opts.seed ?? 1,
    logger: log,
    userSeesDestroyedVms: opts.allowUserViewDestroyedVm,
    publicUrl: () => (opts.publicUrl ?? baseUrl).replace(/\/+$/, ''),
  });
  const web = new SimulatorHttp(engine);
  const server = http.createServer(web.handle);
  try {
    await listen(server, opts.port ?? 0, host);
  } catch (err) {
    await engine.stop();
    if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const demo = engine.infra.accounts.find((a) => a.name === DEMO_ACCOUNT.name)!;
  log.info({ url: baseUrl, dataDir, stateFile: opts.stateFile }, 'CloudStack simulator listening');

  let stopping: Promise<void> | undefined;
  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/client/api`,
    port,
    credentials: { apiKey: demo.apiKey, secretKey: demo.secretKey },
    state: () => engine.summary(),
    stop() {
      stopping ??= (async () => {
        web.releaseHung();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await engine.stop();
        if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
        log.info('CloudStack simulator stopped');
      })();
      return stopping;
    },
  };
}

/** Kept for callers that want the admin account's keys without reading seed.ts. */
export const DEFAULT_ADMIN_CREDENTIALS = { apiKey: ADMIN_ACCOUNT.apiKey, secretKey: ADMIN_ACCOUNT.secretKey };
