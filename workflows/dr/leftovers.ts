/**
 * What a finished switch leaves behind — the server or CloudStack copy the VM ran on before, a
 * failback's template and store object — is removed on later health ticks, not before the VM is
 * Protected: the VM runs where it should already, and drVm must be free to answer if it breaks
 * while a cloud or the store is slow to answer (soak seed 5).
 */
import { log, patched } from '@temporalio/workflow';
import type { VmPlacement } from '../../src/contracts/vm';
import { describeError, failureTypeOf } from '../lib/task-graph';
import { cleanupCall, statusPoll, store } from '../lib/activity-presets';
import type { DrRun, Leftover } from './state';

/** Runs recorded before a switch's clean-up was left to later ticks (not done before the VM is Protected) replay the old way. */
export const CLEANUP_LATER_PATCH = 'cleanup-later';

/** Notes something to remove on a later tick. */
export function leaveBehind(dr: DrRun, l: Leftover): void {
  const { s } = dr;
  s.leftovers = [...(s.leftovers ?? []), l];
}

/**
 * Removes what earlier switches left behind, a few quick tries each; what still fails waits for
 * the next tick. A leftover the VM uses again (its placement or a standby now) is dropped, not
 * removed; the activities refuse to touch the live copy in any case.
 */
export async function removeLeftovers(dr: DrRun): Promise<void> {
  const { s, input, touch } = dr;
  if (!s.leftovers?.length) return;
  const plan = await store.drPlan({ vmId: input.vmId });
  const inUse = new Set([plan.placement?.serverId, plan.baseStandby?.serverId, plan.backupCloudStandby?.csVmId].filter((x): x is string => !!x));
  const kept: Leftover[] = [];
  for (const l of s.leftovers ?? []) {
    if (l.kind !== 'store-object' && l.kind !== 'cs-template' && inUse.has(l.id)) continue;
    try {
      if (l.kind === 'os-server') await cleanupCall.osDeleteServer({ accountId: l.accountId, serverId: l.id });
      else if (l.kind === 'cs-vm') await cleanupCall.csDestroyStandby({ accountId: l.accountId, csVmId: l.id });
      else if (l.kind === 'cs-template') await cleanupCall.csDeleteTemplate({ accountId: l.accountId, templateId: l.id, forced: true });
      else await cleanupCall.storeDeleteImage({ key: l.id });
    } catch (err) {
      // Now the live copy after all: not a leftover.
      if (failureTypeOf(err) === 'LiveCopyProtected') continue;
      kept.push(l);
      // One line when a streak of failures starts, not one per tick.
      if (kept.length === 1 && dr.leftoverFailures === 0) log.warn('could not remove what a switch left behind yet; trying again every health tick', { kind: l.kind, error: describeError(err) });
    }
  }
  s.leftovers = kept.length ? kept : undefined;
  // Tried again on every health tick (never faster): a CloudStack copy left behind may still be
  // running, and it must go as soon as its cloud answers (soak seed 1: a 1–2 minute back-off kept
  // a second running copy for over a minute after CloudStack came back).
  dr.leftoverFailures = kept.length ? dr.leftoverFailures + 1 : 0;
  touch();
}

/**
 * The VM is back in its stack. The server it had failed over from is gone when it was the
 * stack's own (Heat replaced it), but a promoted standby it ran on before is no stack's and
 * stays behind, fenced: it is removed (already gone is fine).
 */
export async function removeReplacedHomeServer(dr: DrRun, previousServerId: string, now: VmPlacement): Promise<void> {
  if (previousServerId === now.serverId) return;
  if (patched(CLEANUP_LATER_PATCH)) return leaveBehind(dr, { kind: 'os-server', accountId: now.accountId, id: previousServerId });
  await statusPoll.osDeleteServer({ accountId: now.accountId, serverId: previousServerId }).catch((err: unknown) => log.warn('could not remove the server the VM ran on before', { error: describeError(err) }));
}
