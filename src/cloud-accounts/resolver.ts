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
import type { Dispatcher } from 'undici';
import { CloudApiError } from '../clouds/errors';
import { CloudStackClient, type CloudStackClientOptions } from '../clouds/cloudstack/client';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackClient, type OpenStackCredentials, type SessionOptions } from '../clouds/openstack';
import type { Logger } from '../logger';
import { OutboundGuard, parseAllowList, type AllowEntry } from '../outbound/guard';
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
  /**
   * The guard every request of a member's account goes through (operator accounts are trusted and
   * use `openstack.dispatcher` / `cloudstack.dispatcher` or undici's global one). Processes pass
   * one built from VMFLOW_OUTBOUND_ALLOW of their Config; the default reads that variable from
   * process.env at each check (tests add the simulators they start).
   */
  outbound?: OutboundGuard;
}

let envAllowCache: { text: string | undefined; entries: AllowEntry[] } | undefined;
/** VMFLOW_OUTBOUND_ALLOW as it is now (parsed again only when it changed; a bad value allows nothing). */
function allowFromEnv(): AllowEntry[] {
  const text = process.env.VMFLOW_OUTBOUND_ALLOW;
  if (envAllowCache && envAllowCache.text === text) return envAllowCache.entries;
  let entries: AllowEntry[] = [];
  try {
    entries = parseAllowList(text);
  } catch {
    entries = [];
  }
  envAllowCache = { text, entries };
  return entries;
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

let envGuard: OutboundGuard | undefined;
/** A process-wide guard whose allow-list is VMFLOW_OUTBOUND_ALLOW as it is at each check. */
export function envOutboundGuard(): OutboundGuard {
  envGuard ??= new OutboundGuard({ allow: allowFromEnv });
  return envGuard;
}

export class CloudAccountResolver {
  readonly tokenCache: TokenCache;
  /** The SSRF guard of member accounts (and of URLs their clouds hand back, such as extract URLs). */
  readonly outbound: OutboundGuard;
  private readonly store: CloudAccountStore;

  constructor(private readonly o: CloudAccountResolverOptions) {
    this.tokenCache = o.tokenCache ?? new TokenCache();
    this.outbound = o.outbound ?? envOutboundGuard();
    this.store = new CloudAccountStore(o.db, o.keyring);
  }

  /** undici dispatcher for an account's requests: the guard's for a member account, else the configured one. */
  private dispatcherOf(scope: CloudCredentials['scope'], configured: Dispatcher | undefined): Dispatcher | undefined {
    return scope === 'operator' ? configured : this.outbound.dispatcher;
  }

  /** What an account's HTTP goes through (the DR monitor counts its calls on it). */
  async dispatcherFor(accountId: string, kind: CloudKind = 'openstack'): Promise<Dispatcher | undefined> {
    const c = await this.credentials(accountId, kind);
    return this.dispatcherOf(c.scope, kind === 'openstack' ? this.o.openstack?.dispatcher : this.o.cloudstack?.dispatcher);
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

  /** Credentials and the dispatcher to send them through (verify and the DR monitor authenticate themselves). */
  async openstackAuth(accountId: string): Promise<{ credentials: OpenStackCredentials; dispatcher: Dispatcher | undefined; scope: CloudCredentials['scope'] }> {
    const c = await this.credentials(accountId, 'openstack');
    return { credentials: openStackCredentialsOf(c), dispatcher: this.dispatcherOf(c.scope, this.o.openstack?.dispatcher), scope: c.scope };
  }

  /** An OpenStack client of the account, sharing this resolver's token cache. */
  async openstack(accountId: string): Promise<OpenStackClient> {
    const c = await this.credentials(accountId, 'openstack');
    const dispatcher = this.dispatcherOf(c.scope, this.o.openstack?.dispatcher);
    const session = new OpenStackSession(openStackCredentialsOf(c), {
      ...this.o.openstack,
      ...(dispatcher ? { dispatcher } : {}),
      tokenCache: this.tokenCache,
      ...(this.o.logger ? { logger: this.o.logger } : {}),
    });
    return createOpenStackClient(session);
  }

  /** A CloudStack client of the account (every request signed with its keys). */
  async cloudstack(accountId: string): Promise<CloudStackClient> {
    const c = await this.credentials(accountId, 'cloudstack');
    const dispatcher = this.dispatcherOf(c.scope, this.o.cloudstack?.dispatcher);
    return new CloudStackClient({
      ...this.o.cloudstack,
      ...(dispatcher ? { dispatcher } : {}),
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
