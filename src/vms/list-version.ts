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
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import { whileBusy } from '../db/connection';

export const VM_LIST_VERSION_COLLECTION = 'vm_list_version';

export async function vmListVersion(db: Connection, ownerId: string): Promise<string | undefined> {
  const doc = await db.collection<{ _id: string; v: string }>(VM_LIST_VERSION_COLLECTION).findOne({ _id: ownerId }, { projection: { v: 1 } });
  return doc?.v;
}

export async function markVmListChanged(db: Connection, ownerId: string): Promise<void> {
  await stamp(db, VM_LIST_VERSION_COLLECTION, ownerId);
}

/**
 * Sets a new random stamp on `_id`. Not an upsert: on FerretDB two racing upserts of a missing
 * document make one fail with a duplicate key; here the loser updates the one the winner made.
 */
export async function stamp(db: Connection, collection: string, id: string): Promise<void> {
  const c = db.collection<{ _id: string; v: string; at: Date }>(collection);
  for (let attempt = 0; ; attempt++) {
    const v = crypto.randomUUID();
    if ((await whileBusy(() => c.updateOne({ _id: id }, { $set: { v, at: new Date() } }))).matchedCount) return;
    try {
      await whileBusy(() => c.insertOne({ _id: id, v, at: new Date() }));
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000 || attempt >= 3) throw err;
    }
  }
}
