/**
 * One isolated integration stack per test run: a Temporal dev server (headless, SQLite in a temp
 * dir) and FerretDB (SQLite in a temp dir), each on free ports, booted through the same launcher as
 * `npm start`. Suites call `sharedStack()`; the root hook in hooks.ts stops it after all tests,
 * even when tests fail. TEMPORAL_ADDRESS / MONGODB_URI point the tests at existing servers instead.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { EMBEDDED_MONGO_OPTIONS, loadConfig } from '../../src/config';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { freePort, startFerretDb, startTemporalDevServer, type ManagedProcess } from '../../src/embedded/processes';
import { assertExecutable, ferretDbPath, temporalCliPath } from '../../src/tools';

export interface TestStack {
  temporalAddress: string;
  namespace: string;
  mongoUri: string;
  dir: string;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Temporal dev server dynamic configuration (ignored with TEMPORAL_ADDRESS). */
  temporalDynamicConfig?: Record<string, string | number | boolean>;
}

export async function startStack(opts: StackOptions = {}): Promise<TestStack> {
  const config = loadConfig();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-test-'));
  const procs: ManagedProcess[] = [];
  try {
    let temporalAddress = config.temporalAddress;
    if (!temporalAddress) {
      const bin = temporalCliPath(config.toolsDir, config.temporalCliPath);
      assertExecutable(bin, 'Temporal CLI');
      const port = await freePort();
      procs.push(
        await startTemporalDevServer({
          bin,
          port,
          uiPort: 0,
          headless: true,
          dbFile: path.join(dir, 'temporal.sqlite'),
          logFile: path.join(dir, 'temporal.log'),
          httpPort: await freePort(),
          dynamicConfig: opts.temporalDynamicConfig,
        }),
      );
      temporalAddress = `127.0.0.1:${port}`;
    }
    let mongoUri = config.mongodbUri;
    if (!mongoUri) {
      const bin = ferretDbPath(config.toolsDir);
      assertExecutable(bin, 'FerretDB');
      const port = await freePort();
      procs.push(await startFerretDb({ bin, port, dir: path.join(dir, 'ferretdb'), logFile: path.join(dir, 'ferretdb.log') }));
      mongoUri = `mongodb://127.0.0.1:${port}/vmflow_test?${EMBEDDED_MONGO_OPTIONS}`;
    } else {
      // A real MongoDB is shared; a per-run database keeps runs apart.
      const u = new URL(mongoUri);
      u.pathname = `/vmflow_test_${crypto.randomBytes(4).toString('hex')}`;
      mongoUri = u.toString();
    }
    return {
      temporalAddress,
      namespace: config.temporalNamespace,
      mongoUri,
      dir,
      async stop() {
        await Promise.all(procs.map((p) => p.stop()));
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
}

let shared: Promise<TestStack> | undefined;
let sharedOptions: StackOptions = {};

/** Options for the run's stack; only before its first use (scripts such as test/replay/record-histories.ts). */
export function configureSharedStack(o: StackOptions): void {
  if (shared) throw new Error('configureSharedStack: the shared stack is already booted');
  sharedOptions = o;
}

/** The run's stack, booted on first use. */
export function sharedStack(): Promise<TestStack> {
  shared ??= startStack(sharedOptions);
  return shared;
}

export async function stopSharedStack(): Promise<void> {
  if (!shared) return;
  const s = shared;
  shared = undefined;
  await (await s.catch(() => undefined))?.stop();
}

/** A task queue no other test uses, so workers of different tests never steal each other's tasks. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
}

/** Where a suite runs when it must not see what earlier suites of the run left behind. */
export interface IsolatedPlace {
  namespace: string;
  mongoUri: string;
}

/**
 * A Temporal namespace and a database of their own on the run's stack. For suites that assert on
 * whole-fleet figures: in the shared namespace the workflows earlier suites left running (DR
 * workflows, backup schedules on the default task queue) keep changing those figures.
 */
export async function isolatedPlace(prefix: string): Promise<IsolatedPlace> {
  const stack = await sharedStack();
  const namespace = `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // The frontend learns of a new namespace on its next cache refresh: retry until it serves it.
    const deadline = Date.now() + 60_000;
    for (let delayMs = 200; ; delayMs = Math.min(delayMs * 2, 2_000)) {
      try {
        await ensureSearchAttributes(stack.temporalAddress, namespace);
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        const listed = await connection.operatorService.listSearchAttributes({ namespace });
        if (Object.keys(listed.customAttributes ?? {}).includes('VmflowVmId')) break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} not ready in 60 s`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  } finally {
    await connection.close();
  }
  const u = new URL(stack.mongoUri);
  u.pathname = `/${prefix.replace(/[^a-z0-9_]/gi, '_')}_${crypto.randomBytes(4).toString('hex')}`;
  return { namespace, mongoUri: u.toString() };
}
