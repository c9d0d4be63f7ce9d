/**
 * Contract of cloud accounts (no I/O; workflows may import the types). Workflows and activities
 * pass a `CloudAccountRef` — an id — never credentials; the worker's CloudAccountResolver turns it
 * into a client with the decrypted secrets, so secrets stay out of workflow history.
 */
export type CloudKind = 'openstack' | 'cloudstack';

export interface CloudAccountRef {
  accountId: string;
}

/** Ids of the accounts the operator configures through the environment (seeded at API start). */
export const OPERATOR_ACCOUNT_IDS = {
  openstack: 'operator-openstack',
  cloudstack: 'operator-cloudstack',
} as const satisfies Record<CloudKind, string>;

/** Non-secret settings of an OpenStack account. */
export interface OpenStackAccountSettings {
  authUrl: string;
  region?: string;
  projectName: string;
  projectDomainName: string;
  username: string;
  userDomainName: string;
}

/** Non-secret settings of a CloudStack account. */
export interface CloudStackAccountSettings {
  apiUrl: string;
  zoneName?: string;
}

/** What the API shows of an account is the contract's CloudAccountView (src/contracts/api/cloud-accounts.ts). */
export type { CloudAccountView } from '../contracts/api/cloud-accounts';
