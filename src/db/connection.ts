/**
 * MongoDB access through mongoose. Each process (API, worker, a test) opens its own Connection
 * rather than using mongoose's global one, so tests can hold several without interference.
 *
 * FerretDB (the embedded default) has no multi-document transactions and no change streams:
 * every write in vmflow is a single-document atomic update (findOneAndUpdate with a filter on the
 * expected state), and nothing relies on watch().
 */
import mongoose, { type Connection } from 'mongoose';

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
