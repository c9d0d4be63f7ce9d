/**
 * While the VM runs in CloudStack, its copy there is checked on every tick. Stopped → started
 * again; in Error or gone → brought back from the newest backup: into its own stack in the base
 * cloud when that answers, else as a new instance from the newest template in CloudStack.
 */
import { log, patched, uuid4 } from '@temporalio/workflow';
import type { VmPlacement } from '../../src/contracts/vm';
import { describeError } from '../lib/task-graph';
import { failoverCall, probe, statusPoll, store } from '../lib/activity-presets';
import { withVmLease, type Lease } from '../lib/ownership';
import { recoveryStart } from './failover';
import { CLEANUP_LATER_PATCH, leaveBehind, removeReplacedHomeServer } from './leftovers';
import { reprotect } from './reprotect';
import type { DrRun, Home } from './state';

/** The live CloudStack copy is lost after this many checks in a row finding it stopped, in Error or gone… */
const LIVE_COPY_BAD_CHECKS = 2;
/** …or CloudStack not answering about it at all (then only recovered in the base cloud, if that is up). */
const LIVE_COPY_UNREACHABLE_CHECKS = 5;
/** CloudStack states of a copy that is on its way somewhere: not judged. */
const CS_TRANSITIONAL = new Set(['Starting', 'Stopping', 'Migrating', 'Running']);

/** One check of the copy running in CloudStack; a lost one is recovered under the VM's lease. */
export async function watchLiveCopy(dr: DrRun): Promise<void> {
  const { s, input, now, event } = dr;
  const plan = await store.drPlan({ vmId: input.vmId });
  const live = plan.placement;
  if (!live || live.cloud !== 'cloudstack' || plan.state !== 'active') return;
  const seen = await probe.csLiveCopyState({ accountId: live.accountId, csVmId: live.serverId });
  if (CS_TRANSITIONAL.has(seen.state)) {
    dr.liveCopyBad = dr.liveCopyUnreachable = 0;
    return;
  }
  if (seen.state === 'Unknown') dr.liveCopyUnreachable += 1;
  else dr.liveCopyBad += 1;
  const lost = dr.liveCopyBad >= LIVE_COPY_BAD_CHECKS || (dr.liveCopyUnreachable >= LIVE_COPY_UNREACHABLE_CHECKS && s.baseCloudHealthy);
  if (!lost) return;
  dr.liveCopyBad = dr.liveCopyUnreachable = 0;
  const firstFailedAt = now();
  const what = seen.state === 'Unknown' ? `CloudStack does not answer about it (${seen.detail ?? 'no answer'})` : `it is ${seen.state}`;
  await event('disaster.live-copy', `the running copy in the backup cloud is lost: ${what}`);
  await withVmLease(input.vmId, 'failover', { useOwner: true }, (lease) => recoverLiveCopy(dr, seen.state, live, firstFailedAt, lease));
}

async function recoverLiveCopy(dr: DrRun, seenState: string, lost: VmPlacement, firstFailedAt: string, lease: Lease): Promise<void> {
  const { s, input, touch, event } = dr;
  const plan = await store.drPlan({ vmId: input.vmId });
  if (plan.placement?.serverId !== lost.serverId || plan.state !== 'active') return; // something else moved it meanwhile
  s.state = 'FailingOver';
  touch();
  try {
    if (seenState === 'Stopped') {
      s.step = 'starting the stopped copy in the backup cloud again';
      const started = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: lost.serverId });
      await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'the stopped copy in the backup cloud was started again', placement: { ...lost, status: started.state, addresses: started.addresses.length ? started.addresses : lost.addresses }, lastError: null });
      s.state = 'FailedOver';
      await event('live-copy.recovered', 'the copy in the backup cloud had stopped; it runs again', { rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000 });
      return;
    }
    const base = await probe.baseCloudHealth({ accountId: s.home?.accountId ?? plan.homeAccountId });
    s.baseCloudHealthy = base.healthy;
    if (base.healthy && s.home?.stackId && plan.latestImage) {
      await restoreHomeFromBackup(dr, plan.latestImage, lost, firstFailedAt, lease, 'the copy in the backup cloud was lost');
      return;
    }
    const templateId = plan.latestImage?.templateId ?? plan.backupCloudStandby?.templateId;
    if (!templateId) throw new Error('no backup has reached the backup cloud to rebuild from, and the base cloud is not available');
    s.step = 'rebuilding the copy in the backup cloud from the newest backup';
    const sizes = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
    const made = await statusPoll.csEnsureStandby({ accountId: lost.accountId, name: `vmflow-${input.vmId}-recovered-${uuid4().slice(0, 8)}`, templateId, serviceOfferingName: sizes.serviceOfferingName });
    const started = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: made.csVmId });
    const placement: VmPlacement = { cloud: 'cloudstack', accountId: lost.accountId, serverId: made.csVmId, status: started.state, addresses: started.addresses };
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'rebuilt in the backup cloud from the newest backup (its copy there was lost)', placement, lastError: null });
    await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.serverId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack copy', { error: describeError(err) }));
    s.state = 'FailedOver';
    const backupAt = plan.latestImage?.startedAt ?? plan.backupCloudStandby?.backupStartedAt;
    await event('live-copy.recovered', 'rebuilt in the backup cloud from the newest backup', {
      rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000,
      ...(backupAt ? { rpoSeconds: Math.max(0, (Date.now() - Date.parse(backupAt)) / 1000) } : {}),
      details: { serverId: made.csVmId },
    });
  } catch (err) {
    s.state = 'FailedOver';
    const message = `the lost copy could not be recovered yet: ${describeError(err)}`;
    if (s.lastError !== message) await event('failover.failed', message);
    s.lastError = message;
  } finally {
    s.step = undefined;
    touch();
  }
}

/**
 * The VM comes home from the newest backup image instead of from its CloudStack copy (that copy
 * is gone or broken): Heat boots the backup in the VM's own stack, the placement switches, the
 * dead copy is removed, and a fresh backup re-protects it. What changed since that backup is lost.
 * (A failback that finds the copy gone or broken comes home this way too.)
 */
export async function restoreHomeFromBackup(dr: DrRun, image: { imageId: string; startedAt: string }, lost: VmPlacement, firstFailedAt: string, lease: Lease, why: string): Promise<void> {
  const { s, input, touch, event } = dr;
  const home = (await currentHome(dr))!;
  s.state = 'FailingBack';
  s.step = 'restoring in the base cloud from the newest backup';
  touch();
  const handle = { accountId: home.accountId, stackName: home.stackName!, stackId: home.stackId! };
  await failoverCall.osUpdateStack({ ...handle, parameters: { image: image.imageId } });
  await statusPoll.osAwaitStack({ ...handle, action: 'UPDATE' });
  const placement = await failoverCall.osReadServer(handle);
  await store.setVmState({ vmId: input.vmId, to: 'active', reason: `restored in the base cloud from the newest backup (${why})`, placement, lastError: null });
  await removeReplacedHomeServer(dr, home.serverId, placement);
  s.home = { accountId: placement.accountId, serverId: placement.serverId, stackId: placement.stackId, stackName: placement.stackName };
  s.fencePending = undefined;
  s.failbackRetry = undefined;
  s.lastError = undefined;
  // The lost copy goes on a later tick (CloudStack may be what lost it): the VM runs at home now.
  if (patched(CLEANUP_LATER_PATCH)) leaveBehind(dr, { kind: 'cs-vm', accountId: lost.accountId, id: lost.serverId });
  else await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.serverId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack copy', { error: describeError(err) }));
  await event('live-copy.recovered', `${why}: restored in the base cloud from the newest backup`, {
    rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000,
    rpoSeconds: Math.max(0, (Date.now() - Date.parse(image.startedAt)) / 1000),
    details: { serverId: placement.serverId },
  });
  await reprotect(dr, 'after restoring from backup', lease);
}

/** The home stack as it is now: a restore may have made it anew (same name, new id). */
export async function currentHome(dr: DrRun): Promise<Home | undefined> {
  const { s } = dr;
  const home = s.home;
  if (!home?.stackName) return home;
  const found = await failoverCall.osFindStack({ accountId: home.accountId, stackName: home.stackName });
  if (found.stackId && found.stackId !== home.stackId) s.home = { ...home, stackId: found.stackId };
  return s.home;
}
