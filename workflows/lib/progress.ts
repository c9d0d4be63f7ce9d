/**
 * Step progress for workflow code: registers the `progress` query and keeps the current step,
 * the steps done and the last error. Deterministic (uses the workflow clock only).
 *
 * With `record`, every change is also written for readers (the VM operations: one local activity
 * per step boundary, chained so they land in order, never cancelled, and never failing the
 * workflow); `flush()` before the workflow ends waits for the last one.
 */
import { CancellationScope, defineQuery, setHandler } from '@temporalio/workflow';
import { PROGRESS_QUERY, type TaskProgress, type WorkflowProgress } from '../../src/contracts/progress';
import { describeError } from './task-graph';

export const progressQuery = defineQuery<WorkflowProgress>(PROGRESS_QUERY);

export class Progress {
  private readonly state: WorkflowProgress;
  private written: Promise<void> = Promise.resolve();

  constructor(
    kind: string,
    steps: readonly string[],
    private readonly record?: (progress: WorkflowProgress) => Promise<unknown>,
  ) {
    this.state = { kind, status: 'running', step: steps[0] ?? 'start', steps: [...steps], stepsDone: [], updatedAt: new Date().toISOString() };
    setHandler(progressQuery, () => this.snapshot());
    this.write();
  }

  /** Resolves when every change so far has been written (at once without `record`). */
  flush(): Promise<void> {
    return this.written;
  }

  /** Marks the current step done (if any) and starts `step`. */
  start(step: string, detail?: string): void {
    if (this.state.step !== step && this.state.status === 'running' && !this.state.stepsDone.includes(this.state.step) && this.state.steps.indexOf(this.state.step) < this.state.steps.indexOf(step)) {
      this.state.stepsDone.push(this.state.step);
    }
    this.state.step = step;
    this.state.detail = detail;
    this.touch();
  }

  detail(detail: string): void {
    this.state.detail = detail;
    this.touch();
  }

  tasks(tasks: TaskProgress[]): void {
    this.state.tasks = tasks;
    this.touch();
  }

  error(err: unknown): void {
    this.state.lastError = describeError(err);
    this.touch();
  }

  compensating(err: unknown): void {
    this.error(err);
    this.state.status = 'compensating';
    this.touch();
  }

  complete(): void {
    if (!this.state.stepsDone.includes(this.state.step)) this.state.stepsDone.push(this.state.step);
    this.state.status = 'completed';
    this.state.detail = undefined;
    this.touch();
  }

  fail(err: unknown): void {
    this.state.lastError = describeError(err);
    this.state.status = 'failed';
    this.touch();
  }

  snapshot(): WorkflowProgress {
    return { ...this.state, stepsDone: [...this.state.stepsDone], tasks: this.state.tasks?.map((t) => ({ ...t })) };
  }

  private touch(): void {
    this.state.updatedAt = new Date().toISOString();
    this.write();
  }

  private write(): void {
    const record = this.record;
    if (!record) return;
    const snapshot = this.snapshot();
    // Progress is for readers: a write that fails is left out, it never fails the workflow.
    this.written = this.written.then(() => CancellationScope.nonCancellable(() => record(snapshot))).then(
      () => undefined,
      () => undefined,
    );
  }
}
