/**
 * The progress every vmflow workflow reports through its `progress` query: the step it is on, the
 * steps done, the last error, and (for task-graph workflows) each task's state. The API's
 * GET /api/v1/workflows/:id and GET /api/v1/vms/:id show it; so does the Temporal UI's query tab.
 */
export const PROGRESS_QUERY = 'progress';

export type WorkflowRunStatus = 'running' | 'completed' | 'failed' | 'compensating';

export interface TaskProgress {
  name: string;
  state: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
  requires: string[];
  error?: string;
  /** For `skipped`: the failed task that made this one impossible (the task graph's TaskStatus). */
  blockedBy?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface WorkflowProgress {
  kind: string;
  status: WorkflowRunStatus;
  /** The step running now (or the last one when finished). */
  step: string;
  /** Every step of this kind of workflow, in order. */
  steps: string[];
  stepsDone: string[];
  lastError?: string;
  /** Free-form detail of the current step, e.g. "stack CREATE_IN_PROGRESS" or "42 MiB copied". */
  detail?: string;
  tasks?: TaskProgress[];
  updatedAt: string;
}
