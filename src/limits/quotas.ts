/**
 * Per-member quotas (issue 12 item 4), from the configuration (QUOTA_*). Over a count quota the
 * API answers 409 `quota_exceeded` with `quota` (which one) and `limit` in the error body; a
 * setting beyond a bound (retention, drill period) is a 400 naming the field.
 *
 * The VM count is exact (src/vms/quota-slots.ts: a create wins one of the member's slots first).
 * In-flight counts (backups, drills) come from Temporal's visibility store (running workflows of
 * the member, by the VmflowOwnerId search attribute): it is eventually consistent, so two requests
 * in the same instant can both pass — a bound on cost, not an exact count.
 */
import type { Client } from '@temporalio/client';
import { AppError } from '../errors';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';

export interface MemberQuotas {
  /** VMs that are not deleted. */
  vms: number;
  /** The member's own cloud accounts. */
  cloudAccounts: number;
  /** Backups running at once (manual ones asked through the API). */
  backupsInFlight: number;
  /** Drills running at once (asked through the API). */
  drillsInFlight: number;
  /** Shortest drill schedule period, seconds. */
  drillMinIntervalSeconds: number;
  /** Most good backups a policy may keep. */
  backupRetention: number;
  /** Bytes of the member's backups in the image store (unretired); a manual backup is refused past it. */
  imageStoreBytes?: number;
}

export type QuotaName = 'vms' | 'cloudAccounts' | 'backupsInFlight' | 'drillsInFlight' | 'imageStoreBytes' | 'webhooks';

export function quotaExceeded(quota: QuotaName, limit: number, message: string): AppError {
  return new AppError(409, 'quota_exceeded', `${message} (quota ${quota}: ${limit})`, undefined, { details: { quota, limit } });
}

/** Running workflows of `workflowType` the member started (visibility; see above). */
export async function runningWorkflowsOf(temporal: Client, workflowType: string, ownerId: string): Promise<number> {
  const owner = ownerId.replace(/["\\]/g, '');
  const { count } = await temporal.workflow.count(`WorkflowType = "${workflowType}" AND ExecutionStatus = "Running" AND ${Object.keys(SEARCH_ATTRIBUTES)[0]} = "${owner}"`);
  return count;
}
