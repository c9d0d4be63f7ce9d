/**
 * Contract of the system workflows (shared by workflows, worker, API and scripts; no I/O).
 * selfTest proves the stack end to end: Temporal schedules it, the worker runs its activity, the
 * activity writes through mongoose to MongoDB/FerretDB and reads the document back.
 */
export const SELF_TEST_WORKFLOW = 'selfTest';

export const selfTestWorkflowId = (tag: string): string => `system-selftest:${tag}`;

export interface SelfTestInput {
  note: string;
}

export interface SelfTestResult {
  recordId: string;
  /** The note as read back from the database. */
  readBack: string;
  writtenAt: string;
}
