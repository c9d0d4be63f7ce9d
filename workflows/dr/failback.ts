/**
 * Failback: while the VM runs in the backup cloud, each tick looks at the base cloud (and at the
 * copy running in CloudStack); once the base has been healthy for long enough — and the owner
 * approved, in approval mode — the CloudStack copy is stopped, imaged, carried home through the
 * store and booted in the VM's own stack. A failed failback leaves the VM running in the backup
 * cloud and is tried again later.
 */
import { log, patched, uuid4, CancellationScope, ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { failbackImageName, failbackStoreKey, failbackTemplateName } from '../../src/contracts/dr';
import type { VmPlacement } from '../../src/contracts/vm';
import { describeError, runTaskGraph, type TaskSpec } from '../lib/task-graph';
import { failbackBaseCall, failbackBaseTransfer, failoverCall, fenceCall, longTransfer, probe, statusPoll, store } from '../lib/activity-presets';
import { ownerAware, withVmLease, type Lease } from '../lib/ownership';
import { recoveryStart } from './failover';
import { CLEANUP_LATER_PATCH, leaveBehind, removeReplacedHomeServer } from './leftovers';
import { currentHome, restoreHomeFromBackup, watchLiveCopy } from './live-copy';
import { reprotect } from './reprotect';
import type { DrRun } from './state';

/** Failback retries: 1 min, 2, 4, 8 … at most 30 min apart; after this many failures a command is needed. */
const FAILBACK_RETRY_FIRST_MS = 60_000;
const FAILBACK_RETRY_MAX_MS = 30 * 60_000;
const FAILBACK_MAX_FAILURES = 6;
/** Runs recorded before a failback's base-cloud steps failed fast (CloudStack copy stopped) replay the old way. */
const FAILBACK_FAILS_FAST_PATCH = 'failback-fails-fast';
/** Runs recorded before a failed failback's template and image were also found by name replay the old way. */
const FAILBACK_DISCARDS_BY_NAME_PATCH = 'failback-discards-by-name';

/** Base cloud healthy for long enough, and allowed (automatic, approved or asked for). */
export function failbackDue(dr: DrRun): boolean {
  const { s, pending } = dr;
  if (s.state !== 'FailedOver' || s.target !== 'backup-cloud' || !s.baseCloudHealthy || !s.baseHealthySince) return false;
  if (pending.failback?.manual) return true;
  // After a failed attempt the next waits its turn; after the last one only a command retries.
  const retry = s.failbackRetry;
  if (retry && (retry.gaveUp || (retry.nextAttemptAt && Date.now() < Date.parse(retry.nextAttemptAt)))) return false;
  const healthyMs = Date.now() - Date.parse(s.baseHealthySince);
  if (healthyMs < s.settings.failbackAfterHealthySeconds * 1000) return false;
  return s.settings.failbackMode === 'automatic' || dr.approved;
}

/**
 * One tick while failed over to the backup cloud and not failing back yet: the base cloud is
 * checked directly too (few VMs are ever in this state), then the copy running in CloudStack,
 * and in approval mode the owner is asked once the base has been healthy for long enough.
 */
export async function watchFromBackupCloud(dr: DrRun): Promise<void> {
  const { s, now, touch, event } = dr;
  const h = await probe.baseCloudHealth({ accountId: s.home?.accountId ?? '' });
  if (h.healthy && !s.baseCloudHealthy) {
    s.baseCloudHealthy = true;
    s.baseHealthySince = now();
    await event('cloud.recovered', 'the base cloud answers again');
  } else if (!h.healthy) {
    s.baseCloudHealthy = false;
    s.baseHealthySince = undefined;
  }
  // A copy that vanished or broke in the backup cloud is a disaster too (runs older than the owner skip this).
  if (ownerAware()) await watchLiveCopy(dr);
  const due = s.baseCloudHealthy && s.baseHealthySince && Date.now() - Date.parse(s.baseHealthySince) >= s.settings.failbackAfterHealthySeconds * 1000;
  if (due && s.settings.failbackMode === 'approval' && !dr.approved && !s.awaitingApproval && s.state === 'FailedOver' && s.target === 'backup-cloud') {
    s.awaitingApproval = true;
    await event('failback.waiting-approval', 'the base cloud has recovered; failback waits for your approval');
  }
  touch();
}

export async function failback(dr: DrRun): Promise<void> {
  const withOwner = ownerAware();
  await withVmLease(dr.input.vmId, 'failback', { useOwner: withOwner }, (lease) => failbackHoldingLease(dr, lease, withOwner));
}

/**
 * A failed failback leaves the VM running in the backup cloud and is tried again later, each
 * wait twice the last (capped); one event per distinct failure, and after the last attempt an
 * alert and no more tries until the owner asks (POST …/dr/failback).
 */
async function failbackFailed(dr: DrRun, message: string, withOwner: boolean): Promise<void> {
  const { s, touch, event } = dr;
  s.state = 'FailedOver';
  s.step = undefined;
  s.awaitingApproval = false;
  if (!withOwner) {
    s.lastError = message;
    await event('failback.failed', message);
    return;
  }
  const distinct = s.lastError !== message;
  s.lastError = message;
  const failures = (s.failbackRetry?.failures ?? 0) + 1;
  const gaveUp = failures >= FAILBACK_MAX_FAILURES;
  const waitMs = Math.min(FAILBACK_RETRY_MAX_MS, FAILBACK_RETRY_FIRST_MS * 2 ** (failures - 1));
  s.failbackRetry = { failures, gaveUp, ...(gaveUp ? {} : { nextAttemptAt: new Date(Date.now() + waitMs).toISOString() }) };
  touch();
  if (gaveUp) await event('failback.gave-up', `failback failed ${failures} times; the VM keeps running in the backup cloud and failback waits for your command (POST …/dr/failback): ${message}`);
  else if (distinct) await event('failback.failed', `failback failed, still running in the backup cloud; next try in ${Math.round(waitMs / 1000)} s: ${message}`);
}

/** Best effort: the template, store object and Glance image a failed failback attempt made. */
async function discardFailbackAttempt(csAccountId: string, homeAccountId: string, results: Record<string, unknown>, made: { storeKey: string; templateName: string; imageName: string; csStopped: boolean }): Promise<void> {
  const template = results.template as { templateId: string } | undefined;
  const imported = results['import-to-glance'] as { imageId: string } | undefined;
  const quietly = (what: string) => (err: unknown) => log.warn(`could not remove a failed failback's ${what}`, { error: describeError(err) });
  // A step that failed after the cloud made its template or image never returned the id: those
  // are found by their names (soak seed 2: a Glance import failing on 503 left a queued image).
  const byName = patched(FAILBACK_DISCARDS_BY_NAME_PATCH);
  await Promise.all([
    template
      ? failoverCall.csDeleteTemplate({ accountId: csAccountId, templateId: template.templateId, forced: true }).catch(quietly('template'))
      : byName && made.csStopped
        ? failoverCall.csDeleteTemplate({ accountId: csAccountId, name: made.templateName, forced: true }).catch(quietly('template'))
        : undefined,
    results['copy-to-store'] ? failoverCall.storeDeleteImage({ key: made.storeKey }).catch(quietly('store object')) : undefined,
    imported
      ? failoverCall.osDeleteImage({ accountId: homeAccountId, imageId: imported.imageId }).catch(quietly('image'))
      : byName && results['copy-to-store']
        ? failoverCall.osDeleteImage({ accountId: homeAccountId, name: made.imageName }).catch(quietly('image'))
        : undefined,
  ]);
}

async function failbackHoldingLease(dr: DrRun, lease: Lease, withOwner: boolean): Promise<void> {
  const { s, input, now, event } = dr;
  const home = withOwner ? await currentHome(dr) : s.home;
  const vmNow = await store.drPlan({ vmId: input.vmId });
  const cs = vmNow.placement;
  if (!home?.stackId || !home.stackName || !cs || cs.cloud !== 'cloudstack') {
    await failbackFailed(dr, 'failback needs the VM running in CloudStack and its home stack in the base cloud', withOwner);
    return;
  }
  if (withOwner) {
    // A copy that is gone or broken cannot be imaged: come home from the newest backup instead.
    const seen = await probe.csLiveCopyState({ accountId: cs.accountId, csVmId: cs.serverId });
    if ((seen.state === 'Gone' || seen.state === 'Error') && vmNow.latestImage) {
      await event('disaster.live-copy', `the running copy in the backup cloud is ${seen.state}; failing back from the newest backup`);
      try {
        await restoreHomeFromBackup(dr, vmNow.latestImage, cs, now(), lease, `the copy in the backup cloud was ${seen.state}`);
      } catch (err) {
        await failbackFailed(dr, `restoring from the newest backup failed: ${describeError(err)}`, withOwner);
      }
      return;
    }
  }
  // With the CloudStack copy stopped, the base cloud's steps fail fast (runs recorded earlier replay the old way).
  const failFast = withOwner && patched(FAILBACK_FAILS_FAST_PATCH);
  const baseTransfer = failFast ? failbackBaseTransfer : longTransfer;
  const baseCall = failFast ? failbackBaseCall : failoverCall;
  const baseWait = failFast ? failbackBaseTransfer : statusPoll;
  const startedAt = now();
  const firstAttempt = !s.failbackRetry;
  s.state = 'FailingBack';
  s.awaitingApproval = false;
  if (firstAttempt || !withOwner) await event('failback.started', 'bringing the VM home to the base cloud');
  const failbackId = uuid4();
  const imageName = failbackImageName(input.vmId, failbackId);
  const storeKey = failbackStoreKey(input.vmId, failbackId);
  let csStopped = false;
  const tasks: TaskSpec<null>[] = [
    { name: 'fence', run: () => fenceCall.osFenceServer({ accountId: home.accountId, serverId: home.serverId }) },
    {
      name: 'stop-cloudstack-vm',
      run: async () => {
        csStopped = true;
        // The live copy is stopped on purpose: its disk becomes the image we bring home.
        return statusPoll.csStopVmAndWait({ accountId: cs.accountId, csVmId: cs.serverId, liveCopy: 'failback-imaging' });
      },
    },
    { name: 'template', requires: ['stop-cloudstack-vm'], run: () => statusPoll.csTemplateFromVm({ accountId: cs.accountId, csVmId: cs.serverId, templateName: failbackTemplateName(input.vmId, failbackId) }) },
    {
      // Extract and copy together: an extract URL is time-limited, so a copy that finds it gone
      // asks for a fresh one (a bounded number of times).
      name: 'copy-to-store',
      requires: ['template'],
      run: async (_, r) => {
        const t = r.template as { templateId: string; physicalSize?: number };
        for (let attempt = 1; ; attempt++) {
          const extract = await statusPoll.csExtractTemplateUrl({ accountId: cs.accountId, templateId: t.templateId });
          try {
            return await longTransfer.copyUrlToStore({ url: extract.url, storeKey, expectedSize: extract.physicalSize ?? t.physicalSize });
          } catch (err) {
            if (attempt >= 3 || !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'DownloadUrlGone')) throw err;
          }
        }
      },
    },
    { name: 'import-to-glance', requires: ['copy-to-store'], run: () => baseTransfer.glanceImportFromStore({ accountId: home.accountId, imageName, storeKey, ttlSeconds: 6 * 3600 }) },
    {
      name: 'boot-in-base',
      requires: ['import-to-glance', 'fence'],
      run: async (_, r) => {
        const img = r['import-to-glance'] as { imageId: string };
        const handle = { accountId: home.accountId, stackName: home.stackName!, stackId: home.stackId! };
        await baseCall.osUpdateStack({ ...handle, parameters: { image: img.imageId } });
        await baseWait.osAwaitStack({ ...handle, action: 'UPDATE' });
        return baseCall.osReadServer(handle);
      },
    },
  ];
  s.step = 'failing back';
  const graph = await runTaskGraph(tasks, null, { now, onChange: (st) => (s.step = `failing back: ${st.filter((t) => t.state === 'running').map((t) => t.name).join(', ') || 'between steps'}`) });
  if (!graph.ok) {
    const why = graph.failures.map((f) => `${f.task}: ${f.error}`).join('; ');
    // Keep the user running: the CloudStack copy was stopped for imaging, start it again.
    if (csStopped) {
      await CancellationScope.nonCancellable(() => recoveryStart().csStartVmAndWait({ accountId: cs.accountId, csVmId: cs.serverId })).catch((e) => log.error('could not restart the CloudStack VM after a failed failback', { error: describeError(e) }));
    }
    if (failFast) {
      // What this attempt made is of no use to the next one (it images the copy anew): removed
      // now, or it stays for good — failing fast, attempts fail more often (soak seed 2).
      await CancellationScope.nonCancellable(() => discardFailbackAttempt(cs.accountId, home.accountId, graph.results, { storeKey, templateName: failbackTemplateName(input.vmId, failbackId), imageName, csStopped }));
    }
    if (withOwner) await failbackFailed(dr, why, withOwner);
    else {
      s.lastError = why;
      s.state = 'FailedOver';
      s.step = undefined;
      await event('failback.failed', `failback failed, still running in the backup cloud: ${s.lastError}`);
    }
    return;
  }
  const placement = graph.results['boot-in-base'] as VmPlacement;
  const imported = graph.results['import-to-glance'] as { imageId: string; size: number; checksum: string };
  await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'failed back to the base cloud', placement, lastError: null });
  if (withOwner) await removeReplacedHomeServer(dr, home.serverId, placement);
  const rto = (Date.now() - Date.parse(startedAt)) / 1000;
  s.home = { accountId: placement.accountId, serverId: placement.serverId, stackId: placement.stackId, stackName: placement.stackName };
  // Clean up the backup-cloud copy and the transfer's leftovers, and record the image we came home
  // with. The clean-up waits for later ticks: the VM runs at home now, and drVm must be free to
  // answer if that copy breaks while CloudStack or the store is slow to answer.
  const templateId = (graph.results.template as { templateId: string }).templateId;
  const cleanUpLater = withOwner && patched(CLEANUP_LATER_PATCH);
  if (cleanUpLater) {
    leaveBehind(dr, { kind: 'cs-vm', accountId: cs.accountId, id: cs.serverId });
    leaveBehind(dr, { kind: 'cs-template', accountId: cs.accountId, id: templateId });
    leaveBehind(dr, { kind: 'store-object', id: storeKey });
  }
  await Promise.all([
    cleanUpLater ? undefined : statusPoll.csDestroyStandby({ accountId: cs.accountId, csVmId: cs.serverId }),
    cleanUpLater ? undefined : failoverCall.csDeleteTemplate({ accountId: cs.accountId, templateId, forced: true }),
    cleanUpLater ? undefined : failoverCall.storeDeleteImage({ key: storeKey }),
    store.recordFailbackImage({
      backupId: failbackId,
      vmId: input.vmId,
      ownerId: input.ownerId,
      accountId: placement.accountId,
      serverId: placement.serverId,
      size: '',
      os: '',
      image: { id: imported.imageId, name: imageName, size: imported.size, checksum: imported.checksum },
    }),
  ]);
  s.failbackRetry = undefined;
  // The old home server was fenced by this failback and Heat replaced it: nothing is pending.
  if (withOwner) s.fencePending = undefined;
  await event('failback.completed', 'the VM runs in the base cloud again', { rtoSeconds: rto, details: { serverId: placement.serverId } });
  await reprotect(dr, 'after failback', lease);
}
