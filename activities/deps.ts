import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import type { ImageStoreClient } from '../src/imagestore/client';
import type { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import type { Logger } from '../src/logger';
import type { OutboundGuard } from '../src/outbound/guard';
import type { Keyring } from '../src/secrets/keyring';

/** What activities are built from (samples-typescript's createActivities(deps) factory pattern). */
export interface ActivityDeps {
  db: Connection;
  logger: Logger;
  /** Where backups are exported to, and how CloudStack is given a signed URL to fetch them. */
  imageStore?: { client: ImageStoreClient; publicBaseUrl: string; signingSecret: string };
  /** Turns a workflow's `{accountId}` reference into an OpenStack / CloudStack client. */
  cloudAccounts?: CloudAccountResolver;
  /** Poll intervals of waiting activities; tests shorten them (the simulators run fast). */
  timing?: { pollIntervalMs?: number };
  /**
   * Cloud settings the renderers need (network for server ports, …); `externalNetwork`: where an
   * environment's router leads (default `public`; empty: environments get no router).
   */
  /** externalNetwork: OPENSTACK_EXTERNAL_NETWORK ('public' when unset; '' for no router). */
  openstack?: { network?: string; externalNetwork?: string };
  /** CloudStack zone to deploy into (the only/first zone when unset). */
  cloudstack?: { zone?: string };
  /** Temporal client for what activities manage in Temporal itself (backup schedules). */
  temporalClient?: Client;
  /** Where guest health checks connect (VMFLOW_GUEST_ADDRESS_MAP, src/dr/guest-checks.ts); unset: the VMs' own addresses. */
  guestAddressMap?: string;
  /** Where disaster alerts are POSTed (HMAC-signed when a secret is set). */
  alerts?: { webhookUrl?: string; webhookSecret?: string };
  /**
   * Members' own webhook endpoints: the keyring their secrets are encrypted with and the guard their
   * URLs go through (createVmflowWorker fills it from its keyring and an empty allow-list when absent).
   */
  webhooks?: { keyring: Keyring; outbound: OutboundGuard };
}
