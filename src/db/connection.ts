/**
 * MongoDB access through mongoose. Each process (API, worker, a test) opens its own Connection
 * rather than using mongoose's global one, so tests can hold several without interference.
 *
 * FerretDB (the embedded default) has no multi-document transactions and no change streams:
 * every write in vmflow is a single-document atomic update (findOneAndUpdate with a filter on the
 * expected state), and nothing relies on watch().
 */
import { sleep } from '../sleep';
import mongoose, { type Connection } from 'mongoose';

/**
 * Find options that bring a whole result in the first reply (up to MongoDB's 16 MiB message), so
 * no cursor stays open on the server between round trips. FerretDB's SQLite backend holds one of
 * its 100 SQLite connections for each open cursor until the client asks for the next batch; with
 * more than ~100 multi-batch reads in flight (a burst of creates, each reading a member's claims)
 * every connection was held by a cursor whose `getMore` waited for a driver connection, and every
 * driver connection waited for a SQLite connection: FerretDB answered `ping` and nothing else
 * until its cursors timed out (issue 13, 200 POSTs/s). A result that fits one reply never waits.
 */
export const ONE_BATCH = { batchSize: 100_000 } as const;

/**
 * Every mongoose find without its own batchSize gets ONE_BATCH (see there). Global, so it
 * reaches every model a Connection compiles; registered when this module loads, before any model.
 */
mongoose.plugin((schema) => {
  schema.pre('find', function () {
    if (this.getOptions().batchSize === undefined) this.setOptions({ batchSize: ONE_BATCH.batchSize });
  });
});

export async function connectDatabase(uri: string, opts: { timeoutMs?: number } = {}): Promise<Connection> {
  const conn = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: opts.timeoutMs ?? 10_000,
    // FerretDB v1 does not implement retryable writes' txnNumber for every command.
    retryWrites: false,
    autoIndex: true,
  });
  await conn.asPromise();
  return conn;
}

/** True when the server answers a ping within the connection's timeouts. */
export async function pingDatabase(conn: Connection): Promise<boolean> {
  try {
    const db = conn.db;
    if (!db) return false;
    const res = await db.admin().command({ ping: 1 });
    return res.ok === 1;
  } catch {
    return false;
  }
}

/**
 * FerretDB's SQLite backend answers "database is locked (SQLITE_BUSY)" when writers collide: a
 * transaction that began reading cannot wait for the write lock (SQLite refuses at once, its busy
 * timeout does not apply), so a burst of writes fails some of them. The write did not happen and
 * can be tried again. MongoDB never answers it.
 */
export function isDatabaseBusy(err: unknown): boolean {
  return /SQLITE_BUSY|database is locked/.test(String((err as { message?: unknown })?.message ?? ''));
}

/**
 * Runs a database write again while the database answers busy (isDatabaseBusy): up to `tries`
 * attempts, 20 ms doubling to 640 ms apart with jitter (about 2.5 s in all); any other error, or
 * busy after the last try, is thrown. Only for writes that may run twice (idempotent, or failed
 * without effect as a busy answer means).
 */
export async function whileBusy<T>(write: () => Promise<T>, tries = 7): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isDatabaseBusy(err) || attempt >= tries) throw err;
      const delay = 20 * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * delay);
    }
  }
}
