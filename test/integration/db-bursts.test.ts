/**
 * The embedded database under bursts. (1) src/db/connection.ts ONE_BATCH: many reads of more than one batch at once must not wedge the
 * embedded database. FerretDB's SQLite backend keeps a SQLite connection (of 100) for every open
 * cursor; 250 reads of 300 documents at once, through a driver pool of 20, used to leave every
 * SQLite connection held by a cursor whose next batch waited for a driver connection — FerretDB
 * then answered nothing but `ping` until its cursors timed out (seen at 200 POST /vms per second).
 * (2) src/config.ts EMBEDDED_MONGO_OPTIONS: 400 updates at once, each finding its document by a
 * field other than `_id`, held FerretDB's 100 SQLite connections in their queries while each waited
 * for a second connection to write — for good — when one process sent them over 200 driver
 * connections; the embedded URI's pool of 12 per process keeps them under 100.
 * Runs against its own FerretDB (or MONGODB_URI's server, where the reads simply complete).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose, { Schema, type Connection } from 'mongoose';
import { EMBEDDED_MONGO_OPTIONS, loadConfig } from '../../src/config';
import { ONE_BATCH } from '../../src/db/connection';
import { freePort, startFerretDb, type ManagedProcess } from '../../src/embedded/processes';
import { ferretDbPath } from '../../src/tools';

const DOCS = 300; // three default first batches (101) of documents
const READS = 250; // more reads in flight than FerretDB has SQLite connections (100)

describe('embedded database under bursts: multi-batch reads and updates at once complete (nothing left holding FerretDB\'s connections)', function () {
  this.timeout(120_000);
  let ferret: ManagedProcess | undefined;
  let dir: string | undefined;
  let conn: Connection;
  let ferretPort = 0;

  before(async () => {
    let uri = loadConfig().mongodbUri;
    if (!uri) {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-cursors-'));
      const port = await freePort();
      ferretPort = port;
      ferret = await startFerretDb({ bin: ferretDbPath(loadConfig().toolsDir), port, dir: path.join(dir, 'ferretdb'), logFile: path.join(dir, 'ferretdb.log') });
      uri = `mongodb://127.0.0.1:${port}/vmflow_cursors`;
    } else {
      const u = new URL(uri);
      u.pathname = `/vmflow_cursors_${process.pid}`;
      uri = u.toString();
    }
    // A small driver pool, as in a busy process: the reads' next batches would queue for it.
    conn = await mongoose.createConnection(uri, { maxPoolSize: 20, retryWrites: false, serverSelectionTimeoutMS: 10_000 }).asPromise();
    const docs = Array.from({ length: DOCS }, (_, i) => ({ _id: `d${i}`, ownerId: 'member', n: i }));
    await conn.db!.collection<{ _id: string }>('things').insertMany(docs);
  });

  after(async () => {
    await conn?.db?.dropDatabase().catch(() => undefined);
    await conn?.close();
    await ferret?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when 250 mongoose finds of 300 documents run at once, then every one returns all 300', async () => {
    const Thing = conn.model('Thing', new Schema({ _id: String, ownerId: String, n: Number }, { collection: 'things' }));
    const results = await Promise.all(Array.from({ length: READS }, () => Thing.find({ ownerId: 'member' }).lean()));
    assert.equal(results.length, READS);
    for (const r of results) assert.equal(r.length, DOCS);
    // The database still answers a read afterwards (it would not, wedged).
    assert.equal(await Thing.countDocuments({ ownerId: 'member' }), DOCS);
  });

  it('when 250 driver finds with ONE_BATCH run at once, then every one returns all 300', async () => {
    const things = conn.db!.collection('things');
    const results = await Promise.all(Array.from({ length: READS }, () => things.find({ ownerId: 'member' }, ONE_BATCH).toArray()));
    for (const r of results) assert.equal(r.length, DOCS);
  });

  it('when 400 updates by a non-_id field run at once through a pool as the embedded URI sets it, then every one is applied', async () => {
    const uri = loadConfig().mongodbUri ? undefined : `mongodb://127.0.0.1:${ferretPort}/vmflow_cursors?${EMBEDDED_MONGO_OPTIONS}`;
    const client = uri ? await mongoose.createConnection(uri, { retryWrites: false }).asPromise() : conn;
    try {
      const rows = client.db!.collection<{ _id: string; k: number; v: number }>('rows');
      await rows.insertMany(Array.from({ length: 1500 }, (_, i) => ({ _id: `r${i}`, k: i, v: 0 })));
      const results = await Promise.all(Array.from({ length: 400 }, (_, i) => rows.updateOne({ k: i }, { $inc: { v: 1 } })));
      assert.equal(results.filter((r) => r.modifiedCount === 1).length, 400);
      assert.equal(await rows.countDocuments({ v: 1 }), 400);
    } finally {
      if (client !== conn) await client.close();
    }
  });

  it('a find that sets its own batchSize keeps it (the default is only a default)', async () => {
    const Thing = conn.model('Thing');
    const q = Thing.find({ ownerId: 'member' }).batchSize(7);
    await q.exec();
    assert.equal(q.getOptions().batchSize, 7);
    const d = Thing.find({ ownerId: 'member' });
    await d.exec();
    assert.equal(d.getOptions().batchSize, ONE_BATCH.batchSize);
  });
});
