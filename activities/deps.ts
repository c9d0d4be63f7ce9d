import type { Connection } from 'mongoose';
import type { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import type { Logger } from '../src/logger';

/** What activities are built from (samples-typescript's createActivities(deps) factory pattern). */
export interface ActivityDeps {
  db: Connection;
  logger: Logger;
  /** Turns a workflow's `{accountId}` reference into an OpenStack / CloudStack client. */
  cloudAccounts?: CloudAccountResolver;
}
