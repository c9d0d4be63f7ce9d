/**
 * Fast workflow tests: Temporal's time-skipping test server (TestWorkflowEnvironment) with the
 * workflows bundled once per run and activities mocked as plain functions. A timer of hours runs
 * in milliseconds of real time; assert on queries, on activity calls and on skipped time
 * (env.currentTimeMs()), never on the wall clock.
 *
 * The server is the Java one from Maven Central that `scripts/setup.sh --test` (npm test) installs
 * into the tools cache, started here (on a free port) through a launcher that binds it to 127.0.0.1 only
 * (test/harness/time-skipping/LoopbackTestServer.java). One server per suite (it takes seconds to
 * start); each test has its own task queue and workflow ids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/data-converter';
import { assertExecutable, timeSkippingServerPath } from '../../src/tools';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { SELF_TEST_WORKFLOW } from '../../src/contracts/system';
import { installTestRuntime } from './temporal';

export { SUGGEST_CONTINUE_AS_NEW_SIGNAL } from './time-skipping/suggest-continue-as-new';

const open = new Set<TestWorkflowEnvironment>();
let bundle: Promise<WorkflowBundle> | undefined;

/**
 * The production workflows plus one test interceptor (time-skipping/suggest-continue-as-new.ts:
 * the test server never suggests continue-as-new, a test does). Built once per run.
 */
function testBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [require.resolve('./time-skipping/suggest-continue-as-new')],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never,
  });
  return bundle;
}

/** A new time-skipping environment (its own test server process). */
async function startTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  installTestRuntime();
  const exe = timeSkippingServerPath(process.env.VMFLOW_TOOLS_DIR || path.join(os.homedir(), '.cache', 'vmflow', 'tools'));
  assertExecutable(exe, "Temporal's time-skipping test server (bash scripts/setup.sh --test installs it; it needs Java and Maven)");
  // The SDK can start it (server.executable = existing-path) but gives it 5 s to listen, and a JVM
  // on two busy cores can take longer: so it is started here, waited for, and connected to.
  const port = await freeLoopbackPort();
  const child = spawn(exe, [String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    await waitForPort(port, child, () => stderr);
    // TestWorkflowEnvironment.create is what createTimeSkipping() calls after starting its own
    // server; given an existing one it only connects (and teardown leaves the process to us).
    const create = (TestWorkflowEnvironment as unknown as { create(o: object): Promise<TestWorkflowEnvironment> }).create.bind(TestWorkflowEnvironment);
    const e = await create({ server: { type: 'existing' }, address: `127.0.0.1:${port}`, namespace: 'default', supportsTimeSkipping: true, connectionOptions: {} });
    servers.set(e, child);
    open.add(e);
    return e;
  } catch (err) {
    child.kill();
    throw err;
  }
}

const servers = new Map<TestWorkflowEnvironment, ChildProcess>();
/** Workers running now, with their run: a suite's teardown stops any a failed test left. */
const workers = new Map<Worker, { env: TestWorkflowEnvironment; run: Promise<unknown> }>();

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the time-skipping test server exited (${child.exitCode}): ${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`the time-skipping test server did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a suite's environment (its after hook). */
export async function stopTimeSkipping(suiteEnv: TestWorkflowEnvironment | undefined): Promise<void> {
  const e = suiteEnv && started(suiteEnv);
  if (!e || !open.delete(e)) return;
  // The connection cannot close while a worker holds it: stop what a failed test left running.
  for (const [worker, { env, run }] of workers) {
    if (env !== e) continue;
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.race([run.catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
  }
  await e.teardown().catch((err: unknown) => console.warn(`time-skipping environment not closed: ${String(err)}`));
  const child = servers.get(e);
  servers.delete(e);
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill();
    await exited;
  }
}

/** Stops what a suite left open (the root hooks). */
export async function stopTimeSkippingEnv(): Promise<void> {
  for (const e of [...open]) await stopTimeSkipping(e);
}

export const uniqueId = (prefix: string): string => `${prefix}-${crypto.randomBytes(5).toString('hex')}`;

/** The environment behind a suite's stand-in (timeSkippingSuite), or the environment itself. */
const STARTED = Symbol('started environment');
function started(e: TestWorkflowEnvironment): TestWorkflowEnvironment {
  return (e as TestWorkflowEnvironment & { [STARTED]?: TestWorkflowEnvironment })[STARTED] ?? e;
}

/**
 * The set-up every time-skipping suite shares, called first thing in its `describe` with the suite
 * (`this`): 120 s per test, a before hook that prepares the suite's own environment (given 180 s:
 * a JVM starting on two busy cores) and an after hook that stops it. It returns a stand-in for
 * that environment, usable in tests and hooks once the before hook has run (it forwards to the
 * environment started there), so that a suite reads as its scenarios:
 *
 *   describe('…', function () {
 *     const env = timeSkippingSuite(this);
 *     it('when …, then …', async () => { … env.client … env.sleep(…) … });
 *   });
 */
export function timeSkippingSuite(suite: Mocha.Suite): TestWorkflowEnvironment {
  suite.timeout(120_000);
  let current: TestWorkflowEnvironment | undefined;
  suite.beforeAll(async function () {
    this.timeout(180_000);
    current = await prepareTimeSkipping();
  });
  suite.afterAll(() => stopTimeSkipping(current));
  return new Proxy({} as TestWorkflowEnvironment, {
    get(_, key) {
      if (!current) throw new Error('the time-skipping environment is used before its suite started it (use it in a test or hook)');
      if (key === STARTED) return current;
      const value: unknown = Reflect.get(current, key, current);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}

/**
 * A suite's environment (its before hook; stopTimeSkipping in its after hook). Time skipping is
 * global to a server, so each suite has its own: workflows a suite leaves behind (an owner waiting
 * out its idle timer) cannot hold up another suite's clock. The bundle is built once per run, and
 * one workflow runs end to end first (server, worker and sandbox warm) so that no test's own time
 * includes either.
 */
export async function prepareTimeSkipping(): Promise<TestWorkflowEnvironment> {
  await testBundle();
  const e = await startTimeSkippingEnv();
  await withWorkflowWorker(e, { recordSelfTest: async (i: { note: string }) => ({ recordId: 'warm-up', readBack: i.note, writtenAt: new Date().toISOString() }) }, (taskQueue) =>
    e.client.workflow.execute(SELF_TEST_WORKFLOW, { taskQueue, workflowId: uniqueId('warm-up'), args: [{ note: 'warm-up' }] }),
  );
  return e;
}

/**
 * Runs `body` while a worker with the real workflows and these activities polls a fresh task
 * queue of the time-skipping server. The worker stops when `body` settles.
 */
export async function withWorkflowWorker<T>(
  suiteEnv: TestWorkflowEnvironment,
  activities: Record<string, (...args: never[]) => Promise<unknown>>,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const e = started(suiteEnv);
  const taskQueue = uniqueId('ts');
  lastStep = 'starting the worker';
  const worker = await Worker.create({
    connection: e.nativeConnection,
    namespace: e.namespace ?? 'default',
    taskQueue,
    workflowBundle: await testBundle(),
    activities,
    dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH },
    // Activities are in-memory mocks: no need to wait long for them at shutdown.
    shutdownGraceTime: '1 second',
  });
  const running = worker.runUntil(withinBudget(body(taskQueue)));
  workers.set(worker, { env: e, run: running });
  try {
    return await running;
  } finally {
    workers.delete(worker);
  }
}

/**
 * A test body that has not settled in this much real time fails with the step it was at, before
 * mocha's own timeout (120 s in these suites): the worker then shuts down with it, so the suite's
 * environment closes cleanly instead of leaving a worker polling a stopped server.
 */
const BODY_BUDGET_MS = 100_000;
let lastStep = '';

function withinBudget<T>(body: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the test body did not settle in ${BODY_BUDGET_MS / 1000} s of real time; last step: ${lastStep}`)), BODY_BUDGET_MS);
  });
  return Promise.race([body, expired]).finally(() => clearTimeout(timer));
}

/**
 * Lets skipped time pass in steps of `stepMs` until `done()` holds; fails after `maxMs` of skipped
 * time (a workflow that never gets there fails the test instead of hanging it).
 */
export async function skipUntil(e: TestWorkflowEnvironment, what: string, done: () => boolean | Promise<boolean>, opts: { stepMs: number; maxMs: number }): Promise<void> {
  lastStep = `skipping time until: ${what}`;
  for (let waited = 0; ; waited += opts.stepMs) {
    if (await done()) return;
    if (waited >= opts.maxMs) throw new Error(`not reached within ${opts.maxMs / 1000} s of skipped time: ${what}`);
    await e.sleep(opts.stepMs);
  }
}

/**
 * Waits in real time (no time skipped) until `done()` holds: for states reached by activities and
 * signals alone, while an activity is held open (skipping time then would time it out).
 */
export async function pollUntil(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  lastStep = `waiting in real time until: ${what}`;
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`not reached within ${timeoutMs / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
