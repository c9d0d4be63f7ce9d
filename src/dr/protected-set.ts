/**
 * A version stamp of "which VMs the cloud monitors watch" (activities/dr-monitor.ts,
 * protectedVmQuery): every write that can change that set — a protection added or removed, a VM
 * becoming active or leaving active, a placement changed — stamps a new random value. The monitor's
 * probe keeps the set it read per account and reads it again only when the stamp changed (or the
 * copy is older than PROTECTED_SET_MAX_AGE_MS), so a steady interval costs one lookup by _id
 * instead of a pass over every VM document (issue 13, item 5: 2.55 s of a 2.7 s probe at 10,000 VMs).
 *
 * A random value, not a counter: FerretDB loses racing $inc updates, but any write changes the
 * stamp, and readers take the stamp before the set, so a change between the two reads only makes
 * the next probe read the set again.
 */
import type { Connection } from 'mongoose';
import { stamp } from '../db/stamp';

export const PROTECTED_SET_VERSION_COLLECTION = 'protected_set_version';
const ID = 'all';
/** A kept set is read again after this long even with no stamp change (a write made outside vmflow). */
export const PROTECTED_SET_MAX_AGE_MS = 10 * 60_000;

export async function protectedSetVersion(db: Connection): Promise<string | undefined> {
  const doc = await db.collection<{ _id: string; v: string }>(PROTECTED_SET_VERSION_COLLECTION).findOne({ _id: ID }, { projection: { v: 1 } });
  return doc?.v;
}

export async function markProtectedSetChanged(db: Connection): Promise<void> {
  await stamp(db, PROTECTED_SET_VERSION_COLLECTION, ID);
}

/**
 * What of a VM record decides whether (and where, and how) a monitor watches it: active VMs are
 * judged, VMs being updated only keep their cloud probed (protectedVmQuery's includeUpdating).
 */
export function monitoredKey(vm: { state: string; placement?: { cloud: string; accountId: string; serverId?: string } | null }): string {
  return (vm.state === 'active' || vm.state === 'updating') && vm.placement ? `${vm.state}|${vm.placement.cloud}|${vm.placement.accountId}|${vm.placement.serverId ?? ''}` : '';
}
