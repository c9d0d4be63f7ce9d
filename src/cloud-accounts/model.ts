/**
 * Stored cloud accounts (`cloudaccounts`). Secrets are `{kid, iv, tag, ct}` AES-256-GCM records
 * (src/secrets) whose associated data is `cloud-account:<id>:<field>`; nothing else of a secret is
 * stored. Operator accounts have `scope: 'operator'` and no owner; member accounts carry `ownerId`.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { EncryptedSecret } from '../secrets/aead';
import type { CloudKind, CloudStackAccountSettings, OpenStackAccountSettings } from './types';

export type SecretField = 'password' | 'apiKey' | 'secretKey';

export interface CloudAccountRecord {
  _id: string;
  kind: CloudKind;
  name: string;
  scope: 'operator' | 'user';
  ownerId?: string | null;
  openstack?: OpenStackAccountSettings;
  cloudstack?: CloudStackAccountSettings;
  secrets: Partial<Record<SecretField, EncryptedSecret>>;
  createdAt: Date;
  updatedAt: Date;
}

export const CLOUD_ACCOUNTS_COLLECTION = 'cloudaccounts';

const schema = new Schema<CloudAccountRecord>(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ['openstack', 'cloudstack'] },
    name: { type: String, required: true },
    scope: { type: String, required: true, enum: ['operator', 'user'] },
    ownerId: { type: String, default: null, index: true },
    openstack: { type: Schema.Types.Mixed },
    cloudstack: { type: Schema.Types.Mixed },
    secrets: { type: Schema.Types.Mixed, required: true },
  },
  { timestamps: true, versionKey: false, minimize: false },
);

export function cloudAccountModel(conn: Connection): Model<CloudAccountRecord> {
  return (conn.models.CloudAccount as Model<CloudAccountRecord>) ?? conn.model<CloudAccountRecord>('CloudAccount', schema, CLOUD_ACCOUNTS_COLLECTION);
}

export function secretAad(accountId: string, field: SecretField): string {
  return `cloud-account:${accountId}:${field}`;
}
