/**
 * vmOwner — the one owner of a VM's cloud resources (ID `vm-owner:<vmId>`): Temporal's entity and
 * mutex patterns. Every workflow that changes the VM's cloud resources (create, update, delete,
 * backup, restore, failover, failback, fence, drill) asks here for the VM's lease and acts only
 * while it holds it, so no two of them ever act on the VM at once.
 *
 *   request ─▶ queue (priority, then arrival) ─▶ grant (signal to the requester) ─▶ release
 *                       │
 *                       └─ a waiting failover outranks a running backup or drill: that holder is
 *                          cancelled (it leaves the VM as it was) and the failover goes next, at
 *                          once (the cancelled run's clean-up of its own leftovers is not waited for);
 *                          a running update or restore is cancelled too, and the failover goes next
 *                          when it has recorded that on the VM and released
 *
 * A holder that ends without releasing (terminated, timed out) is noticed by a periodic check and
 * its lease freed. With nothing held or waiting for a while, the owner ends; the next request
 * starts it again (signal-with-start).
 */
import { condition, continueAsNew, defineQuery, defineSignal, getExternalWorkflowHandle, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  OPERATION_PRIORITY,
  OWNER_SIGNALS,
  OWNER_STATUS_QUERY,
  PREEMPTIBLE,
  YIELDS_TO_FAILOVER,
  type LeaseGrant,
  type LeaseRelease,
  type LeaseRequest,
  type VmOwnerInput,
  type VmOwnerStatus,
} from '../src/contracts/owner';

export const leaseRequestedSignal = defineSignal<[LeaseRequest]>(OWNER_SIGNALS.request);
export const leaseReleasedSignal = defineSignal<[LeaseRelease]>(OWNER_SIGNALS.release);
export const leaseGrantedSignal = defineSignal<[LeaseGrant]>(OWNER_SIGNALS.granted);
export const vmOwnerStatusQuery = defineQuery<VmOwnerStatus>(OWNER_STATUS_QUERY);

/**
 * Runs recorded before a preempted lease passed on at once (the failover waited for the cancelled
 * backup or drill to finish its clean-up) replay the old way.
 */
const PASS_ON_PATCH = 'preempted-lease-passes-on';
/** Runs recorded before a failover cancelled an update or restore (it waited for them) replay the old way. */
const FAILOVER_PREEMPTS_CHANGES_PATCH = 'failover-preempts-changes';
/** How often the owner checks that its holder still runs. */
const HOLDER_CHECK_MS = 60_000;
/** With nothing held or waiting this long, the owner ends (it is started again on demand). */
const IDLE_MS = 10 * 60_000;

const { workflowIsOpen } = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 } });

type Holder = NonNullable<NonNullable<VmOwnerInput['carried']>['holder']>;

export async function vmOwner(input: VmOwnerInput): Promise<void> {
  let holder: Holder | undefined = input.carried?.holder;
  let queue: LeaseRequest[] = [...(input.carried?.queue ?? [])];
  /** Lease ids seen in this run: a repeated request (an activity retry) is not queued twice. */
  const known = new Set<string>([...(holder ? [holder.leaseId] : []), ...queue.map((r) => r.leaseId)]);
  let granted = 0;
  let changed = false;

  setHandler(leaseRequestedSignal, (req) => {
    if (known.has(req.leaseId)) return;
    known.add(req.leaseId);
    queue.push(req);
    changed = true;
  });
  setHandler(leaseReleasedSignal, ({ leaseId }) => {
    if (holder?.leaseId === leaseId) holder = undefined;
    // A requester that gave up before its grant withdraws its request the same way.
    queue = queue.filter((r) => r.leaseId !== leaseId);
    known.add(leaseId);
    changed = true;
  });
  setHandler(vmOwnerStatusQuery, () => ({
    vmId: input.vmId,
    ...(holder ? { holder: { leaseId: holder.leaseId, operation: holder.operation, workflowId: holder.holderWorkflowId, grantedAt: holder.grantedAt, preempting: !!holder.preempting } } : {}),
    waiting: ordered().map((r) => ({ leaseId: r.leaseId, operation: r.operation, workflowId: r.holderWorkflowId, requestedAt: r.requestedAt })),
    granted,
  }));

  /** Highest priority first, then first come, first served. */
  function ordered(): LeaseRequest[] {
    return [...queue].sort((a, b) => OPERATION_PRIORITY[b.operation] - OPERATION_PRIORITY[a.operation] || a.requestedAt.localeCompare(b.requestedAt));
  }

  /** Cancels the holder once (marked, so it is not cancelled again); it releases on its way out. */
  async function cancelHolder(preempted: Holder, forRequest: LeaseRequest): Promise<void> {
    preempted.preempting = true;
    log.info('VM lease preempted', { vmId: input.vmId, holder: preempted.holderWorkflowId, operation: preempted.operation, for: forRequest.operation });
    try {
      await getExternalWorkflowHandle(preempted.holderWorkflowId, preempted.holderRunId).cancel();
    } catch {
      // already ended: the holder check frees the lease
    }
  }

  let idleSince = Date.now();
  for (;;) {
    // Grant the lease to the next requester that is still there to take it.
    while (!holder && queue.length) {
      const next = ordered()[0];
      queue = queue.filter((r) => r.leaseId !== next.leaseId);
      try {
        await getExternalWorkflowHandle(next.holderWorkflowId, next.holderRunId).signal(leaseGrantedSignal, { leaseId: next.leaseId });
        holder = { ...next, grantedAt: new Date().toISOString() };
        granted += 1;
        log.info('VM lease granted', { vmId: input.vmId, operation: next.operation, holder: next.holderWorkflowId });
      } catch (err) {
        log.warn('VM lease requester is gone; skipping it', { vmId: input.vmId, holder: next.holderWorkflowId, error: String(err) });
      }
    }

    // Recovery does not wait for a backup or a drill: cancel such a holder once; it releases on its way out.
    const head = ordered()[0];
    if (holder && head && !holder.preempting && PREEMPTIBLE.has(holder.operation) && OPERATION_PRIORITY[head.operation] > OPERATION_PRIORITY[holder.operation]) {
      // `holder` may change while the cancel is on its way (its release signal can arrive first).
      const preempted = holder;
      await cancelHolder(preempted, head);
      if (patched(PASS_ON_PATCH)) {
        // On its way out the cancelled run only removes what it made itself (a half-made template,
        // its drill copy) — with a cloud down that can take many minutes, and recovery does not
        // wait for it: the lease passes on now. The late release of the old lease is ignored.
        log.info('VM lease passed on from a preempted holder', { vmId: input.vmId, holder: preempted.holderWorkflowId });
        if (holder?.leaseId === preempted.leaseId) holder = undefined;
        continue;
      }
    }

    // A disaster does not wait for a member's update or restore either (with the base cloud down
    // they retry for up to 30 minutes: soak seed 1). Cancelled, they record why on the VM and
    // release; the lease passes on then, so the VM record has one writer at a time.
    if (holder && head && !holder.preempting && head.operation === 'failover' && YIELDS_TO_FAILOVER.has(holder.operation) && patched(FAILOVER_PREEMPTS_CHANGES_PATCH)) {
      await cancelHolder(holder, head);
    }

    if (holder || queue.length) idleSince = Date.now();
    if (!holder && !queue.length && Date.now() - idleSince >= IDLE_MS) return;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof vmOwner>({ vmId: input.vmId, carried: { holder, queue } });
    }

    changed = false;
    const woke = await condition(() => changed, holder ? HOLDER_CHECK_MS : IDLE_MS);
    if (!woke && holder) {
      const h = holder;
      if (!(await workflowIsOpen({ workflowId: h.holderWorkflowId, runId: h.holderRunId }))) {
        log.warn('VM lease holder ended without releasing; lease freed', { vmId: input.vmId, holder: h.holderWorkflowId, operation: h.operation });
        if (holder?.leaseId === h.leaseId) holder = undefined;
      }
    }
  }
}
