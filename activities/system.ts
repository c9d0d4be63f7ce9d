import { Context } from '@temporalio/activity';
import type { SelfTestInput, SelfTestResult } from '../src/contracts/system';
import { selfTestModel } from '../src/db/self-test';
import type { ActivityDeps } from './deps';

export function createSystemActivities(deps: ActivityDeps) {
  return {
    /** Idempotent: the record is keyed by the workflow ID, so a retry rewrites the same document. */
    async recordSelfTest(input: SelfTestInput): Promise<SelfTestResult> {
      const { info } = Context.current();
      const workflowId = info.workflowExecution?.workflowId ?? info.activityId;
      const SelfTest = selfTestModel(deps.db);
      await SelfTest.updateOne({ _id: workflowId }, { $set: { workflowId, note: input.note } }, { upsert: true });
      const doc = await SelfTest.findById(workflowId).lean();
      if (!doc) throw new Error(`self-test record ${workflowId} was written but cannot be read back`);
      return { recordId: doc._id, readBack: doc.note, writtenAt: doc.createdAt.toISOString() };
    },
  };
}
