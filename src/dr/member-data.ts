/**
 * What withdrawal removes of a member's DR protections, DR state records, events and drills (registered by createApp, api/app.ts). Withdrawal
 * is refused while the member has VMs that are not deleted (src/accounts/member-data.ts), so by
 * then these are records of deleted VMs: no cloud resource is left behind them.
 */
import type { MemberDataCleanup } from '../accounts/member-data';
import { VMS_COLLECTION } from '../accounts/member-data';
import { deleteDrillSchedule } from './schedules';
import { drEventModel, drProtectionModel, drStateModel, drillModel } from './model';
import { ONE_BATCH } from '../db/connection';

export const DR_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  /** Drill schedules left behind (e.g. by VMs deleted before deleteVm removed them). */
  drillSchedules: async ({ db, userId, temporal }) => {
    if (!temporal) return 0;
    let removed = 0;
    for await (const vm of db.collection<{ _id: string }>(VMS_COLLECTION).find({ ownerId: userId }, { projection: { _id: 1 }, ...ONE_BATCH })) {
      if (await deleteDrillSchedule(temporal, vm._id)) removed += 1;
    }
    return removed;
  },
  drProtections: async ({ db, userId }) => (await drProtectionModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  drStates: async ({ db, userId }) => (await drStateModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  events: async ({ db, userId }) => (await drEventModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  drills: async ({ db, userId }) => (await drillModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
