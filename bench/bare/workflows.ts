/**
 * The orchestration benchmark's baseline (issue 13, item 1): a bare Temporal workflow making a VM
 * with the same five activities and the same cloud calls as createVm (render the Heat template;
 * find + create the stack; poll it; read its outputs and server; write the result to the
 * database), and nothing else — no lease, no progress records, no state history, no payload
 * encryption, no REST API. The limit for vmflow's design on the same machine and clouds.
 * bareBackupVm is the same for a backup run (backupVm).
 */
import { proxyActivities, uuid4 } from '@temporalio/workflow';
import type { BareActivities } from './activities';
import type { BareBackupActivities } from './backup-activities';

const a = proxyActivities<BareActivities & BareBackupActivities>({ startToCloseTimeout: '2 minutes', retry: { initialInterval: '500 ms', maximumAttempts: 5 } });
const poll = proxyActivities<BareActivities & BareBackupActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '30 seconds', retry: { maximumAttempts: 5 } });

export async function bareCreateVm(input: { id: string; requirements: Record<string, unknown> }): Promise<{ serverId: string }> {
  const stackName = `bare-${input.id}`;
  const rendered = await a.bareRender({ id: input.id, requirements: input.requirements });
  const stack = await a.bareCreateStack({ stackName, template: rendered.template, parameters: rendered.parameters });
  await poll.bareAwaitStack({ stackName, stackId: stack.stackId });
  const placement = await a.bareReadServer({ stackName, stackId: stack.stackId });
  await a.bareRecord({ id: input.id, serverId: placement.serverId });
  return placement;
}

export interface BareBackupInput {
  /** The bare VM (bareCreateVm's id) and its server. */
  id: string;
  serverId: string;
  flavorName: string;
  networkName: string;
  serviceOfferingName: string;
}

/**
 * The backup baseline (issue 13, item 1): backupVm's cloud steps in its task graph's shape —
 * snapshot → image active, then the base standby beside export → template → template ready →
 * backup-cloud standby — then the leftover sweep's listings and one database write. No lease, no
 * plan or record activities, no retention, no payload encryption, no REST API.
 */
export async function bareBackupVm(input: BareBackupInput): Promise<{ backupId: string }> {
  const backupId = uuid4();
  const name = `bare-${input.id}-backup-${backupId}`;
  const storeKey = `bare/${input.id}/${backupId}.qcow2`;
  const { imageId } = await a.bareSnapshot({ serverId: input.serverId, imageName: name });
  const image = await poll.bareAwaitImage({ imageId });
  const standbyName = `bare-${input.id}-standby`;
  const [base, backupCloud] = await Promise.all([
    poll.bareBaseStandby({ name: standbyName, imageId, flavorName: input.flavorName, networkName: input.networkName }),
    (async () => {
      await poll.bareExport({ imageId, storeKey, md5: image.checksum });
      const { templateId } = await a.bareRegisterTemplate({ templateName: name, storeKey, md5: image.checksum });
      await poll.bareAwaitTemplate({ templateId });
      const standby = await poll.bareBackupCloudStandby({ name: standbyName, templateId, serviceOfferingName: input.serviceOfferingName });
      return { templateId, ...standby };
    })(),
  ]);
  await a.bareSweep({ namePrefix: `bare-${input.id}-backup-`, storePrefix: `bare/${input.id}/` });
  await a.bareRecordBackup({ id: input.id, backupId, imageId, storeKey, templateId: backupCloud.templateId, baseStandbyId: base.serverId, backupCloudStandbyId: backupCloud.csVmId });
  return { backupId };
}
