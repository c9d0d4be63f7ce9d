/**
 * All activities, built by one factory from their dependencies. Workflows import only the
 * *type* `Activities` and call them through proxyActivities.
 */
import type { ActivityDeps } from './deps';
import { createSystemActivities } from './system';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSystemActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
