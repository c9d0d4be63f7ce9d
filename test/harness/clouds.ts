/**
 * Both cloud simulators (fast timings) once per run, started on first use and stopped by the root
 * hook, plus helpers to read their /_sim admin APIs (state counts, faults, outages).
 */
import { startCloudStackSimulator, type CloudStackSimulator } from '../../src/sim/cloudstack';
import { DEMO_ACCOUNT } from '../../src/sim/cloudstack/seed';
import { startOpenStackSimulator, type OpenStackSimulator } from '../../src/sim/openstack';
import { cloudstackSimulatorAllowList, openstackSimulatorAllowList } from '../../src/sim/allow-list';
import { testLogger } from './secrets';
import { freePort } from '../../src/embedded/processes';

/** Where the test simulators serve each server's guest, and where test workers' guest checks connect (src/sim/openstack/guests.ts). */
export const TEST_GUEST_ADDRESS_MAP = '10.0.0.0/8=127.0.0.0/8';

export interface TestClouds {
  openstack: OpenStackSimulator;
  cloudstack: CloudStackSimulator;
  /** The port every ACTIVE OpenStack server's guest answers on (TCP and HTTP), at its loopback-mapped address. */
  guestPort: number;
  /** Environment that points the operator cloud accounts at the simulators. */
  env: NodeJS.ProcessEnv;
}

let shared: Promise<TestClouds> | undefined;

/**
 * Opens the simulators' cloud APIs (never their /_sim routes) to member accounts, the way
 * `npm start` does: appends them to VMFLOW_OUTBOUND_ALLOW of this process, which resolvers built
 * without an explicit guard read at each check. Returns the whole list.
 */
export function allowSimulators(sims: { openstack?: { url: string }; cloudstack?: { url: string } }): string {
  const entries = new Set((process.env.VMFLOW_OUTBOUND_ALLOW ?? '').split(',').filter(Boolean));
  if (sims.openstack) for (const e of openstackSimulatorAllowList(sims.openstack.url)) entries.add(e);
  if (sims.cloudstack) for (const e of cloudstackSimulatorAllowList(sims.cloudstack.url)) entries.add(e);
  process.env.VMFLOW_OUTBOUND_ALLOW = [...entries].join(',');
  return process.env.VMFLOW_OUTBOUND_ALLOW;
}

/** The environment that points the operator cloud accounts at these simulators (and lets member accounts reach their APIs). */
export function simulatorEnv(openstack: OpenStackSimulator, cloudstack: CloudStackSimulator): NodeJS.ProcessEnv {
  return {
    VMFLOW_OUTBOUND_ALLOW: allowSimulators({ openstack, cloudstack }),
    OPENSTACK_AUTH_URL: openstack.authUrl,
    OPENSTACK_USERNAME: openstack.credentials.username,
    OPENSTACK_PASSWORD: openstack.credentials.password,
    OPENSTACK_PROJECT_NAME: openstack.credentials.projectName,
    OPENSTACK_USER_DOMAIN_NAME: openstack.credentials.userDomainName,
    OPENSTACK_PROJECT_DOMAIN_NAME: openstack.credentials.projectDomainName,
    OPENSTACK_REGION: openstack.credentials.region,
    CLOUDSTACK_API_URL: cloudstack.apiUrl,
    CLOUDSTACK_API_KEY: cloudstack.credentials.apiKey,
    CLOUDSTACK_SECRET_KEY: cloudstack.credentials.secretKey,
  };
}

export function sharedClouds(): Promise<TestClouds> {
  shared ??= (async () => {
    // A free port, so two runs on one machine (each with its own simulator) never share a guest address.
    const guestPort = await freePort();
    const [openstack, cloudstack] = await Promise.all([
      startOpenStackSimulator({ timings: 'fast', logger: testLogger('openstack-sim'), guests: { ports: [guestPort], addressMap: TEST_GUEST_ADDRESS_MAP } }),
      // CloudStack's `demo` account allows 20 VMs by default: far fewer than the suites' VMs, standbys and drill copies.
      startCloudStackSimulator({ timings: 'fast', logger: testLogger('cloudstack-sim'), accounts: [{ ...DEMO_ACCOUNT, vmLimit: 1000 }] }),
    ]);
    // Every suite shares these clouds: room for all their VMs, standbys and drill copies.
    await simAdmin(openstack.url, 'PATCH', '/quotas', { project: openstack.credentials.projectName, instances: 1000, cores: 4000, ram: 4_000_000 });
    return {
      openstack,
      cloudstack,
      guestPort,
      env: simulatorEnv(openstack, cloudstack),
    };
  })();
  return shared;
}

export async function stopSharedClouds(): Promise<void> {
  if (!shared) return;
  const s = shared;
  shared = undefined;
  const c = await s.catch(() => undefined);
  await Promise.all([c?.openstack.stop(), c?.cloudstack.stop()]);
}

/** JSON call to a simulator's admin API. */
export async function simAdmin<T = any>(baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}/_sim${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /_sim${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
