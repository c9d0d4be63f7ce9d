/**
 * What withdrawal removes of a member's environments (registered by createApp, api/app.ts).
 * Withdrawal is refused while the member has VMs that are not deleted, so by then no environment
 * has a member left in a cloud; the records go (with their group policies and restore points).
 */
import type { MemberDataCleanup } from '../accounts/member-data';
import { environmentModel } from './model';
import { environmentBackupModel, environmentBackupPolicyModel } from './backup-model';
import { environmentDrModel, environmentDrillModel } from './dr-model';

export const ENVIRONMENT_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  environments: async ({ db, userId }) => (await environmentModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  environmentBackupPolicies: async ({ db, userId }) => (await environmentBackupPolicyModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  environmentBackups: async ({ db, userId }) => (await environmentBackupModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  environmentRecoveryPlans: async ({ db, userId }) => (await environmentDrModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  environmentDrills: async ({ db, userId }) => (await environmentDrillModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
