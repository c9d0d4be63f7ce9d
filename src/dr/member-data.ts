/**
 * What withdrawal removes of a member's DR protections, events and drills (registered by createApp, api/app.ts). Withdrawal
 * is refused while the member has VMs that are not deleted (src/accounts/member-data.ts), so by
 * then these are records of deleted VMs: no cloud resource is left behind them.
 */
import type { MemberDataCleanup } from '../accounts/member-data';
import { drEventModel, drProtectionModel, drillModel } from './model';

export const DR_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  drProtections: async ({ db, userId }) => (await drProtectionModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  events: async ({ db, userId }) => (await drEventModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  drills: async ({ db, userId }) => (await drillModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
