/**
 * Cloud-account records: member accounts (create, list, read, delete — scoped to the owner),
 * operator accounts seeded from the configuration, and decryption of credentials for the
 * resolver. Reads for the API return CloudAccountView, which never carries a secret.
 */
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import { registerMemberDataCleanup } from '../accounts/member-data';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { decryptSecret, encryptSecret, needsReencryption } from '../secrets/aead';
import type { Keyring } from '../secrets/keyring';
import { pageOf, type PageRequest } from '../limits/pages';
import { cloudAccountModel, secretAad, type CloudAccountRecord, type SecretField } from './model';
import { createCloudAccountSchema, type CloudAccountView, type CreateCloudAccountInput } from '../contracts/api/cloud-accounts';
import { OPERATOR_ACCOUNT_IDS, type CloudKind, type CloudStackAccountSettings, type OpenStackAccountSettings } from './types';

// The request schema is the API contract's (src/contracts/api/cloud-accounts.ts).
export { createCloudAccountSchema, type CreateCloudAccountInput };

export type CloudCredentials = (
  | { kind: 'openstack'; settings: OpenStackAccountSettings; password: string }
  | { kind: 'cloudstack'; settings: CloudStackAccountSettings; apiKey: string; secretKey: string }
) & {
  /** `operator`: configured by the operator (trusted endpoints); `user`: a member's, reached only through the outbound guard. */
  scope: 'operator' | 'user';
};

function encryptAll(keyring: Keyring, id: string, values: Partial<Record<SecretField, string>>): CloudAccountRecord['secrets'] {
  const out: CloudAccountRecord['secrets'] = {};
  for (const [field, value] of Object.entries(values) as [SecretField, string | undefined][]) {
    if (value !== undefined) out[field] = encryptSecret(keyring, value, secretAad(id, field));
  }
  return out;
}

/**
 * What a member sees of an account: their own in full (never a secret's value); of the operator's,
 * only that it exists — its URLs, usernames and which secrets it holds are the operator's (issue 12
 * item 7).
 */
export function toView(r: CloudAccountRecord): CloudAccountView {
  const operator = r.scope === 'operator';
  return {
    id: r._id,
    kind: r.kind,
    name: r.name,
    scope: operator ? 'operator' : 'own',
    ...(r.openstack && !operator ? { openstack: { ...r.openstack } } : {}),
    ...(r.cloudstack && !operator ? { cloudstack: { ...r.cloudstack } } : {}),
    secrets: operator ? [] : Object.keys(r.secrets ?? {}).sort(),
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

export class CloudAccountStore {
  constructor(
    private readonly db: Connection,
    private readonly keyring: Keyring,
  ) {}

  private get model() {
    return cloudAccountModel(this.db);
  }

  async createForMember(ownerId: string, input: CreateCloudAccountInput): Promise<CloudAccountView> {
    const id = `ca-${crypto.randomUUID()}`;
    const base = { _id: id, kind: input.kind, name: input.name, scope: 'user' as const, ownerId };
    const doc =
      input.kind === 'openstack'
        ? {
            ...base,
            openstack: {
              authUrl: input.authUrl,
              ...(input.region ? { region: input.region } : {}),
              projectName: input.projectName,
              projectDomainName: input.projectDomainName,
              username: input.username,
              userDomainName: input.userDomainName,
            },
            secrets: encryptAll(this.keyring, id, { password: input.password }),
          }
        : {
            ...base,
            cloudstack: { apiUrl: input.apiUrl, ...(input.zoneName ? { zoneName: input.zoneName } : {}) },
            secrets: encryptAll(this.keyring, id, { apiKey: input.apiKey, secretKey: input.secretKey }),
          };
    const created = await this.model.create(doc);
    return toView(created.toObject());
  }

  /** How many accounts the member registered. */
  async countOwn(ownerId: string): Promise<number> {
    return this.model.countDocuments({ scope: 'user', ownerId });
  }

  /**
   * The operator accounts (on the first page only; a handful, from the configuration) and a page
   * of the member's own, oldest first.
   */
  async listVisibleTo(userId: string, page: PageRequest = {}): Promise<{ items: CloudAccountView[]; nextCursor?: string }> {
    const operator = page.cursor ? [] : await this.model.find({ scope: 'operator' }).sort({ createdAt: 1, _id: 1 }).limit(10).lean();
    const own = await pageOf(this.model, { scope: 'user', ownerId: userId }, { field: 'createdAt', direction: 1 }, page);
    return { items: [...operator, ...own.items].map(toView), ...(own.nextCursor ? { nextCursor: own.nextCursor } : {}) };
  }

  /** An account the member may use (own or operator), or undefined — another member's is "not found". */
  async findVisible(id: string, userId: string): Promise<CloudAccountRecord | undefined> {
    const doc = await this.model.findById(id).lean();
    if (!doc) return undefined;
    if (doc.scope === 'operator' || doc.ownerId === userId) return doc;
    return undefined;
  }

  /** Deletes one of the member's own accounts. */
  async deleteOwn(id: string, userId: string): Promise<'deleted' | 'operator' | 'not-found'> {
    const doc = await this.findVisible(id, userId);
    if (!doc) return 'not-found';
    if (doc.scope === 'operator') return 'operator';
    const res = await this.model.deleteOne({ _id: id, ownerId: userId });
    return res.deletedCount ? 'deleted' : 'not-found';
  }

  /** Decrypted credentials of an account (for the resolver; never for an API answer). */
  async credentials(id: string): Promise<CloudCredentials | undefined> {
    const doc = await this.model.findById(id).lean();
    return doc ? this.decrypt(doc) : undefined;
  }

  decrypt(doc: CloudAccountRecord): CloudCredentials {
    const open = (field: SecretField): string => {
      const enc = doc.secrets?.[field];
      if (!enc) throw new Error(`cloud account ${doc._id} has no stored ${field}`);
      return decryptSecret(this.keyring, enc, secretAad(doc._id, field));
    };
    // Anything not marked operator is treated as a member's (untrusted) account.
    const scope = doc.scope === 'operator' ? 'operator' : 'user';
    if (doc.kind === 'openstack') return { kind: 'openstack', scope, settings: doc.openstack!, password: open('password') };
    return { kind: 'cloudstack', scope, settings: doc.cloudstack!, apiKey: open('apiKey'), secretKey: open('secretKey') };
  }

  /**
   * Upserts the operator accounts named in VMFLOW_OPERATOR_CLOUDS from the configuration (stable
   * ids, so every start rewrites the same records) and removes operator accounts no longer
   * configured. Safe when several API processes start at once: the same values win either way.
   */
  async seedOperatorAccounts(config: Config, log: Logger): Promise<string[]> {
    const seeded: string[] = [];
    for (const kind of config.operatorClouds as CloudKind[]) {
      const id = OPERATOR_ACCOUNT_IDS[kind];
      const set =
        kind === 'openstack'
          ? {
              kind,
              name: 'Operator OpenStack',
              scope: 'operator',
              ownerId: null,
              openstack: {
                authUrl: config.openstackAuthUrl,
                region: config.openstackRegion,
                projectName: config.openstackProjectName,
                projectDomainName: config.openstackProjectDomainName,
                username: config.openstackUsername,
                userDomainName: config.openstackUserDomainName,
              },
              secrets: encryptAll(this.keyring, id, { password: config.openstackPassword }),
            }
          : {
              kind,
              name: 'Operator CloudStack',
              scope: 'operator',
              ownerId: null,
              cloudstack: { apiUrl: config.cloudstackApiUrl, ...(config.cloudstackZone ? { zoneName: config.cloudstackZone } : {}) },
              secrets: encryptAll(this.keyring, id, { apiKey: config.cloudstackApiKey, secretKey: config.cloudstackSecretKey }),
            };
      const upsert = () => this.model.updateOne({ _id: id }, { $set: set }, { upsert: true });
      try {
        await upsert();
      } catch (err) {
        // Two processes inserting the same id at once: the loser updates the winner's record.
        if ((err as { code?: number }).code !== 11000) throw err;
        await upsert();
      }
      seeded.push(id);
    }
    const stale = await this.model.deleteMany({ scope: 'operator', _id: { $nin: seeded } });
    log.info({ seeded, removed: stale.deletedCount ?? 0 }, 'operator cloud accounts seeded');
    return seeded;
  }

  /** Rewrites secrets made with an older key under the current one (after a key rotation). */
  async reencryptStale(log: Logger): Promise<number> {
    let rewritten = 0;
    for (const doc of await this.model.find({}).lean()) {
      const stale = Object.values(doc.secrets ?? {}).some((enc) => enc && needsReencryption(this.keyring, enc));
      if (!stale) continue;
      const plain: Partial<Record<SecretField, string>> = {};
      for (const [field, enc] of Object.entries(doc.secrets) as [SecretField, CloudAccountRecord['secrets'][SecretField]][]) {
        if (enc) plain[field] = decryptSecret(this.keyring, enc, secretAad(doc._id, field));
      }
      await this.model.updateOne({ _id: doc._id }, { $set: { secrets: encryptAll(this.keyring, doc._id, plain) } });
      rewritten++;
    }
    if (rewritten) log.info({ rewritten }, 'cloud account secrets re-encrypted with the current key');
    return rewritten;
  }
}

registerMemberDataCleanup('cloudAccounts', async ({ db, userId }) => {
  const res = await cloudAccountModel(db).deleteMany({ scope: 'user', ownerId: userId });
  return res.deletedCount ?? 0;
});
