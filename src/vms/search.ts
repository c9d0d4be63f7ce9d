/** Typed search attributes for VM workflows (registered by the dev server / the worker). */
import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from '@temporalio/common';
import type { CloudKind } from '../contracts/vm';

export const VMFLOW_OWNER_KEY = defineSearchAttributeKey('VmflowOwnerId', SearchAttributeType.KEYWORD);
export const VMFLOW_VM_KEY = defineSearchAttributeKey('VmflowVmId', SearchAttributeType.KEYWORD);
export const VMFLOW_CLOUD_KEY = defineSearchAttributeKey('VmflowCloud', SearchAttributeType.KEYWORD);

export function vmSearchAttributes(ownerId: string, vmId: string, cloud: CloudKind): TypedSearchAttributes {
  return new TypedSearchAttributes([
    { key: VMFLOW_OWNER_KEY, value: ownerId },
    { key: VMFLOW_VM_KEY, value: vmId },
    { key: VMFLOW_CLOUD_KEY, value: cloud },
  ]);
}
