/**
 * Disaster-recovery use cases behind the REST API: protect a VM (its DR workflow and the monitor of
 * its cloud account), read its DR state, manual failover / failback / approval (Temporal updates
 * whose validators refuse what the state does not allow), drills, and the member's events.
 */
import crypto from 'node:crypto';
import { markProtectedSetChanged } from './protected-set';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import {
  CLOUD_MONITOR_WORKFLOW,
  DRILL_WORKFLOW,
  DR_SIGNALS,
  DR_STATUS_QUERY,
  approveFailbackUpdate,
  failbackUpdate,
  failoverUpdate,
  DR_WORKFLOW,
  cloudMonitorWorkflowId,
  drWorkflowId,
  drillScheduleId,
  drillWorkflowId,
  type CloudMonitorInput,
  type DrSettings,
  type DrStartInput,
  type DrStatus,
  type DrillInput,
  type FailoverTarget,
  type ManualFailoverRequest,
  type MonitorSettings,
} from '../contracts/dr';
import type { StartedWorkflow } from '../contracts/api/common';
import { drSettingsSchema, drillRequestSchema, failoverRequestSchema, type DrEventView, type DrillView, type DrUnprotected, type DrView } from '../contracts/api/dr';
import { quotaExceeded, runningWorkflowsOf, type MemberQuotas } from '../limits/quotas';
import { pageOf, type PageRequest } from '../limits/pages';
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from '../contracts/api/common';
import { AppError, parseInput } from '../errors';
import { sleep } from '../sleep';
import type { VmService } from '../vms/service';
import { vmSearchAttributes } from '../vms/search';
import { backupModel } from '../backups/model';
import { startOrJoin } from '../vms/start';
import { drEventModel, drProtectionModel, drStateModel, drillModel, guestStatusModel, type DrEventRecord } from './model';
import type { GuestHealthCheck } from './guest-checks';

export interface DrServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  vms: VmService;
  monitor: MonitorSettings;
  defaults: DrSettings;
  healthCheckSeconds: number;
  /** Per-member quotas (src/limits/quotas.ts); unset: no limits. */
  quotas?: Pick<MemberQuotas, 'drillsInFlight' | 'drillMinIntervalSeconds'>;
}

/**
 * Temporal refuses updates while the DR workflow's task is failing — typically for the seconds in
 * which a killed worker's task times out and another worker picks it up. The command may well
 * succeed then, so the API tries again for a bounded while before answering 503.
 */
function workflowTaskFailing(err: unknown): boolean {
  return err instanceof ServiceError && /FAILED_PRECONDITION|Workflow Task in failed state/i.test(err.message + String((err.cause as Error | undefined)?.message ?? ''));
}
/** Waits between tries while the DR workflow cannot take commands (about 25 s in all). */
const UNAVAILABLE_BACKOFF_MS = [1000, 2000, 4000, 8000, 10_000];

function updateRefusal(err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause as { message?: string } | undefined;
    throw AppError.conflict(cause?.message ?? err.message, 'dr_refused');
  }
  if (err instanceof WorkflowNotFoundError) throw AppError.conflict('this VM is not protected (PUT /api/v1/vms/{id}/dr first)', 'not_protected');
  // Temporal refuses updates while the DR workflow's task is failing (e.g. a worker being replaced):
  // the command may succeed later; it is not the member's error and not an unknown one.
  if (workflowTaskFailing(err)) {
    throw new AppError(503, 'dr_unavailable', 'the disaster-recovery workflow of this VM cannot take commands right now; try again shortly', undefined, { retryAfterSeconds: 30 });
  }
  throw err;
}

export class DrService {
  constructor(private readonly d: DrServiceDeps) {}

  private handle(vmId: string) {
    return this.d.temporal.workflow.getHandle(drWorkflowId(vmId));
  }

  /** Enables (or changes) protection: the DR workflow and the monitor of the VM's home account. */
  async protect(ownerId: string, vmId: string, body: unknown): Promise<DrView> {
    const vm = await this.d.vms.get(ownerId, vmId);
    const input = parseInput(drSettingsSchema, body ?? {}, 'DR settings');
    const minDrill = this.d.quotas?.drillMinIntervalSeconds;
    if (minDrill !== undefined && typeof input.drillIntervalSeconds === 'number' && input.drillIntervalSeconds < minDrill) {
      throw AppError.badRequest(`invalid DR settings: drillIntervalSeconds: drills may run at most every ${minDrill} s`, [{ field: 'drillIntervalSeconds', message: `must be at least ${minDrill} (quota)` }]);
    }
    if (vm.cloud !== 'openstack') throw AppError.conflict('disaster recovery protects VMs of the base cloud (OpenStack)', 'not_protectable');
    if (vm.state === 'deleted' || vm.state === 'deleting') throw AppError.conflict(`VM is ${vm.state}`, 'vm_deleted');
    if (!input.enabled) {
      // Answers the DR view like any other PUT (DELETE answers the short DrUnprotected).
      await this.unprotect(ownerId, vmId);
      return this.status(ownerId, vmId);
    }
    const current = await drProtectionModel(this.d.db).findById(vmId).lean();
    const settings: DrSettings = {
      failbackMode: input.failbackMode ?? current?.settings?.failbackMode ?? this.d.defaults.failbackMode,
      failbackAfterHealthySeconds: input.failbackAfterHealthySeconds ?? current?.settings?.failbackAfterHealthySeconds ?? this.d.defaults.failbackAfterHealthySeconds,
    };
    const healthCheck = input.healthCheck === undefined ? (current?.healthCheck ?? null) : input.healthCheck;
    await drProtectionModel(this.d.db).replaceOne({ _id: vmId }, { _id: vmId, ownerId, enabled: true, settings, healthCheck }, { upsert: true });
    await markProtectedSetChanged(this.d.db);
    const start: DrStartInput & { healthCheckSeconds: number } = { vmId, ownerId, settings, healthCheckSeconds: this.d.healthCheckSeconds };
    await this.d.temporal.workflow.signalWithStart(DR_WORKFLOW, {
      workflowId: drWorkflowId(vmId),
      taskQueue: this.d.taskQueue,
      args: [start],
      signal: DR_SIGNALS.settings,
      signalArgs: [settings],
      typedSearchAttributes: vmSearchAttributes(ownerId, vmId, vm.cloud),
      memo: { ownerId, vmId },
    });
    await this.ensureMonitor(vm.accountId);
    if (input.drillIntervalSeconds !== undefined) await this.scheduleDrills(ownerId, vmId, input.drillIntervalSeconds, input.drillTarget ?? 'backup-cloud');
    return this.status(ownerId, vmId);
  }

  /** One monitor per cloud account; starting it again is a no-op. */
  async ensureMonitor(accountId: string): Promise<void> {
    const input: CloudMonitorInput = { accountId, settings: this.d.monitor };
    await this.d.temporal.workflow.start(CLOUD_MONITOR_WORKFLOW, {
      workflowId: cloudMonitorWorkflowId(accountId),
      taskQueue: this.d.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  }

  /**
   * A guest check declared when the VM is created (POST /vms): kept with a protection record that is
   * not enabled yet, so PUT …/dr later protects the VM with it.
   */
  async declareHealthCheck(ownerId: string, vmId: string, healthCheck: GuestHealthCheck): Promise<void> {
    const current = await drProtectionModel(this.d.db).findById(vmId).lean();
    if (current) {
      await drProtectionModel(this.d.db).replaceOne({ _id: vmId }, { ...current, healthCheck });
      if (current.enabled) await markProtectedSetChanged(this.d.db);
      return;
    }
    await drProtectionModel(this.d.db).replaceOne({ _id: vmId }, { _id: vmId, ownerId, enabled: false, settings: this.d.defaults, healthCheck }, { upsert: true });
  }

  async unprotect(ownerId: string, vmId: string): Promise<DrUnprotected> {
    await this.d.vms.get(ownerId, vmId);
    const current = await drProtectionModel(this.d.db).findById(vmId).lean();
    // The guest check stays declared (protecting the VM again brings it back); the rest goes.
    if (current?.healthCheck) await drProtectionModel(this.d.db).replaceOne({ _id: vmId }, { _id: vmId, ownerId, enabled: false, settings: current.settings, healthCheck: current.healthCheck });
    else await drProtectionModel(this.d.db).deleteOne({ _id: vmId });
    await markProtectedSetChanged(this.d.db);
    try {
      await this.handle(vmId).signal(DR_SIGNALS.stop);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    await this.scheduleDrills(ownerId, vmId, null, 'backup-cloud');
    return { vmId, protected: false };
  }

  async status(ownerId: string, vmId: string): Promise<DrView> {
    const vm = await this.d.vms.get(ownerId, vmId);
    const record = await drProtectionModel(this.d.db).findById(vmId).lean();
    const protection = record?.enabled ? record : undefined;
    const guest = record?.healthCheck ? await guestStatusModel(this.d.db).findById(vmId).lean() : undefined;
    // The state drVm wrote for readers (DrStateRecord); the workflow is queried only when it has
    // written none yet (a run begun before it wrote one, or one whose first write is on its way).
    const recorded = protection ? await drStateModel(this.d.db).findById(vmId).lean() : undefined;
    let state: DrStatus | undefined = recorded?.status;
    if (protection && !state) {
      try {
        state = await this.handle(vmId).query<DrStatus>(DR_STATUS_QUERY);
      } catch {
        // not started yet, or no worker answering right now
      }
    }
    const events = await drEventModel(this.d.db).find({ vmId }).sort({ at: -1 }).limit(50).lean();
    const lastFailover = events.find((e) => e.kind === 'failover.completed');
    // The RPO a disaster now would have: the age of the newest backup with an image.
    const newest = await backupModel(this.d.db).findOne({ vmId, image: { $exists: true }, retiredAt: { $exists: false } }, { startedAt: 1 }).sort({ startedAt: -1 }).lean();
    const backupsPaused = vm.placement && vm.placement.cloud !== 'openstack' ? 'the VM runs in the backup cloud (CloudStack): backups resume after failback' : undefined;
    return {
      vmId,
      protected: !!protection,
      ...(protection ? { settings: protection.settings } : {}),
      ...(state ? { state } : {}),
      ...(recorded ? { stateSince: new Date(recorded.since).toISOString() } : {}),
      lastRpoSeconds: state?.lastRpoSeconds ?? lastFailover?.rpoSeconds,
      lastRtoSeconds: state?.lastRtoSeconds ?? lastFailover?.rtoSeconds,
      ...(newest ? { rpoSecondsNow: Math.max(0, (Date.now() - new Date(newest.startedAt).getTime()) / 1000) } : {}),
      ...(backupsPaused ? { backupsPaused } : {}),
      ...(record?.healthCheck ? { healthCheck: record.healthCheck } : {}),
      ...(guest ? { guest: { serverId: guest.serverId, armed: guest.armed, ok: guest.ok, detail: guest.detail, since: new Date(guest.since).toISOString() } } : {}),
      events: events.map(toEventView),
    };
  }

  async failover(ownerId: string, vmId: string, body: unknown): Promise<DrStatus> {
    await this.d.vms.get(ownerId, vmId);
    const req: ManualFailoverRequest = parseInput(failoverRequestSchema, body ?? {});
    return this.update(vmId, (h, updateId) => h.executeUpdate(failoverUpdate, { args: [req], updateId }));
  }

  async failback(ownerId: string, vmId: string): Promise<DrStatus> {
    await this.d.vms.get(ownerId, vmId);
    return this.update(vmId, (h, updateId) => h.executeUpdate(failbackUpdate, { updateId }));
  }

  async approve(ownerId: string, vmId: string): Promise<DrStatus> {
    await this.d.vms.get(ownerId, vmId);
    return this.update(vmId, (h, updateId) => h.executeUpdate(approveFailbackUpdate, { updateId }));
  }

  /** Runs one of the DR workflow's updates; a refusal by its validator is a 409 (updateRefusal). */
  private async update(vmId: string, run: (handle: ReturnType<DrService['handle']>, updateId: string) => Promise<DrStatus>): Promise<DrStatus> {
    // One update id for every try: an update admitted by a try whose answer was lost is not run twice.
    const updateId = crypto.randomUUID();
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(this.handle(vmId), updateId);
      } catch (err) {
        if (workflowTaskFailing(err) && attempt < UNAVAILABLE_BACKOFF_MS.length) {
          await sleep(UNAVAILABLE_BACKOFF_MS[attempt]);
          continue;
        }
        updateRefusal(err);
      }
    }
  }

  async drill(ownerId: string, vmId: string, body: unknown): Promise<StartedWorkflow> {
    const vm = await this.d.vms.get(ownerId, vmId);
    const { target } = parseInput(drillRequestSchema, body ?? {});
    const maxDrills = this.d.quotas?.drillsInFlight;
    if (maxDrills !== undefined) {
      const running = await runningWorkflowsOf(this.d.temporal, DRILL_WORKFLOW, ownerId);
      if (running >= maxDrills) throw quotaExceeded('drillsInFlight', maxDrills, `${running} of your drills are running; wait for one to finish`);
    }
    const workflowId = drillWorkflowId(vmId, crypto.randomUUID());
    const input: DrillInput = { vmId, ownerId, target };
    await startOrJoin(this.d.temporal, DRILL_WORKFLOW, { workflowId, taskQueue: this.d.taskQueue, args: [input], ownerId, vmId, cloud: vm.cloud });
    return { workflowId };
  }

  async drills(ownerId: string, vmId: string, page: PageRequest = {}): Promise<{ drills: DrillView[]; nextCursor?: string }> {
    await this.d.vms.get(ownerId, vmId);
    const p = await pageOf(drillModel(this.d.db), { vmId }, { field: 'startedAt', direction: -1 }, page);
    const drills = p.items.map((d) => ({
      id: d._id,
      workflowId: d.workflowId,
      target: d.target,
      ok: d.ok,
      ...(d.bootSeconds !== undefined ? { bootSeconds: d.bootSeconds } : {}),
      ...(d.rpoSeconds !== undefined ? { rpoSeconds: d.rpoSeconds } : {}),
      ...(d.backupId ? { backupId: d.backupId } : {}),
      cleanedUp: d.cleanedUp,
      ...(d.error ? { error: d.error } : {}),
      startedAt: new Date(d.startedAt).toISOString(),
      finishedAt: new Date(d.finishedAt).toISOString(),
    }));
    return { drills, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
  }

  /** Drills on a schedule (ID `vm-drill:<vmId>`); `null` removes it. */
  private async scheduleDrills(ownerId: string, vmId: string, everySeconds: number | null, target: FailoverTarget): Promise<void> {
    const handle = this.d.temporal.schedule.getHandle(drillScheduleId(vmId));
    if (everySeconds === null) {
      await handle.delete().catch((err) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
      return;
    }
    const input: DrillInput = { vmId, ownerId, target };
    const action = { type: 'startWorkflow' as const, workflowType: DRILL_WORKFLOW, workflowId: drillScheduleId(vmId), taskQueue: this.d.taskQueue, args: [input] };
    try {
      await this.d.temporal.schedule.create({
        scheduleId: drillScheduleId(vmId),
        spec: { intervals: [{ every: everySeconds * 1000 }], jitter: Math.min(everySeconds * 100, 600_000) },
        action,
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
        memo: { ownerId, vmId },
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await handle.update((prev) => ({ ...prev, spec: { intervals: [{ every: everySeconds * 1000 }] }, action }));
    }
  }

  async events(ownerId: string, q: { vmId?: string } & PageRequest): Promise<{ events: DrEventView[]; nextCursor?: string }> {
    const filter: Record<string, unknown> = { ownerId };
    if (q.vmId) filter.vmId = q.vmId;
    const p = await pageOf(drEventModel(this.d.db), filter, { field: 'at', direction: -1 }, q, { max: EVENTS_PAGE_MAX, default: EVENTS_PAGE_DEFAULT });
    return { events: p.items.map(toEventView), ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
  }
}

function toEventView(e: DrEventRecord): DrEventView {
  return {
    id: e._id,
    vmId: e.vmId,
    kind: e.kind,
    message: e.message,
    at: new Date(e.at).toISOString(),
    ...(e.rpoSeconds !== undefined && e.rpoSeconds !== null ? { rpoSeconds: e.rpoSeconds } : {}),
    ...(e.rtoSeconds !== undefined && e.rtoSeconds !== null ? { rtoSeconds: e.rtoSeconds } : {}),
    ...(e.details ? { details: e.details } : {}),
    ...(e.delivery ? { delivery: { status: e.delivery.status, attempts: e.delivery.attempts } } : {}),
  };
}
