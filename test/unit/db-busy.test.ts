/** src/db/connection.ts: a write the embedded database refused as busy is tried again, nothing else is. */
import assert from 'node:assert/strict';
import { isDatabaseBusy, whileBusy } from '../../src/db/connection';

/** What FerretDB's SQLite backend answers a write that collided with another (seen under 500 concurrent creates). */
const busy = () => Object.assign(new Error('[msg_update.go:133 handler.(*Handler).updateDocument] [collection.go:177 sqlite.(*collection).UpdateAll.func1] database is locked (5) (SQLITE_BUSY)'), { name: 'MongoServerError' });

describe('database busy: writes are tried again, other failures are not', () => {
  it('when the database answers busy twice, then the write is tried a third time and its result returned', async () => {
    let calls = 0;
    const result = await whileBusy(async () => {
      calls++;
      if (calls < 3) throw busy();
      return 'written';
    });
    assert.equal(result, 'written');
    assert.equal(calls, 3);
  });

  it('when the database stays busy, then the busy error is thrown after the last try', async () => {
    let calls = 0;
    await assert.rejects(
      whileBusy(async () => {
        calls++;
        throw busy();
      }, 3),
      (err) => isDatabaseBusy(err),
    );
    assert.equal(calls, 3);
  });

  it('when the write fails otherwise (a duplicate key), then it is not tried again', async () => {
    let calls = 0;
    const dup = Object.assign(new Error('E11000 duplicate key error'), { code: 11000 });
    await assert.rejects(
      whileBusy(async () => {
        calls++;
        throw dup;
      }),
      (err) => err === dup,
    );
    assert.equal(calls, 1);
    assert.equal(isDatabaseBusy(dup), false);
    assert.equal(isDatabaseBusy(undefined), false);
  });
});
