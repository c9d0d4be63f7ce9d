/**
 * The reverse-workflow executor run directly with fake async tasks. Parallelism and joins are
 * proved with latches (deferred promises the test resolves by hand), never with wall-clock time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState } from '@temporalio/common';
import {
  describeError,
  pendingStatuses,
  runTaskGraph,
  TaskGraphError,
  validateGraph,
  type TaskSpec,
  type TaskStatus,
} from '../../workflows/lib/task-graph';

interface Latch<T = unknown> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function latch<T = unknown>(): Latch<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (one macrotask turn drains all microtasks). */
const settle = () => new Promise<void>((r) => setImmediate(r));

/**
 * A graph of tasks each of which records that it started and then waits for its latch; the test
 * decides when and how each task ends.
 */
function latchedGraph(defs: Record<string, string[]>) {
  const latches = new Map<string, Latch>();
  const started: string[] = [];
  const seen = new Map<string, Record<string, unknown>>();
  const tasks: TaskSpec<{ tag: string }>[] = Object.entries(defs).map(([name, requires]) => {
    latches.set(name, latch());
    return {
      name,
      requires,
      run: async (ctx, results) => {
        assert.equal(ctx.tag, 'ctx');
        started.push(name);
        seen.set(name, { ...results });
        return latches.get(name)!.promise;
      },
    };
  });
  return { tasks, latches, started, seen, l: (name: string) => latches.get(name)! };
}

const byName = (statuses: TaskStatus[]) => Object.fromEntries(statuses.map((s) => [s.name, s]));

describe('task graph executor (reverse workflow)', () => {
  it('when a task requires another, then it starts only after its requirement succeeded and gets its result', async () => {
    const g = latchedGraph({ record: ['cluster'], cluster: ['acquire'], acquire: [] });
    const run = runTaskGraph(g.tasks, { tag: 'ctx' });
    await settle();
    assert.deepEqual(g.started, ['acquire']);
    g.l('acquire').resolve('vm-1');
    await settle();
    assert.deepEqual(g.started, ['acquire', 'cluster']);
    g.l('cluster').resolve('cl-1');
    await settle();
    assert.deepEqual(g.started, ['acquire', 'cluster', 'record']);
    // A task sees its direct and transitive requirements' results.
    assert.deepEqual(g.seen.get('record'), { cluster: 'cl-1', acquire: 'vm-1' });
    g.l('record').resolve('id-7');
    const out = await run;
    assert.equal(out.ok, true);
    assert.deepEqual(out.results, { acquire: 'vm-1', cluster: 'cl-1', record: 'id-7' });
    assert.deepEqual(out.failures, []);
  });

  it('when tasks are independent, then they all run at the same time, and a join waits for all of them', async () => {
    const g = latchedGraph({ acquire: [], lake: ['acquire'], fabric: ['acquire'], other: [], record: ['lake', 'fabric'] });
    const run = runTaskGraph(g.tasks, { tag: 'ctx' });
    await settle();
    // Both roots started while neither has finished: they overlap.
    assert.deepEqual(g.started, ['acquire', 'other']);
    g.l('acquire').resolve('a');
    await settle();
    // Both branches started, neither finished.
    assert.deepEqual(g.started, ['acquire', 'other', 'lake', 'fabric']);
    g.l('fabric').resolve('f');
    await settle();
    assert.ok(!g.started.includes('record'), 'the join must wait for lake too');
    g.l('lake').resolve('l');
    await settle();
    assert.ok(g.started.includes('record'), 'the join starts once all it requires succeeded');
    assert.deepEqual(g.seen.get('record'), { lake: 'l', fabric: 'f', acquire: 'a' });
    assert.ok(!('other' in g.seen.get('record')!), 'results of unrelated tasks are not visible');
    g.l('other').resolve('o');
    g.l('record').resolve('r');
    const out = await run;
    assert.equal(out.ok, true);
    assert.equal(Object.keys(out.results).length, 5);
  });

  it('when one branch fails, then only its transitive dependents are skipped and the other branch runs to completion', async () => {
    const g = latchedGraph({ root: [], bad: ['root'], good: ['root'], afterBad: ['bad'], afterAfterBad: ['afterBad'], afterGood: ['good'], join: ['afterBad', 'afterGood'] });
    const run = runTaskGraph(g.tasks, { tag: 'ctx' });
    g.l('root').resolve('r');
    await settle();
    g.l('bad').reject(new Error('quota exceeded'));
    await settle();
    // The good branch was not stopped by the failure and is still running.
    assert.deepEqual(g.started, ['root', 'bad', 'good']);
    g.l('good').resolve('g');
    await settle();
    g.l('afterGood').resolve('ag');
    const out = await run;
    assert.equal(out.ok, false);
    assert.deepEqual(out.results, { root: 'r', good: 'g', afterGood: 'ag' });
    assert.deepEqual(out.failures.map((f) => [f.task, f.error]), [['bad', 'quota exceeded']]);
    const s = byName(out.statuses);
    assert.equal(s.bad.state, 'failed');
    assert.equal(s.bad.error, 'quota exceeded');
    for (const name of ['afterBad', 'afterAfterBad', 'join']) {
      assert.equal(s[name].state, 'skipped', name);
      assert.equal(s[name].blockedBy, 'bad', name);
      assert.match(s[name].error!, /'bad' failed/);
    }
    assert.equal(s.good.state, 'succeeded');
    assert.equal(s.afterGood.state, 'succeeded');
    assert.ok(!g.started.includes('afterBad') && !g.started.includes('join'));
  });

  it('when continueOnFailure is false and a task fails, then running tasks finish but nothing new starts', async () => {
    const g = latchedGraph({ a: [], b: [], afterB: ['b'] });
    const run = runTaskGraph(g.tasks, { tag: 'ctx' }, { continueOnFailure: false });
    await settle();
    g.l('a').reject(new Error('boom'));
    await settle();
    g.l('b').resolve('b');
    const out = await run;
    assert.deepEqual(g.started, ['a', 'b']);
    const s = byName(out.statuses);
    assert.equal(s.a.state, 'failed');
    assert.equal(s.b.state, 'succeeded');
    assert.equal(s.afterB.state, 'skipped');
    assert.equal(s.afterB.blockedBy, 'a');
    assert.deepEqual(out.results, { b: 'b' });
  });

  it('when a task throws synchronously, then it is recorded as failed like an async failure', async () => {
    const out = await runTaskGraph(
      [
        { name: 'sync', run: () => { throw new Error('not a promise'); } },
        { name: 'after', requires: ['sync'], run: async () => 1 },
      ],
      {},
    );
    assert.equal(out.ok, false);
    assert.equal(byName(out.statuses).sync.error, 'not a promise');
    assert.equal(byName(out.statuses).after.state, 'skipped');
  });

  it('when an activity fails, then the recorded error reads along the cause chain', async () => {
    const err = new ActivityFailure('Activity task failed', 'createServer', '1', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'w', ApplicationFailure.nonRetryable('flavor m1.huge not found', 'NotFound'));
    const out = await runTaskGraph([{ name: 'server', run: () => Promise.reject(err) }], {});
    assert.equal(out.failures[0].error, 'Activity task failed: flavor m1.huge not found');
    assert.equal(out.failures[0].cause, err);
    assert.equal(describeError('plain'), 'plain');
  });

  describe('validation', () => {
    const noop = async () => undefined;
    it('when the graph has a cycle, then validation names the cycle', () => {
      assert.throws(
        () => validateGraph([{ name: 'a', requires: ['c'], run: noop }, { name: 'b', requires: ['a'], run: noop }, { name: 'c', requires: ['b'], run: noop }]),
        (e: unknown) => e instanceof TaskGraphError && e.problems.length === 1 && /cycle a → c → b → a/.test(e.message),
      );
      assert.throws(() => validateGraph([{ name: 'self', requires: ['self'], run: noop }]), /cycle self → self/);
    });
    it('when a task requires an unknown task, then validation names both', () => {
      assert.throws(() => validateGraph([{ name: 'a', requires: ['ghost'], run: noop }]), /task 'a' requires unknown task 'ghost'/);
    });
    it('when two tasks share a name, then validation names the duplicate', () => {
      assert.throws(() => validateGraph([{ name: 'a', run: noop }, { name: 'a', run: noop }]), /duplicate task name 'a'/);
    });
    it('when several things are wrong, then every problem is reported', () => {
      assert.throws(
        () => validateGraph([{ name: '', run: noop }, { name: 'x', requires: ['y'], run: noop }, { name: 'x', run: noop }]),
        (e: unknown) => e instanceof TaskGraphError && e.problems.length === 3,
      );
    });
    it('when the graph is invalid, then runTaskGraph rejects before running any task', async () => {
      let ran = false;
      await assert.rejects(
        runTaskGraph([{ name: 'a', requires: ['b'], run: async () => (ran = true) }, { name: 'b', requires: ['a'], run: async () => (ran = true) }], {}),
        TaskGraphError,
      );
      assert.equal(ran, false);
    });
    it('when the graph is empty, then it succeeds with no results', async () => {
      assert.deepEqual(await runTaskGraph([], {}), { ok: true, results: {}, statuses: [], failures: [] });
    });
  });

  describe('cancellation', () => {
    it('when cancellation is requested, then nothing new starts, running tasks are awaited and the cancellation is rethrown', async () => {
      const g = latchedGraph({ a: [], afterA: ['a'], b: [] });
      const cancel = latch<never>();
      const snapshots: TaskStatus[][] = [];
      const run = runTaskGraph(g.tasks, { tag: 'ctx' }, { cancelRequested: cancel.promise, onChange: (s) => snapshots.push(s) });
      const outcome = run.then(() => 'resolved', (e: unknown) => e);
      await settle();
      const failure = new CancelledFailure('Workflow cancelled');
      cancel.reject(failure);
      await settle();
      // Pending work is shown cancelled at once; the graph still waits for running tasks.
      assert.equal(byName(snapshots.at(-1)!).afterA.state, 'cancelled');
      assert.equal(byName(snapshots.at(-1)!).a.state, 'running');
      g.l('a').resolve('done anyway'); // finishing a requirement must not start its dependent now
      await settle();
      assert.ok(!g.started.includes('afterA'));
      g.l('b').reject(new ActivityFailure('Activity task cancelled', 'x', '2', RetryState.CANCEL_REQUESTED, 'w', new CancelledFailure('cancelled')));
      assert.equal(await outcome, failure);
      const s = byName(snapshots.at(-1)!);
      assert.equal(s.a.state, 'succeeded');
      assert.equal(s.b.state, 'cancelled');
      assert.equal(s.afterA.state, 'cancelled');
    });

    it('when a task ends with a cancellation error, then the graph is cancelled and that error is rethrown', async () => {
      const g = latchedGraph({ a: [], b: [], afterB: ['b'] });
      let last: TaskStatus[] = [];
      const run = runTaskGraph(g.tasks, { tag: 'ctx' }, { onChange: (s) => (last = s) });
      const outcome = run.then(() => 'resolved', (e: unknown) => e);
      await settle();
      const cancelled = new CancelledFailure('scope cancelled');
      g.l('a').reject(cancelled);
      await settle();
      g.l('b').resolve('b');
      assert.equal(await outcome, cancelled);
      assert.deepEqual(last.map((s) => [s.name, s.state]), [['a', 'cancelled'], ['b', 'succeeded'], ['afterB', 'cancelled']]);
      assert.ok(!g.started.includes('afterB'));
    });

    it('when cancellation arrives after every task finished, then the results are returned', async () => {
      const cancel = latch<never>();
      const out = await runTaskGraph([{ name: 'a', run: async () => 'a' }], {}, { cancelRequested: cancel.promise });
      cancel.reject(new CancelledFailure('late'));
      await settle();
      assert.deepEqual(out.results, { a: 'a' });
    });
  });

  it('when the graph runs, then onChange reports every transition in order with injected timestamps', async () => {
    let tick = 0;
    const now = () => `t${++tick}`;
    const snapshots: TaskStatus[][] = [];
    const g = latchedGraph({ a: [], b: ['a'] });
    const run = runTaskGraph(g.tasks, { tag: 'ctx' }, { now, onChange: (s) => snapshots.push(s) });
    await settle();
    g.l('a').resolve(1);
    await settle();
    g.l('b').resolve(2);
    const out = await run;
    assert.deepEqual(
      snapshots.map((snap) => snap.map((s) => s.state)),
      [
        ['running', 'pending'],
        ['succeeded', 'running'],
        ['succeeded', 'succeeded'],
      ],
    );
    assert.deepEqual(out.statuses, [
      { name: 'a', state: 'succeeded', requires: [], startedAt: 't1', finishedAt: 't2' },
      { name: 'b', state: 'succeeded', requires: ['a'], startedAt: 't3', finishedAt: 't4' },
    ]);
    // Snapshots are copies: later changes do not rewrite what a query already returned.
    assert.equal(snapshots[0][0].state, 'running');
    assert.deepEqual(pendingStatuses(g.tasks).map((s) => s.state), ['pending', 'pending']);
  });

  it('when the module is loaded by the workflow bundler, then it imports nothing but @temporalio/workflow', () => {
    const source = fs.readFileSync(path.join(__dirname, '../../workflows/lib/task-graph.ts'), 'utf8');
    const imports = [...source.matchAll(/^\s*import\s+(?:type\s+)?[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    assert.deepEqual(imports, ['@temporalio/workflow']);
    assert.doesNotMatch(source, /\b(?:require\(|Date\.now|Math\.random|setTimeout|setImmediate|process\.)/);
  });
});
