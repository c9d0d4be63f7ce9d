import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SelfTestInput, SelfTestResult } from '../src/contracts/system';

const { recordSelfTest } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

/** Proves Temporal → worker → MongoDB end to end (see src/contracts/system.ts). */
export async function selfTest(input: SelfTestInput): Promise<SelfTestResult> {
  const result = await recordSelfTest(input);
  if (result.readBack !== input.note) {
    throw new Error(`self-test read back ${JSON.stringify(result.readBack)} for ${workflowInfo().workflowId}`);
  }
  return result;
}
