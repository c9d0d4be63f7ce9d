/**
 * A Mistral-style *reverse workflow* executor for workflow code (seeds 001/002): each task names
 * the tasks it requires; every task whose requirements have all succeeded starts at once (tasks
 * run in parallel), and a task starts only after ALL it requires succeeded (join).
 *
 * It runs inside the Temporal workflow sandbox, so it is deterministic by construction: no Node
 * built-ins, no clock, no randomness, no timers — only promises and what the caller passes in.
 * Ready tasks start in declaration order and completions are handled in the order the workflow
 * runtime settles them, which Temporal replays identically.
 *
 * Failure: a failed task marks its transitive dependents `skipped` (naming the failed task), while
 * independent branches keep running to completion; the graph then resolves with `ok: false`
 * (it does not throw — the workflow decides whether to compensate, retry or fail). With
 * `continueOnFailure: false` no new task starts after the first failure; running ones finish.
 *
 * Cancellation: when the enclosing CancellationScope is cancelled (or the `cancelRequested`
 * promise rejects), or a task rejects with a cancellation error (`isCancellation`), no new task
 * starts, running tasks are awaited (Temporal cancels their activities), tasks that ended by
 * cancellation and tasks never started are marked `cancelled`, and the cancellation error is
 * rethrown so the workflow ends as cancelled. A task that uses its own inner timeout scope and
 * wants that to count as a failure must catch the CancelledFailure and throw a plain error.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, inWorkflowContext, isCancellation } from '@temporalio/workflow';

export interface TaskSpec<Ctx> {
  /** Unique within the graph; appears in statuses, failures and skip reasons. */
  name: string;
  /** Names of tasks that must all succeed before this one starts. */
  requires?: string[];
  /**
   * The task's work. `results` holds the results of every task this one requires, directly or
   * transitively (all of them have succeeded by the time it runs), keyed by task name.
   */
  run: (ctx: Ctx, results: Readonly<Record<string, unknown>>) => Promise<unknown>;
}

export type TaskState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface TaskStatus {
  name: string;
  state: TaskState;
  requires: string[];
  /** Failure message (with its cause chain), or why the task was skipped or cancelled. */
  error?: string;
  /** For `skipped`: the failed task that made this one impossible. */
  blockedBy?: string;
  /** Only when `now` was given. */
  startedAt?: string;
  /** Set when the task reaches a final state (including skipped/cancelled); only when `now` was given. */
  finishedAt?: string;
}

export interface TaskFailure {
  task: string;
  /** Readable message including the cause chain (ActivityFailure → ApplicationFailure → …). */
  error: string;
  /** The original error, for callers that inspect types (not serialisable in general). */
  cause: unknown;
}

export interface TaskGraphOptions {
  /**
   * Called with a fresh snapshot (declaration order) once at the start and after every batch of
   * state changes; a workflow stores the latest one for its progress query. Must not throw.
   */
  onChange?: (statuses: TaskStatus[]) => void;
  /**
   * Timestamp source for startedAt/finishedAt. In a workflow `() => new Date().toISOString()` is
   * deterministic (workflow time); without it no timestamps are recorded.
   */
  now?: () => string;
  /** Default true: independent branches keep running after a failure. False: start nothing new. */
  continueOnFailure?: boolean;
  /**
   * Rejects when the graph must stop. Defaults, inside a workflow, to the current cancellable
   * CancellationScope's `cancelRequested`; outside a workflow (unit tests) to none.
   */
  cancelRequested?: Promise<never>;
}

export interface TaskGraphResult {
  /** True when every task succeeded. */
  ok: boolean;
  /** Results of the tasks that succeeded, keyed by task name. */
  results: Record<string, unknown>;
  statuses: TaskStatus[];
  failures: TaskFailure[];
}

export class TaskGraphError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid task graph: ${problems.join('; ')}`);
    this.name = 'TaskGraphError';
  }
}

/**
 * Throws TaskGraphError naming every problem: empty or duplicate names, unknown requirements, and
 * each dependency cycle (as a path `a → b → a`).
 */
export function validateGraph(tasks: readonly TaskSpec<any>[]): void {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const t of tasks) {
    if (typeof t.name !== 'string' || t.name === '') problems.push('a task has an empty name');
    else if (names.has(t.name)) problems.push(`duplicate task name '${t.name}'`);
    names.add(t.name);
  }
  for (const t of tasks) {
    for (const r of t.requires ?? []) {
      if (!names.has(r)) problems.push(`task '${t.name}' requires unknown task '${r}'`);
    }
  }
  problems.push(...findCycles(tasks, names));
  if (problems.length) throw new TaskGraphError(problems);
}

/** Depth-first search with colours; reports each cycle once, as the path that closes it. */
function findCycles(tasks: readonly TaskSpec<any>[], names: Set<string>): string[] {
  const requires = new Map<string, string[]>();
  for (const t of tasks) if (!requires.has(t.name)) requires.set(t.name, (t.requires ?? []).filter((r) => names.has(r)));
  const colour = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (name: string): void => {
    colour.set(name, 'grey');
    stack.push(name);
    for (const r of requires.get(name) ?? []) {
      const c = colour.get(r);
      if (c === 'grey') cycles.push(`dependency cycle ${[...stack.slice(stack.indexOf(r)), r].join(' → ')}`);
      else if (c === undefined) visit(r);
    }
    stack.pop();
    colour.set(name, 'black');
  };
  for (const name of requires.keys()) if (!colour.has(name)) visit(name);
  return cycles;
}

/** Statuses of a graph that has not started, e.g. to answer a progress query before the run. */
export function pendingStatuses(tasks: readonly TaskSpec<any>[]): TaskStatus[] {
  return tasks.map((t) => ({ name: t.name, state: 'pending', requires: [...(t.requires ?? [])] }));
}

/** "Activity task failed: connection refused" — messages along the `cause` chain, deduplicated. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.includes(msg)) parts.push(msg);
    cur = cur instanceof Error ? (cur as { cause?: unknown }).cause : undefined;
  }
  return parts.join(': ') || 'unknown error';
}

/** The `type` of the ApplicationFailure an activity failed with (ActivityFailure unwrapped), if any. */
export function failureTypeOf(err: unknown): string | undefined {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof ApplicationFailure ? (e.type ?? undefined) : undefined;
}

type Settled = { name: string; ok: true; value: unknown } | { name: string; ok: false; error: unknown };

/**
 * Runs the graph to completion (see the module comment for the semantics). Resolves with every
 * task's final state; rejects only with TaskGraphError (invalid graph) or a cancellation error.
 */
export async function runTaskGraph<Ctx>(
  tasks: readonly TaskSpec<Ctx>[],
  ctx: Ctx,
  opts: TaskGraphOptions = {},
): Promise<TaskGraphResult> {
  validateGraph(tasks);
  const continueOnFailure = opts.continueOnFailure ?? true;
  const specs = new Map(tasks.map((t) => [t.name, t]));
  const statuses = new Map(pendingStatuses(tasks).map((s) => [s.name, s]));
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.name, []]));
  for (const t of tasks) for (const r of t.requires ?? []) dependents.get(r)!.push(t.name);
  const results = new Map<string, unknown>();
  const failures: TaskFailure[] = [];
  const running = new Set<string>();
  const inbox: Settled[] = [];
  let wake: (() => void) | undefined;
  let cancelError: unknown;
  let stopped = false; // continueOnFailure === false and something failed

  const scope = opts.cancelRequested === undefined && inWorkflowContext() ? CancellationScope.current() : undefined;
  const cancelRequested = opts.cancelRequested ?? (scope?.cancellable ? scope.cancelRequested : undefined);
  const graphCancelled = (): boolean => cancelError !== undefined || (scope?.consideredCancelled ?? false);
  cancelRequested?.catch((err: unknown) => {
    if (cancelError === undefined) cancelError = err;
    wake?.();
  });

  const stamp = (): { at?: string } => (opts.now ? { at: opts.now() } : {});
  const emit = (): void => opts.onChange?.(snapshot());
  const snapshot = (): TaskStatus[] => [...statuses.values()].map((s) => ({ ...s, requires: [...s.requires] }));
  const finish = (name: string, state: TaskState, extra: Partial<TaskStatus> = {}): void => {
    const s = statuses.get(name)!;
    const { at } = stamp();
    Object.assign(s, { state, ...extra }, at === undefined ? {} : { finishedAt: at });
  };

  // Transitive requirements, computed once, so each task sees exactly the results it may rely on.
  const ancestors = new Map<string, string[]>();
  const ancestorsOf = (name: string): string[] => {
    let found = ancestors.get(name);
    if (!found) {
      const set = new Set<string>();
      for (const r of specs.get(name)!.requires ?? []) {
        set.add(r);
        for (const a of ancestorsOf(r)) set.add(a);
      }
      found = [...set];
      ancestors.set(name, found);
    }
    return found;
  };

  const start = (name: string): void => {
    const spec = specs.get(name)!;
    const visible: Record<string, unknown> = {};
    for (const a of ancestorsOf(name)) visible[a] = results.get(a);
    const s = statuses.get(name)!;
    s.state = 'running';
    const { at } = stamp();
    if (at !== undefined) s.startedAt = at;
    running.add(name);
    let promise: Promise<unknown>;
    try {
      promise = Promise.resolve(spec.run(ctx, Object.freeze(visible)));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (value) => settle({ name, ok: true, value }),
      (error: unknown) => settle({ name, ok: false, error }),
    );
  };
  const settle = (event: Settled): void => {
    inbox.push(event);
    wake?.();
  };

  const startReady = (): void => {
    if (stopped || graphCancelled()) return;
    for (const t of tasks) {
      const s = statuses.get(t.name)!;
      if (s.state === 'pending' && (t.requires ?? []).every((r) => statuses.get(r)!.state === 'succeeded')) start(t.name);
    }
  };

  const skipDependents = (failed: string): void => {
    const queue = [...dependents.get(failed)!];
    while (queue.length) {
      const name = queue.shift()!;
      if (statuses.get(name)!.state !== 'pending') continue;
      finish(name, 'skipped', { blockedBy: failed, error: `skipped: required task '${failed}' failed` });
      queue.push(...dependents.get(name)!);
    }
  };

  const handle = (event: Settled): void => {
    running.delete(event.name);
    if (event.ok) {
      results.set(event.name, event.value);
      finish(event.name, 'succeeded');
      return;
    }
    if (isCancellation(event.error)) {
      if (cancelError === undefined) cancelError = event.error;
      finish(event.name, 'cancelled', { error: describeError(event.error) });
      return;
    }
    const message = describeError(event.error);
    failures.push({ task: event.name, error: message, cause: event.error });
    finish(event.name, 'failed', { error: message });
    skipDependents(event.name);
    if (!continueOnFailure && !stopped) {
      stopped = true;
      for (const s of statuses.values()) {
        if (s.state === 'pending') finish(s.name, 'skipped', { blockedBy: event.name, error: `skipped: graph stopped after task '${event.name}' failed` });
      }
    }
  };

  // Once cancelled, tasks that have not started are marked at once so a progress query shows it
  // while the running ones wind down.
  const cancelPending = (): void => {
    const reason = 'cancelled: the task graph was cancelled before this task started';
    for (const s of statuses.values()) if (s.state === 'pending') finish(s.name, 'cancelled', { error: reason });
  };

  if (graphCancelled()) cancelPending();
  else startReady();
  emit();
  while (running.size > 0) {
    if (inbox.length === 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    for (const event of inbox.splice(0)) handle(event);
    if (graphCancelled()) cancelPending();
    else startReady();
    emit();
  }

  // A cancellation that arrives after every task finished changes nothing: the work is done.
  if (graphCancelled()) cancelPending();
  if ([...statuses.values()].some((s) => s.state === 'cancelled')) {
    emit();
    throw cancelError ?? (await scopeCancellation(scope));
  }
  return {
    ok: [...statuses.values()].every((s) => s.state === 'succeeded'),
    results: Object.fromEntries(results),
    statuses: snapshot(),
    failures,
  };
}

/** The CancelledFailure the scope was cancelled with, so the rethrown error is Temporal's own. */
async function scopeCancellation(scope: CancellationScope | undefined): Promise<unknown> {
  try {
    await scope?.cancelRequested;
  } catch (err) {
    return err;
  }
  return new Error('task graph cancelled');
}
