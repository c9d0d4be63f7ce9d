/**
 * Disaster-recovery bookkeeping: what a failover can use (standbys and the backups they came
 * from), events for the user, their webhook delivery, drill reports, and renaming a promoted
 * standby so the next backup makes a new standby instead of replacing the new primary.
 */
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { request } from 'undici';
import type { DrEvent, DrillReport, DrStatus, FailoverTarget } from '../src/contracts/dr';
import { backupModel } from '../src/backups/model';
import { drEventModel, drillModel, drProtectionModel, drStateModel } from '../src/dr/model';
import { whileBusy } from '../src/db/connection';
import { vmModel } from '../src/vms/model';
import { webhookEndpointModel } from '../src/webhooks/model';
import { deleteDrillSchedule } from '../src/dr/schedules';
import type { VmPlacement } from '../src/contracts/vm';
import type { ActivityDeps } from './deps';
import { markProtectedSetChanged } from '../src/dr/protected-set';
import { translateCloudErrors } from './cloud-failures';
import { recordDrEventMetrics } from '../src/metrics/activity-metrics';

export interface DrPlan {
  vmId: string;
  ownerId: string;
  state: string;
  placement?: VmPlacement;
  /** The account the VM was created on (its home in the base cloud). */
  homeAccountId: string;
  baseStandby?: { accountId: string; serverId: string; backupId: string; backupStartedAt: string };
  backupCloudStandby?: { accountId: string; csVmId: string; backupId: string; backupStartedAt: string; templateId?: string };
  latestImage?: { backupId: string; imageId: string; startedAt: string; templateId?: string; templateAccountId?: string };
}

export function createDrStoreActivities(deps: ActivityDeps) {
  return {
    async drPlan(input: { vmId: string }): Promise<DrPlan> {
      const vm = await vmModel(deps.db).findById(input.vmId).lean();
      if (!vm) throw ApplicationFailure.nonRetryable(`VM ${input.vmId} has no record`, 'VmNotFound');
      const backups = await backupModel(deps.db).find({ vmId: input.vmId, retiredAt: { $exists: false } }).sort({ startedAt: -1 }).lean();
      const base = backups.find((b) => b.baseStandby);
      const cs = backups.find((b) => b.backupCloudStandby);
      const img = backups.find((b) => b.image);
      return {
        vmId: vm._id,
        ownerId: vm.ownerId,
        state: vm.state,
        ...(vm.placement ? { placement: vm.placement } : {}),
        homeAccountId: vm.accountId,
        ...(base?.baseStandby
          ? { baseStandby: { accountId: base.baseStandby.accountId, serverId: base.baseStandby.serverId, backupId: base._id, backupStartedAt: new Date(base.startedAt).toISOString() } }
          : {}),
        ...(cs?.backupCloudStandby
          ? {
              backupCloudStandby: {
                accountId: cs.backupCloudStandby.accountId,
                csVmId: cs.backupCloudStandby.csVmId,
                backupId: cs._id,
                backupStartedAt: new Date(cs.startedAt).toISOString(),
                ...(cs.template ? { templateId: cs.template.id } : {}),
              },
            }
          : {}),
        ...(img?.image
          ? {
              latestImage: {
                backupId: img._id,
                imageId: img.image.id,
                startedAt: new Date(img.startedAt).toISOString(),
                ...(img.template ? { templateId: img.template.id, templateAccountId: img.template.accountId } : {}),
              },
            }
          : {}),
      };
    },

    /**
     * Is the base cloud answering? A fresh Keystone authentication plus one Nova call, each bounded
     * by a few seconds; a cloud that does not answer is "down" (an observation, not an error).
     */
    async baseCloudHealth(input: { accountId: string; timeoutMs?: number }): Promise<{ healthy: boolean; detail: string }> {
      if (!deps.cloudAccounts) throw ApplicationFailure.nonRetryable('no cloud account resolver', 'Misconfigured');
      const os = await deps.cloudAccounts.openstack(input.accountId);
      const signal = AbortSignal.any([Context.current().cancellationSignal, AbortSignal.timeout(input.timeoutMs ?? 5000)]);
      try {
        os.session.invalidateToken();
        await os.session.token(signal);
        await os.compute.listFlavors({ signal });
        return { healthy: true, detail: 'Keystone and Nova answer' };
      } catch (err) {
        if (Context.current().cancellationSignal.aborted) throw err;
        return { healthy: false, detail: (err as Error).message.slice(0, 300) };
      }
    },

    /**
     * The promoted standby becomes the VM: it is renamed and the backup records stop calling it a
     * standby, so the next backup makes a fresh standby instead of "replacing" the new primary.
     */
    async promoteStandby(input: { vmId: string; accountId: string; serverId: string; newName: string; target: FailoverTarget }): Promise<void> {
      if (input.target === 'base-standby') {
        await translateCloudErrors(async () => {
          if (!deps.cloudAccounts) throw ApplicationFailure.nonRetryable('no cloud account resolver', 'Misconfigured');
          const os = await deps.cloudAccounts.openstack(input.accountId);
          await os.compute.updateServer(input.serverId, { name: input.newName, signal: Context.current().cancellationSignal });
        });
        await backupModel(deps.db).updateMany({ vmId: input.vmId, 'baseStandby.serverId': input.serverId }, { $unset: { baseStandby: 1 } });
      } else {
        await backupModel(deps.db).updateMany({ vmId: input.vmId, 'backupCloudStandby.csVmId': input.serverId }, { $unset: { backupCloudStandby: 1 } });
      }
    },

    /** Records a failback image as a backup (so retention, restore and VM deletion know it). */
    async recordFailbackImage(input: { backupId: string; vmId: string; ownerId: string; accountId: string; serverId: string; size: string; os: string; image: { id: string; name: string; size: number; checksum: string } }): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      try {
        await backupModel(deps.db).create({
          _id: input.backupId,
          vmId: input.vmId,
          ownerId: input.ownerId,
          workflowId,
          trigger: 'failback',
          status: 'succeeded',
          startedAt: new Date(),
          finishedAt: new Date(),
          source: { accountId: input.accountId, serverId: input.serverId, size: input.size, os: input.os },
          image: input.image,
          tasks: [],
        });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    },

    /**
     * drVm's status for readers (src/dr/model.ts, DrStateRecord): run as a local activity whenever
     * the status changes, one after another, so the last write is the newest state.
     */
    async recordDrState(input: { vmId: string; ownerId: string; status: DrStatus; since: string }): Promise<void> {
      const runId = Context.current().info.workflowExecution?.runId;
      const status = JSON.parse(JSON.stringify(input.status)) as DrStatus;
      // A write burst on FerretDB answers SQLITE_BUSY: waited out, or readers would see an older state.
      await whileBusy(() => drStateModel(deps.db).updateOne({ _id: input.vmId }, { $set: { ownerId: input.ownerId, runId, status, since: new Date(input.since), updatedAt: new Date() } }, { upsert: true }));
    },

    /** Protection stopped: drVm's record goes with it (readers then see an unprotected VM). */
    async removeDrState(input: { vmId: string }): Promise<void> {
      await whileBusy(() => drStateModel(deps.db).deleteOne({ _id: input.vmId }));
    },

    /** Inserts the event once (its id is chosen by the workflow); `deliver` when there is a webhook to send it to. */
    async recordDrEvent(input: DrEvent): Promise<{ deliver: boolean }> {
      // Delivered when the operator's webhook is configured or the member registered their own.
      const toOperator = !!deps.alerts?.webhookUrl;
      const deliver = toOperator || (await webhookEndpointModel(deps.db).exists({ ownerId: input.ownerId })) !== null;
      try {
        await drEventModel(deps.db).create({
          _id: input.id,
          ownerId: input.ownerId,
          vmId: input.vmId,
          kind: input.kind,
          message: input.message,
          at: new Date(input.at),
          ...(input.rpoSeconds !== undefined ? { rpoSeconds: input.rpoSeconds } : {}),
          ...(input.rtoSeconds !== undefined ? { rtoSeconds: input.rtoSeconds } : {}),
          ...(input.details ? { details: input.details } : {}),
          // The operator's webhook; members' deliveries are in webhook_deliveries (src/webhooks).
          delivery: { status: toOperator ? 'pending' : 'disabled', attempts: 0 },
        });
        // Counted once: a retried activity finds the event already there (11000) and counts nothing.
        recordDrEventMetrics(input);
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
      return { deliver };
    },

    /**
     * POSTs the event to the configured webhook, signed with HMAC-SHA256 of the body
     * (`X-Vmflow-Signature: sha256=<hex>`). Non-2xx or no answer → retryable; the retry policy of
     * the alert workflow decides how long to keep trying.
     */
    async deliverWebhook(input: { eventId: string; final?: boolean }): Promise<{ status: number }> {
      const Event = drEventModel(deps.db);
      const ev = await Event.findById(input.eventId).lean();
      if (!ev) throw ApplicationFailure.nonRetryable(`event ${input.eventId} not found`, 'EventNotFound');
      const url = deps.alerts?.webhookUrl;
      if (!url) {
        await Event.updateOne({ _id: ev._id }, { $set: { delivery: { status: 'disabled', attempts: 0 } } });
        return { status: 0 };
      }
      const attempt = Context.current().info.attempt;
      const body = JSON.stringify({
        id: ev._id,
        kind: ev.kind,
        vmId: ev.vmId,
        ownerId: ev.ownerId,
        message: ev.message,
        at: new Date(ev.at).toISOString(),
        ...(ev.rpoSeconds !== undefined ? { rpoSeconds: ev.rpoSeconds } : {}),
        ...(ev.rtoSeconds !== undefined ? { rtoSeconds: ev.rtoSeconds } : {}),
        ...(ev.details ? { details: ev.details } : {}),
      });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-vmflow-event': ev.kind, 'x-vmflow-delivery': `${ev._id}:${attempt}` };
      if (deps.alerts?.webhookSecret) headers['x-vmflow-signature'] = `sha256=${crypto.createHmac('sha256', deps.alerts.webhookSecret).update(body).digest('hex')}`;
      try {
        const res = await request(url, { method: 'POST', headers, body, headersTimeout: 10_000, bodyTimeout: 10_000, signal: Context.current().cancellationSignal });
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`webhook answered ${res.statusCode}`);
        await Event.updateOne({ _id: ev._id }, { $set: { delivery: { status: 'delivered', attempts: attempt, deliveredAt: new Date() } } });
        return { status: res.statusCode };
      } catch (err) {
        await Event.updateOne({ _id: ev._id }, { $set: { delivery: { status: 'pending', attempts: attempt, lastError: (err as Error).message } } });
        throw err;
      }
    },

    async markWebhookFailed(input: { eventId: string; error: string }): Promise<void> {
      const ev = await drEventModel(deps.db).findById(input.eventId).lean();
      if (!ev) return;
      await drEventModel(deps.db).updateOne({ _id: input.eventId }, { $set: { delivery: { status: 'failed', attempts: ev.delivery?.attempts ?? 0, lastError: input.error } } });
    },

    /**
     * deleteVm: the VM is no longer protected (its DR workflow is told to stop separately), and its
     * drill schedule goes with it — left behind, it would start drills of a VM that is gone.
     */
    async disableProtection(input: { vmId: string }): Promise<void> {
      await drProtectionModel(deps.db).deleteOne({ _id: input.vmId });
      if (deps.temporalClient) await deleteDrillSchedule(deps.temporalClient, input.vmId);
      await markProtectedSetChanged(deps.db);
    },

    async recordDrill(input: DrillReport & { ownerId: string }): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      await drillModel(deps.db).replaceOne(
        { _id: input.drillId },
        {
          _id: input.drillId,
          vmId: input.vmId,
          ownerId: input.ownerId,
          workflowId,
          target: input.target,
          ok: input.ok,
          ...(input.bootSeconds !== undefined ? { bootSeconds: input.bootSeconds } : {}),
          ...(input.backupId ? { backupId: input.backupId } : {}),
          ...(input.rpoSeconds !== undefined ? { rpoSeconds: input.rpoSeconds } : {}),
          cleanedUp: input.cleanedUp,
          ...(input.error ? { error: input.error } : {}),
          startedAt: new Date(input.startedAt),
          finishedAt: new Date(input.finishedAt),
        },
        { upsert: true },
      );
    },
  };
}
