/**
 * What withdrawal removes of a member's VM data (VMs, backups, DR protections, events, drills).
 * Withdrawal is refused while the member has VMs that are not deleted (src/accounts/member-data.ts), so by then these are records of deleted VMs
 * and their backups: no cloud resource is left behind them (deleteVm removed those).
 */
import { registerMemberDataCleanup } from '../accounts/member-data';
import { backupModel, backupPolicyModel } from '../backups/model';
import { drEventModel, drProtectionModel, drillModel } from '../dr/model';
import { vmModel } from './model';

registerMemberDataCleanup('vms', async ({ db, userId }) => (await vmModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
registerMemberDataCleanup('backups', async ({ db, userId }) => (await backupModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
registerMemberDataCleanup('backupPolicies', async ({ db, userId }) => (await backupPolicyModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
registerMemberDataCleanup('drProtections', async ({ db, userId }) => (await drProtectionModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
registerMemberDataCleanup('events', async ({ db, userId }) => (await drEventModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
registerMemberDataCleanup('drills', async ({ db, userId }) => (await drillModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0);
