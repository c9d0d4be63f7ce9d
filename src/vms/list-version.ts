/**
 * A version stamp per member of "what GET /api/v1/vms lists": every write of a VM record (the
 * API's insert, setVmState in the worker, withdrawal) stamps the owner's entry with a new random
 * value. The API keeps each member's list and reads it again only when the stamp changed: on
 * FerretDB's SQLite backend a query on ownerId reads every VM document of every member (only _id
 * lookups are indexed), which at 1,000 VMs is most of a list's cost (issue 13, item 4).
 *
 * A random value, not a counter (FerretDB loses racing $inc); the reader takes the stamp before the
 * list, so a write between the two only makes the next read list again.
 */
import type { Connection } from 'mongoose';
import { stamp } from '../db/stamp';

export const VM_LIST_VERSION_COLLECTION = 'vm_list_version';

export async function vmListVersion(db: Connection, ownerId: string): Promise<string | undefined> {
  const doc = await db.collection<{ _id: string; v: string }>(VM_LIST_VERSION_COLLECTION).findOne({ _id: ownerId }, { projection: { v: 1 } });
  return doc?.v;
}

export async function markVmListChanged(db: Connection, ownerId: string): Promise<void> {
  await stamp(db, VM_LIST_VERSION_COLLECTION, ownerId);
}
