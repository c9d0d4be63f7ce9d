/**
 * Failover: the VM leaves a broken server (or a base cloud that is down) for a standby — the one
 * in the base cloud, or the one in the backup cloud (CloudStack) — under the VM's lease, so that
 * nothing else acts on it meanwhile. A failed failover is tried again, each wait longer, until it
 * works, its cause clears, or it gives up and waits for the owner.
 */
import { executeChild, log, patched, uuid4 } from '@temporalio/workflow';
import { RESTORE_WORKFLOW, standbyName, type RestoreInput } from '../../src/contracts/backup';
import type { FailoverTarget } from '../../src/contracts/dr';
import type { DrPlan } from '../../activities/dr-store';
import type { VmPlacement } from '../../src/contracts/vm';
import { describeError, failureTypeOf } from '../lib/task-graph';
import { failoverCall, fenceCall, probe, recoveryPoll, statusPoll, store } from '../lib/activity-presets';
import { ownerAware, withVmLease, type Lease } from '../lib/ownership';
import { CLEANUP_LATER_PATCH, leaveBehind } from './leftovers';
import { reprotect } from './reprotect';
import type { DrRun, PendingFailover } from './state';

/** Failover retries after a disaster: 15 s, 30, 60 … at most 10 min apart; after this many failures a command is needed. */
const FAILOVER_RETRY_FIRST_MS = 15_000;
const FAILOVER_RETRY_MAX_MS = 10 * 60_000;
const FAILOVER_MAX_FAILURES = 8;
/** Runs recorded before failed failovers were retried replay the old way (Degraded until a signal). */
const FAILOVER_RETRY_PATCH = 'failover-retry';
/** Runs recorded before a broken-server report received while busy was acted on later replay the old way. */
const DEFERRED_VM_DISASTER_PATCH = 'deferred-vm-disaster';
/** Runs recorded before a lost CloudStack standby was rebuilt at failover replay the old way (the failover fails). */
const FAILOVER_REBUILDS_STANDBY_PATCH = 'failover-rebuilds-lost-standby';
/** Runs recorded before a lost base standby made a broken VM's failover restore from the newest backup replay the old way (the failover fails). */
const LOST_BASE_STANDBY_PATCH = 'failover-restores-lost-base-standby';
/** Runs recorded before the recovery path's CloudStack starts were retried at most 10 s apart replay the old way. */
const RECOVERY_POLL_PATCH = 'recovery-poll-fast';

/** The preset a recovery-path start of a CloudStack copy runs with. */
export function recoveryStart(): typeof statusPoll {
  return patched(RECOVERY_POLL_PATCH) ? recoveryPoll : statusPoll;
}

/** A failed failover's cause is gone: the VM (or the base cloud) is healthy again. */
function failoverCauseCleared(dr: DrRun): boolean {
  const { s } = dr;
  const cause = s.failoverRetry?.cause;
  if (!cause) return false;
  return cause.kind === 'disaster.vm' ? s.vmHealthy : s.baseCloudHealthy;
}

/** A failed failover waits for its next try: due when that time has come or its cause cleared. */
export function failoverRetryDue(dr: DrRun): boolean {
  const { s, pending } = dr;
  const r = s.failoverRetry;
  if (!r || s.state !== 'Degraded' || pending.failover) return false;
  if (failoverCauseCleared(dr)) return true;
  return !r.gaveUp && (!r.nextAttemptAt || Date.now() >= Date.parse(r.nextAttemptAt));
}

/** A due retry: Protected again if its cause cleared, else the failover is pending once more. */
export function takeFailoverRetry(dr: DrRun): void {
  const { s, pending, touch } = dr;
  const r = s.failoverRetry!;
  if (failoverCauseCleared(dr)) {
    log.info('the failed failover\'s cause has cleared: protected again', { cause: r.cause.reason });
    s.state = 'Protected';
    s.failoverRetry = undefined;
    s.lastError = undefined;
    touch();
  } else {
    pending.failover = { ...r.cause, retry: true };
  }
}

/**
 * A server that broke while the VM was busy is a disaster now — if the VM still runs on it
 * (soak seed 5: the home server broke as a lost copy was restored into it; Protected on a server
 * in ERROR, and the monitor, having reported it, said nothing more).
 */
export async function judgeDeferredVmDisaster(dr: DrRun): Promise<void> {
  const { s, input, pending, touch } = dr;
  if (s.deferredVmDisaster && s.state === 'Protected' && !pending.failover && patched(DEFERRED_VM_DISASTER_PATCH)) {
    const d = s.deferredVmDisaster;
    s.deferredVmDisaster = undefined;
    const plan = await store.drPlan({ vmId: input.vmId });
    if (plan.state === 'active' && plan.placement?.cloud === 'openstack' && plan.placement.serverId === d.serverId) {
      s.state = 'Degraded';
      s.vmHealthy = false;
      pending.failover = { reason: `server ${d.status}`, firstFailedAt: d.firstFailedAt ?? d.observedAt, kind: 'disaster.vm' };
      touch();
    }
  }
}

export async function failover(dr: DrRun, p: PendingFailover): Promise<void> {
  const { s, input, now, touch, event } = dr;
  const startedAt = now();
  if (!p.retry) await event(p.kind === 'manual' ? 'failover.started' : p.kind, p.kind === 'manual' ? `failover requested: ${p.reason}` : `disaster detected: ${p.reason}`);
  s.step = 'taking over the VM (a running backup or drill gives way)';
  touch();
  // The lease: nothing else acts on the VM while it fails over; a backup in flight is cancelled.
  // A failover recorded before the VM owner existed replays the old way (fence first).
  const withOwner = ownerAware();
  await withVmLease(input.vmId, 'failover', { useOwner: withOwner }, (lease) => failoverHoldingLease(dr, p, startedAt, lease, withOwner));
}

async function failoverHoldingLease(dr: DrRun, p: PendingFailover, startedAt: string, lease: Lease, withOwner: boolean): Promise<void> {
  const { s, input, now, touch, event } = dr;
  const plan = await store.drPlan({ vmId: input.vmId });
  if (plan.state === 'deleting' || plan.state === 'deleted') {
    // The owner is deleting the VM (deleteVm stops this workflow): never resurrect it elsewhere.
    s.state = 'Protected';
    s.lastError = `no failover: the VM is ${plan.state}`;
    touch();
    return;
  }
  let target: FailoverTarget = p.target ?? 'base-standby';
  if (!p.target) {
    const h = await probe.baseCloudHealth({ accountId: plan.homeAccountId });
    s.baseCloudHealthy = h.healthy;
    target = h.healthy ? 'base-standby' : 'backup-cloud';
  }
  s.state = 'FailingOver';
  s.step = `failing over to ${target}`;
  touch();
  if (p.kind !== 'manual' && !p.retry) await event('failover.started', `failing over to the ${target === 'base-standby' ? 'standby in the base cloud' : 'backup cloud (CloudStack)'}`);
  const old = plan.placement;
  if (old?.cloud === 'openstack') {
    // A promoted standby has no stack: the VM's home stays the stack it was created in (failback
    // and restore-from-backup boot into it).
    const keepStack = withOwner && !old.stackId && s.home?.stackId ? { stackId: s.home.stackId, stackName: s.home.stackName } : { stackId: old.stackId, stackName: old.stackName };
    s.home = { accountId: old.accountId, serverId: old.serverId, ...keepStack };
  }
  try {
    let placement: VmPlacement;
    let backupStartedAt: string | undefined;
    if (target === 'base-standby') {
      // No standby yet: rebuild in place from the newest backup (the seed's first scenario).
      const restoreFromNewestBackup = async (why: string) => {
        if (!plan.latestImage) throw new Error(`${why} and no backup to restore from`);
        s.step = 'restoring from the newest backup';
        touch();
        await executeChild(RESTORE_WORKFLOW, { workflowId: `vm-restore:${input.vmId}:dr-${uuid4()}`, args: [{ vmId: input.vmId, ownerId: input.ownerId, ...(lease.leaseId ? { lease: lease.leaseId } : {}) } satisfies RestoreInput] });
        backupStartedAt = plan.latestImage.startedAt;
        const after = await store.drPlan({ vmId: input.vmId });
        return after.placement!;
      };
      if (!plan.baseStandby) {
        placement = await restoreFromNewestBackup('no standby');
      } else {
        let sb = plan.baseStandby;
        let started: { addresses: VmPlacement['addresses'] } | undefined;
        if (withOwner) {
          // The old server is the live copy until the switch: it is fenced right after it.
          s.step = 'starting the standby';
          try {
            const up = await statusPoll.osStartServerAndWait({ accountId: sb.accountId, serverId: sb.serverId, name: standbyName(input.vmId) });
            // The standby started may be a newer one than recorded (found by its name).
            if (up.serverId) sb = { ...sb, serverId: up.serverId };
            started = up;
          } catch (err) {
            // The standby is gone or broken — a backup that gave way to this failover was replacing
            // it. A VM that is down is rebuilt from the newest backup rather than left down; one
            // that runs (a failover asked for while all is well) stays where it is (the failover fails).
            if (!(failureTypeOf(err) === 'StandbyFailed' && !s.vmHealthy && plan.latestImage && patched(LOST_BASE_STANDBY_PATCH))) throw err;
            log.warn('the standby in the base cloud is lost; restoring from the newest backup', { error: describeError(err) });
          }
        } else {
          s.step = 'fencing the broken server and starting the standby';
          const [fenced, startedOld] = await Promise.all([
            old ? fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }) : Promise.resolve({ fenced: true, reason: 'no old server' }),
            statusPoll.osStartServerAndWait({ accountId: sb.accountId, serverId: sb.serverId }),
          ]);
          started = startedOld;
          if (!fenced.fenced && old) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
        }
        if (!started) placement = await restoreFromNewestBackup('the standby is lost');
        else {
          if (old) await failoverCall.osMoveFloatingIp({ accountId: sb.accountId, fromServerId: old.serverId, toServerId: sb.serverId });
          await store.promoteStandby({ vmId: input.vmId, accountId: sb.accountId, serverId: sb.serverId, newName: `vmflow-${input.vmId}-primary-${uuid4().slice(0, 8)}`, target });
          const read = await failoverCall.osReadServerById({ accountId: sb.accountId, serverId: sb.serverId });
          placement = { ...read, addresses: read.addresses.length ? read.addresses : started.addresses };
          backupStartedAt = sb.backupStartedAt;
        }
      }
    } else {
      let sb = plan.backupCloudStandby;
      if (!sb) throw new Error('no standby in the backup cloud yet (no backup has reached CloudStack)');
      let started: { state: string; addresses: VmPlacement['addresses'] };
      if (withOwner) {
        s.step = 'starting the CloudStack standby';
        let up: Awaited<ReturnType<typeof statusPoll.csStartVmAndWait>>;
        try {
          up = await recoveryStart().csStartVmAndWait({ accountId: sb.accountId, csVmId: sb.csVmId, name: standbyName(input.vmId) });
        } catch (err) {
          // The standby is gone or broken — a failback consumed it and the re-protecting backup
          // that would have replaced it gave way to this disaster (short soak seed 11): a new copy
          // from the newest template in CloudStack, as a lost live copy is rebuilt.
          const rebuilt = failureTypeOf(err) === 'StandbyFailed' ? await rebuildBackupCloudStandby(dr, plan, sb) : undefined;
          if (!rebuilt) throw err;
          up = rebuilt.up;
          sb = rebuilt.sb;
        }
        if (up.csVmId) sb = { ...sb, csVmId: up.csVmId };
        started = up;
      } else {
        s.step = 'fencing the old server and starting the CloudStack standby';
        const [fenced, startedOld] = await Promise.all([
          old?.cloud === 'openstack' ? fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }) : Promise.resolve({ fenced: true, reason: 'not in the base cloud' }),
          recoveryStart().csStartVmAndWait({ accountId: sb.accountId, csVmId: sb.csVmId }),
        ]);
        started = startedOld;
        if (!fenced.fenced && old) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
      }
      await store.promoteStandby({ vmId: input.vmId, accountId: sb.accountId, serverId: sb.csVmId, newName: '', target });
      placement = { cloud: 'cloudstack', accountId: sb.accountId, serverId: sb.csVmId, status: started.state, addresses: started.addresses };
      backupStartedAt = sb.backupStartedAt;
    }
    // The switch: one write changes where the VM runs; the API reports it from here on.
    s.step = 'switching';
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: `failed over to ${target}: ${p.reason}`, placement, lastError: null });
    const done = now();
    if (withOwner && old?.cloud === 'openstack' && old.serverId !== placement.serverId) {
      // The old server is no longer the live copy: stop it now, or as soon as its cloud answers.
      s.step = 'fencing the old server';
      const fenced = await fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }).catch((err: unknown) => ({ fenced: false, reason: describeError(err) }));
      if (!fenced.fenced) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
      else if (!old.stackId) {
        // A promoted standby that broke in turn: no stack keeps it as the VM's home, so it goes.
        if (patched(CLEANUP_LATER_PATCH)) leaveBehind(dr, { kind: 'os-server', accountId: old.accountId, id: old.serverId });
        else await statusPoll.osDeleteServer({ accountId: old.accountId, serverId: old.serverId }).catch((err: unknown) => log.warn('could not remove the replaced primary', { error: describeError(err) }));
      }
    }
    s.lastRtoSeconds = Math.max(0, (Date.parse(done) - Date.parse(p.firstFailedAt)) / 1000);
    s.lastRpoSeconds = backupStartedAt ? Math.max(0, (Date.parse(done) - Date.parse(backupStartedAt)) / 1000) : undefined;
    s.state = 'FailedOver';
    s.target = target;
    s.lastError = undefined;
    s.failoverRetry = undefined;
    s.baseHealthySince = s.baseCloudHealthy ? done : undefined;
    await event('failover.completed', `running on the ${target === 'base-standby' ? 'standby in the base cloud' : 'backup cloud (CloudStack)'}${s.fencePending ? '; the old server could not be stopped yet (fence pending)' : ''}`, {
      rpoSeconds: s.lastRpoSeconds,
      rtoSeconds: s.lastRtoSeconds,
      details: { target, serverId: placement.serverId, startedAt, firstFailedAt: p.firstFailedAt },
    });
    if (target === 'base-standby') await reprotect(dr, 'after failover to the base standby', lease);
    else if (withOwner) await event('backup.paused', 'scheduled backups pause while the VM runs in the backup cloud; the RPO grows until failback (GET …/dr shows rpoSecondsNow)');
  } catch (err) {
    const message = describeError(err);
    if (patched(FAILOVER_RETRY_PATCH)) await failoverFailed(dr, p, target, message);
    else {
      s.lastError = message;
      s.state = 'Degraded';
      await event('failover.failed', `failover to ${target} failed: ${s.lastError}`);
    }
  } finally {
    s.step = undefined;
    touch();
  }
}

/**
 * A new CloudStack copy for a failover whose standby is lost, from the newest template there;
 * undefined (the failover fails as before) for runs recorded earlier or without a template.
 * The lost standby is removed once the new copy runs.
 */
async function rebuildBackupCloudStandby(
  dr: DrRun,
  plan: DrPlan,
  lost: NonNullable<DrPlan['backupCloudStandby']>,
): Promise<{ up: Awaited<ReturnType<typeof statusPoll.csStartVmAndWait>>; sb: NonNullable<DrPlan['backupCloudStandby']> } | undefined> {
  const { s, input, touch } = dr;
  // The newest backup's template, when it is in the standby's account (else the standby's own).
  const fromLatest = plan.latestImage?.templateAccountId === undefined || plan.latestImage.templateAccountId === lost.accountId ? plan.latestImage?.templateId : undefined;
  const templateId = fromLatest ?? lost.templateId;
  if (!templateId || !patched(FAILOVER_REBUILDS_STANDBY_PATCH)) return undefined;
  s.step = 'rebuilding the CloudStack standby from the newest backup (the standby was lost)';
  touch();
  const sizes = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
  const made = await statusPoll.csEnsureStandby({ accountId: lost.accountId, name: `vmflow-${input.vmId}-recovered-${uuid4().slice(0, 8)}`, templateId, serviceOfferingName: sizes.serviceOfferingName });
  const up = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: made.csVmId });
  await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.csVmId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack standby', { error: describeError(err) }));
  const backupStartedAt = fromLatest ? plan.latestImage!.startedAt : lost.backupStartedAt;
  return { up: { ...up, csVmId: made.csVmId }, sb: { ...lost, csVmId: made.csVmId, templateId, backupStartedAt } };
}

/**
 * A disaster's failover that failed is tried again later, each wait twice the last (capped):
 * one event per distinct failure; after the last attempt an alert and no more tries until the
 * owner asks (POST …/dr/failover) or the cause clears. The VM stays Degraded meanwhile.
 */
async function failoverFailed(dr: DrRun, p: PendingFailover, target: FailoverTarget, message: string): Promise<void> {
  const { s, touch, event } = dr;
  const distinct = s.lastError !== message;
  s.lastError = message;
  if (p.kind === 'manual' && s.vmHealthy && s.baseCloudHealthy) {
    // Asked for while all was well: the VM stays where it runs, protected as before.
    s.state = 'Protected';
    s.failoverRetry = undefined;
    await event('failover.failed', `failover to ${target} failed; the VM keeps running where it was: ${message}`);
    return;
  }
  s.state = 'Degraded';
  const failures = (s.failoverRetry?.failures ?? 0) + 1;
  const gaveUp = failures >= FAILOVER_MAX_FAILURES;
  const waitMs = Math.min(FAILOVER_RETRY_MAX_MS, FAILOVER_RETRY_FIRST_MS * 2 ** (failures - 1));
  // A manual failover of a VM that is broken (or whose base cloud is down) is retried for that cause.
  const kind = p.kind !== 'manual' ? p.kind : s.vmHealthy ? 'disaster.cloud' : 'disaster.vm';
  const cause = { ...(p.target ? { target: p.target } : {}), reason: p.reason, firstFailedAt: p.firstFailedAt, kind };
  s.failoverRetry = { failures, gaveUp, cause, ...(gaveUp ? {} : { nextAttemptAt: new Date(Date.now() + waitMs).toISOString() }) };
  touch();
  if (gaveUp) await event('failover.gave-up', `failover failed ${failures} times; the VM is not protected until you act (POST …/dr/failover): ${message}`);
  else if (distinct) await event('failover.failed', `failover to ${target} failed; next try in ${Math.round(waitMs / 1000)} s: ${message}`);
}
