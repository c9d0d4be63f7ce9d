/**
 * Contract of the VM owner (`vmOwner`, ID `vm-owner:<vmId>`): the one place that decides which
 * operation may change a VM's cloud resources now. Create, update, delete, backup runs, restore,
 * failover, failback, fencing and drills each ask it for the VM's lease and hold it while they act;
 * the owner admits one holder at a time, in priority order, and cancels a preemptible holder (a
 * backup run, a drill) when disaster recovery needs the VM. Which copy is live is written in one
 * place only — the VM record's `placement` — and only by the lease holder.
 * Imported by workflows, activities and API; no I/O.
 */
export const VM_OWNER_WORKFLOW = 'vmOwner';
export const vmOwnerWorkflowId = (vmId: string): string => `vm-owner:${vmId}`;

/** Signals (names as Temporal sees them). `granted` goes from the owner to the requesting workflow. */
export const OWNER_SIGNALS = { request: 'vmLeaseRequested', release: 'vmLeaseReleased', granted: 'vmLeaseGranted' } as const;
export const OWNER_STATUS_QUERY = 'vmOwnerStatus';
/** Marker of the workflow change that introduced the owner (workflows call patched() with it). */
export const OWNER_PATCH = 'one-owner-per-vm';

export type VmOperationKind = 'create' | 'update' | 'delete' | 'backup' | 'restore' | 'failover' | 'failback' | 'fence' | 'drill';

/**
 * Higher goes first. Recovery outranks everything (the clock is the RTO); a delete outranks the
 * user's changes; backups and drills come last and give way when recovery needs the VM.
 */
export const OPERATION_PRIORITY: Record<VmOperationKind, number> = {
  failover: 5,
  failback: 4,
  fence: 4,
  delete: 3,
  create: 2,
  update: 1,
  restore: 1,
  backup: 0,
  drill: 0,
};

/** Holders the owner may cancel when a higher-priority operation waits: they leave the VM as it was. */
export const PREEMPTIBLE: ReadonlySet<VmOperationKind> = new Set(['backup', 'drill']);

/**
 * Holders a waiting failover cancels too: a member's update or restore, whose cloud calls may be
 * retrying against a base cloud that is down (for up to 30 minutes). Unlike a backup they write
 * the VM record on their way out, so the lease passes on when they release it (one writer).
 */
export const YIELDS_TO_FAILOVER: ReadonlySet<VmOperationKind> = new Set(['update', 'restore']);

export interface LeaseRequest {
  /** Chosen by the requester; it is also the lease id once granted. */
  leaseId: string;
  holderWorkflowId: string;
  holderRunId: string;
  operation: VmOperationKind;
  requestedAt: string;
}

export interface LeaseGrant {
  leaseId: string;
}

export interface LeaseRelease {
  leaseId: string;
}

export interface VmOwnerInput {
  vmId: string;
  /** Carried over continue-as-new. */
  carried?: { holder?: LeaseRequest & { grantedAt: string; preempting?: boolean }; queue: LeaseRequest[] };
}

export interface VmOwnerStatus {
  vmId: string;
  holder?: { leaseId: string; operation: VmOperationKind; workflowId: string; grantedAt: string; preempting: boolean };
  waiting: { leaseId: string; operation: VmOperationKind; workflowId: string; requestedAt: string }[];
  /** Leases granted since this run started (a liveness figure for the Temporal UI). */
  granted: number;
}
