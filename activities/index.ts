/**
 * All activities, built by one factory from their dependencies. Workflows import only the
 * *type* `Activities` and call them through proxyActivities.
 */
import type { ActivityDeps } from './deps';
import { createSystemActivities } from './system';
import { createVmStoreActivities } from './vm-store';
import { createOpenStackVmActivities } from './vm-openstack';
import { createCloudStackVmActivities } from './vm-cloudstack';
import { createBackupActivities } from './backup';
import { createBackupStoreActivities } from './backup-store';
import { createDrStoreActivities } from './dr-store';
import { createDrMonitorActivities } from './dr-monitor';
import { createDrActivities } from './dr';
import { createOwnerActivities } from './owner';
import { createWebhookActivities } from './webhooks';
import { createEnvironmentActivities } from './environment';
import { createEnvironmentBackupActivities } from './environment-backup';
import { createEnvironmentDrActivities } from './environment-dr';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSystemActivities(deps),
    ...createVmStoreActivities(deps),
    ...createOpenStackVmActivities(deps),
    ...createCloudStackVmActivities(deps),
    ...createBackupActivities(deps),
    ...createBackupStoreActivities(deps),
    ...createDrStoreActivities(deps),
    ...createDrMonitorActivities(deps),
    ...createDrActivities(deps),
    ...createOwnerActivities(deps),
    ...createWebhookActivities(deps),
    ...createEnvironmentActivities(deps),
    ...createEnvironmentBackupActivities(deps),
    ...createEnvironmentDrActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
