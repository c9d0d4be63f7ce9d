/**
 * Step progress for workflow code: registers the `progress` query and keeps the current step,
 * the steps done and the last error. Deterministic (uses the workflow clock only).
 */
import { defineQuery, setHandler } from '@temporalio/workflow';
import { PROGRESS_QUERY, type TaskProgress, type WorkflowProgress } from '../../src/contracts/progress';
import { describeError } from './task-graph';

export const progressQuery = defineQuery<WorkflowProgress>(PROGRESS_QUERY);

export class Progress {
  private readonly state: WorkflowProgress;

  constructor(kind: string, steps: readonly string[]) {
    this.state = { kind, status: 'running', step: steps[0] ?? 'start', steps: [...steps], stepsDone: [], updatedAt: new Date().toISOString() };
    setHandler(progressQuery, () => this.snapshot());
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
  }
}
