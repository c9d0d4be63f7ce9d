/**
 * Version stamps: one document per key whose random value changes with every write that matters
 * to a reader's kept copy (src/vms/list-version.ts: a member's VM list; src/dr/protected-set.ts:
 * the monitors' protected sets). Readers take the stamp before the data and read the data again
 * only when the stamp changed.
 *
 * A random value, not a counter: FerretDB loses racing $inc updates, but any write changes it.
 */
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import { whileBusy } from './connection';

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
