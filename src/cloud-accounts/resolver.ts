/**
 * Turns a cloud-account reference (`{accountId}`) into a ready client, inside the worker (and the
 * API's verify route). Workflows only ever hold the id; the secrets are read and decrypted here, at
 * the moment of the call, so they are never part of workflow history.
 *
 * OpenStack sessions share one TokenCache per resolver (one per process): the cache is keyed by
 * account (auth URL, user, project and a password fingerprint), so a token is fetched once per
 * account and reused until shortly before its expires_at, across every activity.
 */
import type { Connection } from 'mongoose';
import { CloudApiError } from '../clouds/errors';
import { CloudStackClient, type CloudStackClientOptions } from '../clouds/cloudstack/client';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackClient, type OpenStackCredentials, type SessionOptions } from '../clouds/openstack';
import type { Logger } from '../logger';
import type { Keyring } from '../secrets/keyring';
import { CloudAccountStore, type CloudCredentials } from './store';
import type { CloudKind, CloudStackAccountSettings } from './types';

export interface CloudAccountResolverOptions {
  db: Connection;
  keyring: Keyring;
  logger?: Logger;
  /** Shared token cache; default: one owned by this resolver. */
  tokenCache?: TokenCache;
  /** Extra OpenStack session options (timeouts, endpoint overrides, dispatcher). */
  openstack?: Omit<SessionOptions, 'tokenCache' | 'logger'>;
  /** Extra CloudStack client options (timeouts, polling interval, dispatcher). */
  cloudstack?: Omit<CloudStackClientOptions, 'apiUrl' | 'apiKey' | 'secretKey' | 'logger'>;
}

/** The account does not exist (deleted, or a wrong id): no retry can fix it. */
export class CloudAccountNotFoundError extends CloudApiError {
  constructor(readonly accountId: string) {
    super({ kind: 'NotFound', method: 'RESOLVE', url: `cloud-account:${accountId}`, message: `cloud account ${accountId} does not exist` });
    this.name = 'CloudAccountNotFoundError';
  }
}

export function openStackCredentialsOf(c: Extract<CloudCredentials, { kind: 'openstack' }>): OpenStackCredentials {
  return {
    authUrl: c.settings.authUrl,
    username: c.settings.username,
    userDomainName: c.settings.userDomainName,
    password: c.password,
    projectName: c.settings.projectName,
    projectDomainName: c.settings.projectDomainName,
    ...(c.settings.region ? { region: c.settings.region } : {}),
  };
}

export class CloudAccountResolver {
  readonly tokenCache: TokenCache;
  private readonly store: CloudAccountStore;

  constructor(private readonly o: CloudAccountResolverOptions) {
    this.tokenCache = o.tokenCache ?? new TokenCache();
    this.store = new CloudAccountStore(o.db, o.keyring);
  }

  /** Decrypted credentials of an account of the given kind; NotFound / BadRequest CloudApiErrors otherwise. */
  async credentials<K extends CloudKind>(accountId: string, kind: K): Promise<Extract<CloudCredentials, { kind: K }>> {
    const creds = await this.store.credentials(accountId);
    if (!creds) throw new CloudAccountNotFoundError(accountId);
    if (creds.kind !== kind) {
      throw new CloudApiError({ kind: 'BadRequest', method: 'RESOLVE', url: `cloud-account:${accountId}`, message: `cloud account ${accountId} is a ${creds.kind} account, not ${kind}` });
    }
    return creds as Extract<CloudCredentials, { kind: K }>;
  }

  async openstackCredentials(accountId: string): Promise<OpenStackCredentials> {
    return openStackCredentialsOf(await this.credentials(accountId, 'openstack'));
  }

  /** An OpenStack client of the account, sharing this resolver's token cache. */
  async openstack(accountId: string): Promise<OpenStackClient> {
    const session = new OpenStackSession(await this.openstackCredentials(accountId), {
      ...this.o.openstack,
      tokenCache: this.tokenCache,
      ...(this.o.logger ? { logger: this.o.logger } : {}),
    });
    return createOpenStackClient(session);
  }

  /** A CloudStack client of the account (every request signed with its keys). */
  async cloudstack(accountId: string): Promise<CloudStackClient> {
    const c = await this.credentials(accountId, 'cloudstack');
    return new CloudStackClient({
      ...this.o.cloudstack,
      apiUrl: c.settings.apiUrl,
      apiKey: c.apiKey,
      secretKey: c.secretKey,
      ...(this.o.logger ? { logger: this.o.logger } : {}),
    });
  }

  /** Non-secret settings of a CloudStack account (its zone name, when one is configured). */
  async cloudstackSettings(accountId: string): Promise<CloudStackAccountSettings> {
    return (await this.credentials(accountId, 'cloudstack')).settings;
  }
}
