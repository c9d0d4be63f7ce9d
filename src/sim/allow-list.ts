/**
 * The VMFLOW_OUTBOUND_ALLOW entries that open a simulator's cloud APIs to member accounts — its
 * service paths only, never its /_sim control routes. `npm start` and the tests use them.
 */

/** OpenStack simulator: the five services of its catalog (cloud.ts). */
export function openstackSimulatorAllowList(baseUrl: string): string[] {
  const b = baseUrl.replace(/\/+$/, '');
  return ['identity', 'compute', 'image', 'heat-api', 'networking'].map((s) => `${b}/${s}/`);
}

/** CloudStack simulator: the API and the extractTemplate download URLs. */
export function cloudstackSimulatorAllowList(baseUrl: string): string[] {
  const b = baseUrl.replace(/\/+$/, '');
  return [`${b}/client/api`, `${b}/download/`];
}
