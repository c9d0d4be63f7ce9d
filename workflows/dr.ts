/**
 * drVm — the disaster-recovery entity workflow of one protected VM (UC-009), ID `vm-dr:<vmId>`.
 *
 *   Protected ─(VM or base cloud unhealthy)─▶ Degraded ─▶ FailingOver ─▶ FailedOver(target)
 *       ▲                                                                      │
 *       └──────── FailingBack ◀─(base healthy long enough, [approval])─────────┘   (backup-cloud)
 *       └──────── (fresh backup re-protects) ◀─────────────────────────────────┘   (base-standby)
 *
 * Health arrives as signals from the per-cloud monitor (thresholds already applied there), and
 * while failed over to the backup cloud this workflow also checks the base cloud itself. Manual
 * commands are updates with validators (a failback is refused unless failed over). Every
 * disaster, failover, failback and fence becomes an event; alerts are delivered by a child
 * workflow that never blocks this one. RPO = age of the backup the failover used; RTO = first
 * failed check → switch complete.
 *
 * The story, one pass of the loop below at a time: the handlers (dr/state.ts) record what
 * arrives; the loop waits until something is due — on a health tick while there is something to
 * watch or retry, with no timer while the VM is simply Protected. Then, in this order:
 *   1. a failed failover whose turn has come is tried again, or dropped when its cause cleared;
 *   2. a pending failover runs (dr/failover.ts); otherwise, failed over to the backup cloud, the
 *      base cloud and the copy running in CloudStack are checked (dr/failback.ts, dr/live-copy.ts);
 *   3. a server a failover could not stop is fenced once its cloud answers (dr/reprotect.ts);
 *   4. what earlier switches left behind is removed (dr/leftovers.ts);
 *   5. a failback that is due runs (dr/failback.ts), ending in a re-protecting backup;
 *   6. a broken-server report that came while the VM was busy is judged now that it is Protected;
 *   7. between operations, when Temporal suggests it, the run continues as new with its state
 *      and the commands it has not acted on yet.
 * Whatever changes the state is also written for readers (dr/state.ts, stateRecorder): GET …/dr
 * and the VM list read that record, never the drStatus query.
 * Every step keeps its place: a running workflow replays this order (test/unit/replay.test.ts).
 */
import { allHandlersFinished, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import { failover, failoverRetryDue, judgeDeferredVmDisaster, takeFailoverRetry } from './dr/failover';
import { failback, failbackDue, watchFromBackupCloud } from './dr/failback';
import { removeLeftovers } from './dr/leftovers';
import { fence, fenceDue } from './dr/reprotect';
import { openDrRun, type DrInput } from './dr/state';

export { cloudHealthSignal, drSettingsSignal, drStatusQuery, stopProtectionSignal, vmHealthSignal } from './dr/state';

/** Runs recorded before drVm's idle (Protected) wait woke for a continue-as-new suggestion replay the old way. */
const IDLE_CONTINUE_AS_NEW_PATCH = 'dr-idle-continue-as-new';
/** Runs recorded before a continue-as-new kept a failback command and a stop that came during its pass replay the old way. */
const CONTINUE_AS_NEW_KEEPS_COMMANDS_PATCH = 'dr-continue-as-new-keeps-commands';

export async function drVm(input: DrInput): Promise<void> {
  const dr = openDrRun(input);
  const { s, pending } = dr;

  /** Continue-as-new is safe between operations, in a steady state. */
  const continueAsNewDue = () => workflowInfo().continueAsNewSuggested && !pending.failover && (s.state === 'Protected' || s.state === 'FailedOver');
  // Runs recorded before the idle wait looked at the suggestion replay the old way.
  const continueAsNewWhenIdle = patched(IDLE_CONTINUE_AS_NEW_PATCH);

  while (!dr.stopped) {
    const waitingForBase = s.state === 'FailedOver' && s.target === 'backup-cloud';
    // A Protected VM waits without a timeout: the signals that grow its history must also wake it
    // when Temporal suggests continuing as new, or it never does (issue 17).
    // (leftoverArrived: only ever set by a restore that could not remove the server it left.)
    const woken = () => dr.stopped || !!pending.failover || failbackDue(dr) || fenceDue(dr) || failoverRetryDue(dr) || dr.leftoverArrived || (continueAsNewWhenIdle && continueAsNewDue());
    // (failoverRetry is only ever set by runs with the failover-retry patch.)
    if (waitingForBase || s.fencePending || s.failoverRetry || s.leftovers) await condition(woken, dr.healthCheckMs);
    else await condition(woken);
    if (dr.stopped) break;
    dr.leftoverArrived = false;

    if (!pending.failover && failoverRetryDue(dr)) takeFailoverRetry(dr);

    if (pending.failover) {
      await failover(dr, pending.failover);
      pending.failover = undefined;
    } else if (waitingForBase && !failbackDue(dr)) {
      await watchFromBackupCloud(dr);
    }
    if (fenceDue(dr)) await fence(dr);
    // Also while Degraded (a failover waiting for its retry): a copy left running elsewhere must go
    // as soon as its cloud answers (soak seed 1: a restore home left the CloudStack copy that
    // CloudStack had stopped answering about; the VM then broke, its failover waited for a retry,
    // and that copy ran on beside the placement).
    if (s.leftovers && !pending.failover && (s.state === 'Protected' || s.state === 'FailedOver' || s.state === 'Degraded')) await removeLeftovers(dr);
    if (failbackDue(dr)) {
      await failback(dr);
      pending.failback = undefined;
      dr.approved = false;
    }
    await judgeDeferredVmDisaster(dr);
    if (continueAsNewDue()) {
      // Commands that came while this pass was busy and could not act yet: a failback asked for
      // (the base went down again before it ran) goes to the next run, and a stop ends this one
      // here (the next run would not know of it and protect on).
      const keepCommands = (dr.stopped || !!pending.failback) && patched(CONTINUE_AS_NEW_KEEPS_COMMANDS_PATCH);
      if (keepCommands && dr.stopped) break;
      await condition(allHandlersFinished);
      // The readers' record holds this run's last state before the next run takes over.
      await dr.flushRecord();
      // (failbackCommand is always set: one the last run carried and this one ran must not go on.)
      await continueAsNew<typeof drVm>({ ...input, carried: s, approvedFailback: dr.approved, failbackCommand: keepCommands ? pending.failback : undefined });
    }
  }
  // Protection stopped: readers no longer find a DR state for the VM.
  await dr.removeRecord();
}
