/**
 * What withdrawal removes of a member's backups and backup policies (registered by createApp, api/app.ts). Withdrawal
 * is refused while the member has VMs that are not deleted (src/accounts/member-data.ts), so by
 * then these are records of deleted VMs: no cloud resource is left behind them.
 */
import type { MemberDataCleanup } from '../accounts/member-data';
import { backupModel, backupPolicyModel } from './model';

export const BACKUP_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  backups: async ({ db, userId }) => (await backupModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  backupPolicies: async ({ db, userId }) => (await backupPolicyModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
