/**
 * What a withdrawal removes, and what stops it.
 *
 * Every module that stores records of a member registers a cleanup here
 * (`registerMemberDataCleanup('vm-backups', fn)`); withdrawal runs them all, then removes the
 * sessions and finally the member record, so a crash half-way leaves a member who can log in and
 * withdraw again (each cleanup must be idempotent: delete by ownerId). The answer lists what each
 * cleanup removed.
 *
 * FerretDB has no multi-document transactions, so the steps are not atomic together; ordering the
 * member record last is what makes a retry safe.
 */
import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';

export interface MemberDataContext {
  db: Connection;
  userId: string;
  /** For what a member has in Temporal (schedules); absent where the caller has no client. */
  temporal?: Client;
}

/** Removes one kind of record of a member; resolves to how many were removed. */
export type MemberDataCleanup = (ctx: MemberDataContext) => Promise<number>;

const cleanups = new Map<string, MemberDataCleanup>();

/** Registers (or replaces, by name) the cleanup of one kind of record. */
export function registerMemberDataCleanup(name: string, fn: MemberDataCleanup): void {
  cleanups.set(name, fn);
}

/** Registers every cleanup of one area (`{ name: fn }`, in order). */
export function registerMemberDataCleanups(all: Record<string, MemberDataCleanup>): void {
  for (const [name, fn] of Object.entries(all)) registerMemberDataCleanup(name, fn);
}

export function memberDataCleanups(): ReadonlyMap<string, MemberDataCleanup> {
  return cleanups;
}

export const VMS_COLLECTION = 'vms';

/**
 * How many VMs the member owns that are not deleted; withdrawal is refused while this is above 0.
 * The VM module may replace this one function with its own repository call.
 */
export async function countLiveVmsOwnedBy(db: Connection, userId: string): Promise<number> {
  return db.collection(VMS_COLLECTION).countDocuments({ ownerId: userId, state: { $ne: 'deleted' } });
}
