/**
 * After a switch: a fresh backup makes new standbys (the VM is Protected again), and the server
 * the VM ran on before is stopped (fenced) once its cloud answers, so that only one copy runs.
 */
import { ParentClosePolicy, executeChild, log, startChild, uuid4, ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { BACKUP_WORKFLOW, type BackupInput } from '../../src/contracts/backup';
import { describeError } from '../lib/task-graph';
import { fenceCall } from '../lib/activity-presets';
import { withVmLease, type Lease } from '../lib/ownership';
import type { DrRun } from './state';

/** A fresh backup makes a new standby (and copies it to the backup cloud); then Protected. */
export async function reprotect(dr: DrRun, why: string, lease: Lease): Promise<void> {
  const { s, input, touch } = dr;
  if (lease.leaseId) {
    // The VM runs again: it is Protected now, and a fresh backup (a child that asks for the VM's
    // lease once this operation gives it back) makes new standbys. This workflow does not wait
    // for it: a VM that breaks again meanwhile fails over at once, and that failover cancels the
    // backup (a failover with no standby rebuilds from the newest backup).
    await startChild(BACKUP_WORKFLOW, {
      workflowId: `vm-backup:${input.vmId}:reprotect-${uuid4()}`,
      args: [{ vmId: input.vmId, ownerId: input.ownerId, trigger: 'manual' } satisfies BackupInput],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
  } else {
    s.step = `re-protecting (${why})`;
    touch();
    try {
      await executeChild(BACKUP_WORKFLOW, { workflowId: `vm-backup:${input.vmId}:reprotect-${uuid4()}`, args: [{ vmId: input.vmId, ownerId: input.ownerId, trigger: 'manual' } satisfies BackupInput] });
    } catch (err) {
      // The VM runs; the next scheduled backup tries again.
      log.warn('re-protect backup failed', { error: describeError(err) });
    }
  }
  s.state = 'Protected';
  s.target = undefined;
  s.vmHealthy = true;
  s.step = undefined;
  touch();
}

/** Due when a fence is pending and the base cloud answers. */
export const fenceDue = (dr: DrRun): boolean => !!dr.s.fencePending && dr.s.baseCloudHealthy;

/** Stops the server a failover left running (it could not be stopped then), unless it is the live copy again. */
export async function fence(dr: DrRun): Promise<void> {
  const { s, input, touch, event } = dr;
  const f = s.fencePending;
  if (!f) return;
  let r: { fenced: boolean };
  try {
    r = await withVmLease(input.vmId, 'fence', {}, () => fenceCall.osFenceServer({ accountId: f.accountId, serverId: f.serverId }));
  } catch (err) {
    if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'LiveCopyProtected')) throw err;
    // The server runs the VM again (it came home): it must not be stopped.
    s.fencePending = undefined;
    touch();
    return;
  }
  if (r.fenced) {
    s.fencePending = undefined;
    await event('fence.completed', `the old server ${f.serverId} is stopped`);
  }
  touch();
}
