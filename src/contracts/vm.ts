/**
 * Contract of the VM lifecycle workflows (createVm, updateVm, deleteVm): workflow IDs, input and
 * result types and VM states. Imported by workflows, activities, worker and API; no I/O.
 */
import type { VmRequirements } from '../templates/requirements';

export const CREATE_VM_WORKFLOW = 'createVm';
export const UPDATE_VM_WORKFLOW = 'updateVm';
export const DELETE_VM_WORKFLOW = 'deleteVm';

export const createVmWorkflowId = (vmId: string): string => `vm-create:${vmId}`;
export const updateVmWorkflowId = (vmId: string, revision: number): string => `vm-update:${vmId}:${revision}`;
export const deleteVmWorkflowId = (vmId: string): string => `vm-delete:${vmId}`;

/** Cloud resources are named after the VM, so a retried create finds what an earlier attempt made. */
export const cloudResourceName = (vmId: string): string => `vmflow-${vmId}`;

export type CloudKind = 'openstack' | 'cloudstack';

export type VmState = 'creating' | 'active' | 'updating' | 'deleting' | 'deleted' | 'failed';

export const CREATE_VM_STEPS = ['render', 'create', 'wait', 'read-back', 'persist'] as const;
export const UPDATE_VM_STEPS = ['render', 'update', 'wait', 'read-back', 'persist'] as const;
export const DELETE_VM_STEPS = ['stop-backups', 'delete', 'wait-gone', 'remove-backups', 'persist'] as const;

export interface VmAddress {
  network: string;
  addr: string;
  version: 4 | 6;
  type: 'fixed' | 'floating';
}

/** Where the VM runs now: one write changes it (disaster recovery switches it). */
export interface VmPlacement {
  cloud: CloudKind;
  accountId: string;
  serverId: string;
  /** OpenStack: the Heat stack that owns the server. */
  stackId?: string;
  stackName?: string;
  status: string;
  addresses: VmAddress[];
}

export interface CreateVmInput {
  vmId: string;
  ownerId: string;
  accountId: string;
  cloud: CloudKind;
  requirements: VmRequirements;
  /**
   * The private network (by name) the server goes on: an environment's (src/contracts/environment.ts).
   * Unset: the cloud's default network, as before it existed (runs without it send the same commands).
   */
  network?: string;
  /**
   * Boot from a backup's copy in the image store (imported into Glance as
   * `restoredImageName(vmId, backupId)`) instead of the catalog's OS image. OpenStack only.
   */
  fromBackup?: VmFromBackup;
}

export interface VmFromBackup {
  backupId: string;
  /** The copy in the image store (BackupRecord.store.key). */
  storeKey: string;
}

/** The Glance image a VM restored from another VM's backup boots from (its delete sweeps it by the VM's prefix). */
export const restoredImageName = (vmId: string, backupId: string): string => `${cloudResourceName(vmId)}-restored-${backupId}`;

export interface UpdateVmInput {
  vmId: string;
  ownerId: string;
  /** The full new requirements (the API merged the user's changes into the stored ones). */
  requirements: VmRequirements;
  revision: number;
  /** The change replaces the server and the VM has a backup policy: back it up first. */
  backupFirst?: boolean;
}

export interface DeleteVmInput {
  vmId: string;
  ownerId: string;
  /**
   * A backup whose image-store copy outlives the VM (its final backup, taken by the environment's
   * destroy): its image and template in the clouds go like every other backup's, its store copy
   * stays and its record says `preservedAt`.
   */
  keepBackupId?: string;
}

export interface VmOperationResult {
  vmId: string;
  state: VmState;
  placement?: VmPlacement;
  /** The change was not applied (the VM keeps its previous configuration): why. Also the VM's lastError. */
  error?: string;
}
