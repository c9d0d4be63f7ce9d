/**
 * The orchestration benchmark's baseline (issue 13, item 1): a bare Temporal workflow making a VM
 * with the same five activities and the same cloud calls as createVm (render the Heat template;
 * find + create the stack; poll it; read its outputs and server; write the result to the
 * database), and nothing else — no lease, no progress records, no state history, no payload
 * encryption, no REST API. The limit for vmflow's design on the same machine and clouds.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const a = proxyActivities<BareActivities>({ startToCloseTimeout: '2 minutes', retry: { initialInterval: '500 ms', maximumAttempts: 5 } });
const poll = proxyActivities<BareActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '30 seconds', retry: { maximumAttempts: 5 } });

export async function bareCreateVm(input: { id: string; requirements: Record<string, unknown> }): Promise<{ serverId: string }> {
  const stackName = `bare-${input.id}`;
  const rendered = await a.bareRender({ id: input.id, requirements: input.requirements });
  const stack = await a.bareCreateStack({ stackName, template: rendered.template, parameters: rendered.parameters });
  await poll.bareAwaitStack({ stackName, stackId: stack.stackId });
  const placement = await a.bareReadServer({ stackName, stackId: stack.stackId });
  await a.bareRecord({ id: input.id, serverId: placement.serverId });
  return placement;
}
