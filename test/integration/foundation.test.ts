import assert from 'node:assert/strict';
import { Schema } from 'mongoose';
import { SELF_TEST_WORKFLOW, selfTestWorkflowId, type SelfTestResult } from '../../src/contracts/system';
import { connectDatabase } from '../../src/db/connection';
import { selfTestModel } from '../../src/db/self-test';
import { startTestWorker, type TestWorker } from '../harness/temporal';
import { sharedStack } from '../harness/stack';
import { SEARCH_ATTRIBUTES, ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { Connection } from '@temporalio/client';

describe('foundation: Temporal dev server + worker + FerretDB', function () {
  this.timeout(180_000);
  let tw: TestWorker;

  before(async () => {
    tw = await startTestWorker();
  });
  after(async () => {
    await tw?.stop();
  });

  it('when the selfTest workflow runs, then its activity writes a document through mongoose and reads it back', async () => {
    const workflowId = selfTestWorkflowId(`t-${Date.now()}`);
    const result = await tw.client.workflow.execute<(i: { note: string }) => Promise<SelfTestResult>>(SELF_TEST_WORKFLOW, {
      workflowId,
      taskQueue: tw.taskQueue,
      args: [{ note: 'round trip through FerretDB' }],
    });
    assert.equal(result.readBack, 'round trip through FerretDB');
    assert.equal(result.recordId, workflowId);

    // Read it again through a separate connection: it really is in the database.
    const stack = await sharedStack();
    const other = await connectDatabase(stack.mongoUri);
    try {
      const doc = await selfTestModel(other).findById(workflowId).lean();
      assert.ok(doc, 'document persisted');
      assert.equal(doc.note, 'round trip through FerretDB');
      assert.ok(doc.createdAt instanceof Date);
    } finally {
      await other.close();
    }
  });

  it('when search attributes are ensured on the dev server, then every vmflow attribute is registered and a second call adds nothing', async () => {
    const stack = await sharedStack();
    await ensureSearchAttributes(stack.temporalAddress, stack.namespace);
    assert.deepEqual(await ensureSearchAttributes(stack.temporalAddress, stack.namespace), []);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    try {
      const res = await connection.operatorService.listSearchAttributes({ namespace: stack.namespace });
      for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.ok(name in (res.customAttributes ?? {}), name);
    } finally {
      await connection.close();
    }
  });

  it('when a unique index is violated on FerretDB, then mongoose raises duplicate-key error 11000', async () => {
    // Sign-up (a taken username → 409) and idempotency keys rely on this behaviour.
    const M = tw.db.model('UniqueProbe', new Schema({ key: { type: String, unique: true } }), 'uniqueprobes');
    await M.init();
    await M.create({ key: 'a' });
    await assert.rejects(M.create({ key: 'a' }), (err: { code?: number }) => err.code === 11000);
  });

  it('when several connections insert the same unique key at once, then exactly one insert succeeds', async () => {
    // FerretDB v1 on SQLite does NOT make conditional updates atomic across connections (measured:
    // racing findOneAndUpdate({state:'free'}) let several writers win, and racing $inc lost
    // updates). vmflow therefore never relies on compare-and-set updates: a document has one writer
    // (its workflow), and claims that must be exclusive are inserts guarded by a unique key.
    const stack = await sharedStack();
    const conns = await Promise.all([1, 2, 3, 4].map(() => connectDatabase(stack.mongoUri)));
    try {
      const schema = new Schema({ _id: String, by: String });
      for (let round = 0; round < 5; round++) {
        const results = await Promise.allSettled(
          conns.map((c, i) => c.model('ClaimProbe', schema, 'claimprobes').create({ _id: `claim-${round}`, by: `w${i}` })),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}`);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: number }).code, 11000);
      }
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });
});
