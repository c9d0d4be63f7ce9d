/** What withdrawal removes of a member's webhooks (registered by createApp, api/app.ts). */
import type { MemberDataCleanup } from '../accounts/member-data';
import { webhookDeliveryModel, webhookEndpointModel } from './model';

export const WEBHOOK_MEMBER_DATA: Record<string, MemberDataCleanup> = {
  webhooks: async ({ db, userId }) => (await webhookEndpointModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
  webhookDeliveries: async ({ db, userId }) => (await webhookDeliveryModel(db).deleteMany({ ownerId: userId })).deletedCount ?? 0,
};
