/**
 * drDrill — a disaster-recovery drill (AWS DRS "drill", Azure Site Recovery "test failover"): boot
 * an isolated copy of the VM from its latest backup in the chosen cloud, without switching the user
 * or touching production or the standbys, measure how long it took to reach running, tear it down,
 * and store a report. The tear-down runs even when the drill fails or is cancelled.
 */
import { CancellationScope, ParentClosePolicy, patched, startChild, uuid4 } from '@temporalio/workflow';
import { alertWorkflowId, DELIVER_ALERT_WORKFLOW, drillServerName, type DrillInput, type DrillReport } from '../src/contracts/dr';
import { Progress } from './lib/progress';
import { withVmLease } from './lib/ownership';
import { describeError } from './lib/task-graph';
import { statusPoll, store } from './lib/activity-presets';

/** Drills recorded before a cancelled boot was cleaned up by name replay without it. */
const TEARDOWN_BY_NAME_PATCH = 'drill-teardown-by-name';
/** Drills recorded before their events were delivered to webhooks replay without the delivery. */
const DRILL_ALERTS_PATCH = 'drill-event-delivery';

export async function drDrill(input: DrillInput): Promise<DrillReport> {
  // A drill touches only its own copy, but it reads the VM's backups and standbys: it runs while
  // nothing changes them, and gives way (is cancelled) when a failover needs the VM.
  return withVmLease(input.vmId, 'drill', {}, () => drillHoldingLease(input));
}

async function drillHoldingLease(input: DrillInput): Promise<DrillReport> {
  const progress = new Progress('drDrill', ['plan', 'boot', 'tear-down', 'report']);
  const drillId = uuid4();
  const startedAt = new Date().toISOString();
  const name = drillServerName(input.vmId, drillId.slice(0, 8));
  let made: { cloud: 'openstack'; accountId: string; serverId: string } | { cloud: 'cloudstack'; accountId: string; csVmId: string } | undefined;
  /** Where a boot was asked for: a boot cancelled (a failover took the VM) may have made a copy it never reported. */
  let booting: { cloud: 'openstack' | 'cloudstack'; accountId: string } | undefined;
  const report: DrillReport = { drillId, vmId: input.vmId, target: input.target, ok: false, cleanedUp: false, startedAt, finishedAt: startedAt };
  try {
    progress.start('plan');
    const plan = await store.drPlan({ vmId: input.vmId });
    const sizes = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
    progress.start('boot', name);
    if (input.target === 'backup-cloud') {
      const templateId = plan.backupCloudStandby?.templateId ?? plan.latestImage?.templateId;
      const accountId = plan.backupCloudStandby?.accountId ?? plan.latestImage?.templateAccountId;
      if (!templateId || !accountId) throw new Error('no backup has reached the backup cloud yet');
      report.backupId = plan.backupCloudStandby?.backupId ?? plan.latestImage?.backupId;
      booting = { cloud: 'cloudstack', accountId };
      const booted = await statusPoll.csBootIsolated({ accountId, name, templateId, serviceOfferingName: sizes.serviceOfferingName });
      made = { cloud: 'cloudstack', accountId, csVmId: booted.csVmId };
      report.bootSeconds = booted.bootSeconds;
    } else {
      if (!plan.latestImage) throw new Error('no backup image yet');
      report.backupId = plan.latestImage.backupId;
      booting = { cloud: 'openstack', accountId: plan.homeAccountId };
      const booted = await statusPoll.osBootIsolated({ accountId: plan.homeAccountId, name, imageId: plan.latestImage.imageId, flavorName: sizes.flavorName, networkName: sizes.networkName });
      made = { cloud: 'openstack', accountId: plan.homeAccountId, serverId: booted.serverId };
      report.bootSeconds = booted.bootSeconds;
    }
    const backupAt = input.target === 'backup-cloud' ? plan.backupCloudStandby?.backupStartedAt ?? plan.latestImage?.startedAt : plan.latestImage?.startedAt;
    if (backupAt) report.rpoSeconds = Math.max(0, (Date.now() - Date.parse(backupAt)) / 1000);
    report.ok = true;
  } catch (err) {
    report.error = describeError(err);
    progress.error(err);
  } finally {
    progress.start('tear-down');
    await CancellationScope.nonCancellable(async () => {
      try {
        if (made?.cloud === 'openstack') await statusPoll.osDeleteServer({ accountId: made.accountId, serverId: made.serverId });
        if (made?.cloud === 'cloudstack') await statusPoll.csDestroyStandby({ accountId: made.accountId, csVmId: made.csVmId });
        if (!made && booting && patched(TEARDOWN_BY_NAME_PATCH)) await statusPoll.removeDrillCopies({ ...booting, name });
        report.cleanedUp = true;
      } catch (err) {
        report.error = [report.error, `tear-down failed: ${describeError(err)}`].filter(Boolean).join('; ');
      }
      report.finishedAt = new Date().toISOString();
      progress.start('report');
      await store.recordDrill({ ...report, ownerId: input.ownerId });
      const eventId = uuid4();
      const { deliver } = await store.recordDrEvent({
        id: eventId,
        ownerId: input.ownerId,
        vmId: input.vmId,
        kind: report.ok ? 'drill.completed' : 'drill.failed',
        message: report.ok ? `drill in the ${input.target}: an isolated copy reached running in ${report.bootSeconds?.toFixed(1)} s and was removed` : `drill in the ${input.target} failed: ${report.error}`,
        at: report.finishedAt,
        ...(report.rpoSeconds !== undefined ? { rpoSeconds: report.rpoSeconds } : {}),
        details: { drillId, bootSeconds: report.bootSeconds, cleanedUp: report.cleanedUp },
      });
      if (deliver && patched(DRILL_ALERTS_PATCH)) {
        // Delivery retries on its own (deliverAlert, as for the DR workflow's events); the drill only starts it.
        await startChild(DELIVER_ALERT_WORKFLOW, { workflowId: alertWorkflowId(eventId), args: [{ eventId }], parentClosePolicy: ParentClosePolicy.ABANDON });
      }
    });
    progress.complete();
  }
  return report;
}
