/**
 * What withdrawal removes of a member's VMs (registered by createApp, api/app.ts). Withdrawal
 * is refused while the member has VMs that are not deleted (src/accounts/member-data.ts), so by
 * then these are records of deleted VMs: no cloud resource is left behind them.
 */
import type { MemberDataCleanup } from '../accounts/member-data';
import { vmModel } from './model';
import { vmOperationModel } from './operations';
import { markVmListChanged } from './list-version';
import { VM_QUOTA_SLOTS_COLLECTION } from './quota-slots';

export const VM_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  vms: async ({ db, userId }) => {
    const n = (await vmModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0;
    await markVmListChanged(db, userId);
    return n;
  },
  vmOperations: async ({ db, userId }) => (await vmOperationModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  vmQuotaSlots: async ({ db, userId }) => (await db.collection(VM_QUOTA_SLOTS_COLLECTION).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
