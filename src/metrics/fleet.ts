/**
 * Fleet gauges, read on scrape from where the truth is kept, and cached for a few seconds so
 * several scrapers cost one read: VMs by state and by the cloud they run in (MongoDB), protected
 * VMs by DR state (each DR workflow's `drStatus` query, bounded), failbacks in progress and for
 * how long (DR state + the `failback.started` event), backup freshness against each VM's period
 * (RPO), bytes of backup images held in the image store (the catalog), and each cloud monitor's
 * last completed check (its `monitorStatus` query). Runs in the API process (one per deployment,
 * where workers scale out).
 */
import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import { Gauge, type Registry } from 'prom-client';
import { backupModel, backupPolicyModel } from '../backups/model';
import { CLOUD_MONITOR_WORKFLOW, DR_STATUS_QUERY, drWorkflowId, type DrState, type DrStatus } from '../contracts/dr';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../contracts/dr-monitor';
import { drEventModel, drProtectionModel } from '../dr/model';
import type { Logger } from '../logger';
import { vmModel } from '../vms/model';
import { cronPeriodSeconds } from './cron-period';

export const VM_STATES = ['creating', 'active', 'updating', 'deleting', 'deleted', 'failed'] as const;
export const DR_STATES: readonly (DrState | 'Unknown')[] = ['Protected', 'Degraded', 'FailingOver', 'FailedOver', 'FailingBack', 'Unknown'];
/** DR workflows queried per refresh; more protected VMs than this are counted as `unsampled`. */
export const MAX_DR_QUERIES = 2000;
/** Cloud monitors read per refresh (one per OpenStack account with protected VMs). */
export const MAX_MONITORS = 200;
const QUERY_CONCURRENCY = 8;
const QUERY_DEADLINE_MS = 3000;

export interface FleetSnapshot {
  vmsByState: Record<string, number>;
  vmsByCloud: Record<string, number>;
  protectedVms: number;
  drStates: Record<string, number>;
  drUnsampled: number;
  failbacksInProgress: number;
  oldestFailbackSeconds: number;
  /** VMs with an active backup policy, and how many are stale (newest good backup older than 1× / 2× the period), split by DR protection. */
  backupPolicies: { protected: boolean; count: number; overPeriod: number; overTwicePeriod: number }[];
  perVm: { vmId: string; protected: boolean; rpoSeconds: number; periodSeconds: number }[];
  imageStoreBytes: number;
  imageStoreObjects: number;
  monitors: { accountId: string; ok: boolean; lastCheckAgeSeconds?: number; intervalSeconds?: number; cloudHealthy?: boolean }[];
}

export interface FleetMetricsDeps {
  db: Connection;
  temporal: Client;
  logger: Logger;
  /** Per-VM RPO series (VMFLOW_METRICS_PER_VM). */
  perVm: boolean;
  /** How long a snapshot serves scrapes, in ms (default 5000). */
  cacheMs?: number;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

export class FleetMetrics {
  private cached?: { at: number; value: Promise<FleetSnapshot | undefined> };

  constructor(private readonly d: FleetMetricsDeps) {}

  /** The current snapshot (shared by concurrent scrapes); undefined when it could not be read. */
  snapshot(): Promise<FleetSnapshot | undefined> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.d.cacheMs ?? 5000)) return this.cached.value;
    const value = this.read().catch((err: unknown) => {
      this.d.logger.warn({ err }, 'fleet metrics could not be read');
      return undefined;
    });
    this.cached = { at: now, value };
    return value;
  }

  private query<T>(workflowId: string, name: string): Promise<T> {
    return this.d.temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => this.d.temporal.workflow.getHandle(workflowId).query<T>(name));
  }

  async read(): Promise<FleetSnapshot> {
    const now = Date.now();
    const vmsByState: Record<string, number> = Object.fromEntries(VM_STATES.map((s) => [s, 0]));
    const vmsByCloud: Record<string, number> = { openstack: 0, cloudstack: 0 };
    const vms = await vmModel(this.d.db).find({}, { _id: 1, state: 1, 'placement.cloud': 1, createdAt: 1 }).lean<Array<{ _id: string; state: string; placement?: { cloud?: string }; createdAt?: Date }>>();
    const live = new Map<string, { createdAt?: Date; state: string }>();
    for (const vm of vms) {
      vmsByState[vm.state] = (vmsByState[vm.state] ?? 0) + 1;
      if (vm.state === 'deleted' || vm.state === 'deleting') continue;
      live.set(vm._id, { createdAt: vm.createdAt, state: vm.state });
      if (vm.placement?.cloud) vmsByCloud[vm.placement.cloud] = (vmsByCloud[vm.placement.cloud] ?? 0) + 1;
    }

    const protections = await drProtectionModel(this.d.db).find({ enabled: true }, { _id: 1 }).lean();
    const protectedIds = protections.map((p) => p._id).filter((id) => live.has(id)).sort();
    const protectedSet = new Set(protectedIds);

    // DR state: what each DR workflow says (a VM whose workflow does not answer in time is Unknown).
    const drStates: Record<string, number> = Object.fromEntries(DR_STATES.map((s) => [s, 0]));
    const sampled = protectedIds.slice(0, MAX_DR_QUERIES);
    const statuses = await mapLimited(sampled, QUERY_CONCURRENCY, async (vmId) => {
      try {
        return { vmId, status: await this.query<DrStatus>(drWorkflowId(vmId), DR_STATUS_QUERY) };
      } catch {
        return { vmId, status: undefined };
      }
    });
    const failingBack: string[] = [];
    for (const { vmId, status } of statuses) {
      const state = status?.state ?? 'Unknown';
      drStates[state] = (drStates[state] ?? 0) + 1;
      if (state === 'FailingBack') failingBack.push(vmId);
    }
    let oldestFailbackSeconds = 0;
    for (const vmId of failingBack) {
      const started = await drEventModel(this.d.db).findOne({ vmId, kind: 'failback.started' }, { at: 1 }).sort({ at: -1 }).lean();
      if (started) oldestFailbackSeconds = Math.max(oldestFailbackSeconds, (now - new Date(started.at).getTime()) / 1000);
    }

    // RPO: the newest good backup (one with an image, not retired) of each VM with an active policy.
    const policies = await backupPolicyModel(this.d.db).find({ paused: { $ne: true } }, { _id: 1, intervalSeconds: 1, cron: 1 }).lean();
    const backups = await backupModel(this.d.db)
      .find({ retiredAt: { $exists: false } }, { vmId: 1, startedAt: 1, image: 1, 'store.size': 1 })
      .lean<Array<{ vmId: string; startedAt: Date; image?: unknown; store?: { size?: number } }>>();
    const newest = new Map<string, number>();
    let imageStoreBytes = 0;
    let imageStoreObjects = 0;
    for (const b of backups) {
      if (b.store) {
        imageStoreObjects += 1;
        imageStoreBytes += b.store.size ?? 0;
      }
      if (!b.image) continue;
      const t = new Date(b.startedAt).getTime();
      if (t > (newest.get(b.vmId) ?? 0)) newest.set(b.vmId, t);
    }
    const groups = new Map<boolean, { protected: boolean; count: number; overPeriod: number; overTwicePeriod: number }>([
      [true, { protected: true, count: 0, overPeriod: 0, overTwicePeriod: 0 }],
      [false, { protected: false, count: 0, overPeriod: 0, overTwicePeriod: 0 }],
    ]);
    const perVm: FleetSnapshot['perVm'] = [];
    for (const p of policies) {
      const vm = live.get(p._id);
      if (!vm || vm.state === 'creating' || vm.state === 'failed') continue;
      const periodSeconds = p.intervalSeconds ?? (p.cron ? cronPeriodSeconds(p.cron) : undefined);
      if (!periodSeconds) continue;
      // Without any good backup yet, the RPO runs from the VM's creation.
      const since = newest.get(p._id) ?? (vm.createdAt ? new Date(vm.createdAt).getTime() : now);
      const rpoSeconds = Math.max(0, (now - since) / 1000);
      const isProtected = protectedSet.has(p._id);
      const g = groups.get(isProtected)!;
      g.count += 1;
      if (rpoSeconds > periodSeconds) g.overPeriod += 1;
      if (rpoSeconds > 2 * periodSeconds) g.overTwicePeriod += 1;
      if (this.d.perVm) perVm.push({ vmId: p._id, protected: isProtected, rpoSeconds, periodSeconds });
    }

    // Monitors: each one's own account of its last completed check.
    const monitorIds: string[] = [];
    for await (const wf of this.d.temporal.workflow.list({ query: `WorkflowType = '${CLOUD_MONITOR_WORKFLOW}' AND ExecutionStatus = 'Running'` })) {
      monitorIds.push(wf.workflowId);
      if (monitorIds.length >= MAX_MONITORS) break;
    }
    const monitors = await mapLimited(monitorIds, QUERY_CONCURRENCY, async (workflowId) => {
      const accountId = workflowId.replace(/^dr-monitor:/, '');
      try {
        const s = await this.query<MonitorStatus>(workflowId, MONITOR_STATUS_QUERY);
        return {
          accountId,
          ok: true,
          ...(s.lastProbe ? { lastCheckAgeSeconds: Math.max(0, (now - Date.parse(s.lastProbe.checkedAt)) / 1000) } : {}),
          intervalSeconds: s.settings.intervalSeconds,
          cloudHealthy: s.cloudHealthy,
        };
      } catch {
        return { accountId, ok: false };
      }
    });

    return {
      vmsByState,
      vmsByCloud,
      protectedVms: protectedIds.length,
      drStates,
      drUnsampled: protectedIds.length - sampled.length,
      failbacksInProgress: failingBack.length,
      oldestFailbackSeconds,
      backupPolicies: [...groups.values()],
      perVm,
      imageStoreBytes,
      imageStoreObjects,
      monitors: monitors.sort((a, b) => a.accountId.localeCompare(b.accountId)),
    };
  }

  /** Registers the fleet gauges on `registry`; each scrape reads the (cached) snapshot. */
  register(registry: Registry): void {
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: FleetSnapshot) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [registry],
        collect: async function (this: Gauge<L>) {
          this.reset();
          const s = await fleet.snapshot();
          if (s) fill(this, s);
        },
      });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const fleet = this;
    new Gauge({
      name: 'vmflow_fleet_read_ok',
      help: '1 when the fleet gauges below were read from MongoDB and Temporal at this scrape, 0 when the read failed (see the API log)',
      registers: [registry],
      collect: async function (this: Gauge) {
        this.set((await fleet.snapshot()) ? 1 : 0);
      },
    });
    gauge('vmflow_vms', 'VM records by state', ['state'], (g, s) => {
      for (const [state, n] of Object.entries(s.vmsByState)) g.set({ state }, n);
    });
    gauge('vmflow_vms_running_in', 'Live VMs (not deleted) by the cloud their live copy runs in (openstack: base cloud, cloudstack: failed over to the backup cloud)', ['cloud'], (g, s) => {
      for (const [cloud, n] of Object.entries(s.vmsByCloud)) g.set({ cloud }, n);
    });
    gauge('vmflow_dr_protected_vms', 'Live VMs with disaster-recovery protection enabled', [], (g, s) => g.set(s.protectedVms));
    gauge('vmflow_dr_vms', 'Protected VMs by the state their DR workflow reports (Unknown: it did not answer the query in time)', ['dr_state'], (g, s) => {
      for (const [dr_state, n] of Object.entries(s.drStates)) g.set({ dr_state }, n);
    });
    gauge('vmflow_dr_vms_unsampled', `Protected VMs whose DR state was not queried at this scrape (beyond ${MAX_DR_QUERIES})`, [], (g, s) => g.set(s.drUnsampled));
    gauge('vmflow_dr_failbacks_in_progress', 'VMs whose DR workflow is failing back now', [], (g, s) => g.set(s.failbacksInProgress));
    gauge('vmflow_dr_failback_oldest_seconds', 'How long the oldest failback in progress has been running (since its failback.started event), 0 when none', [], (g, s) => g.set(s.oldestFailbackSeconds));
    gauge('vmflow_backup_policy_vms', 'VMs with an active (not paused) backup policy, by DR protection', ['protected'], (g, s) => {
      for (const p of s.backupPolicies) g.set({ protected: String(p.protected) }, p.count);
    });
    gauge('vmflow_backup_stale_vms', 'VMs with an active backup policy whose newest good backup (with an image) is older than their period (over="period") or twice it (over="twice_period"), by DR protection', ['protected', 'over'], (g, s) => {
      for (const p of s.backupPolicies) {
        g.set({ protected: String(p.protected), over: 'period' }, p.overPeriod);
        g.set({ protected: String(p.protected), over: 'twice_period' }, p.overTwicePeriod);
      }
    });
    if (this.d.perVm) {
      gauge('vmflow_vm_rpo_seconds', 'Per VM (VMFLOW_METRICS_PER_VM): age of its newest good backup (RPO if it failed now)', ['vm_id', 'protected'], (g, s) => {
        for (const v of s.perVm) g.set({ vm_id: v.vmId, protected: String(v.protected) }, v.rpoSeconds);
      });
      gauge('vmflow_vm_backup_period_seconds', 'Per VM (VMFLOW_METRICS_PER_VM): its backup period (cron: the longest gap the expression allows)', ['vm_id'], (g, s) => {
        for (const v of s.perVm) g.set({ vm_id: v.vmId }, v.periodSeconds);
      });
    }
    gauge('vmflow_image_store_bytes', 'Bytes of backup images the catalog keeps in the image store (unretired backups)', [], (g, s) => g.set(s.imageStoreBytes));
    gauge('vmflow_image_store_objects', 'Backup images the catalog keeps in the image store', [], (g, s) => g.set(s.imageStoreObjects));
    gauge('vmflow_monitor_up', 'Per cloud monitor (account): 1 when it answered its status query at this scrape', ['account'], (g, s) => {
      for (const m of s.monitors) g.set({ account: m.accountId }, m.ok ? 1 : 0);
    });
    gauge('vmflow_monitor_last_check_age_seconds', 'Per cloud monitor: seconds since its last completed check', ['account'], (g, s) => {
      for (const m of s.monitors) if (m.lastCheckAgeSeconds !== undefined) g.set({ account: m.accountId }, m.lastCheckAgeSeconds);
    });
    gauge('vmflow_monitor_interval_seconds', 'Per cloud monitor: its check interval', ['account'], (g, s) => {
      for (const m of s.monitors) if (m.intervalSeconds !== undefined) g.set({ account: m.accountId }, m.intervalSeconds);
    });
    gauge('vmflow_monitor_cloud_healthy', 'Per cloud monitor: 1 while it judges its cloud healthy', ['account'], (g, s) => {
      for (const m of s.monitors) if (m.cloudHealthy !== undefined) g.set({ account: m.accountId }, m.cloudHealthy ? 1 : 0);
    });
  }
}
