/**
 * Runs the OpenStack simulator on its own: `tsx src/sim/openstack/main.ts`.
 * Port from OPENSTACK_SIM_PORT (default 8000), realistic timings (OPENSTACK_SIM_TIMINGS=fast for
 * quick ones), state kept in `<VMFLOW_DATA_DIR>/openstack-sim/state.json` so a demo survives a
 * restart. Prints the endpoints and the demo credentials; stops on SIGINT/SIGTERM.
 */
import path from 'node:path';
import { loadConfig } from '../../config';
import { logger } from '../../logger';
import { startOpenStackSimulator } from './index';

async function main(): Promise<void> {
  const config = loadConfig();
  const dataDir = path.join(config.dataDir, 'openstack-sim');
  const timings = process.env.OPENSTACK_SIM_TIMINGS === 'fast' ? 'fast' : 'realistic';
  const sim = await startOpenStackSimulator({
    host: process.env.OPENSTACK_SIM_HOST ?? '127.0.0.1',
    port: config.openstackSimPort,
    publicUrl: process.env.OPENSTACK_SIM_PUBLIC_URL,
    timings,
    dataDir,
    stateFile: path.join(dataDir, 'state.json'),
    // Each ACTIVE server's service (guests.ts), at the address vmflow's worker maps it to.
    ...(process.env.OPENSTACK_SIM_GUEST_PORTS && process.env.VMFLOW_GUEST_ADDRESS_MAP
      ? { guests: { ports: process.env.OPENSTACK_SIM_GUEST_PORTS.split(',').map((p) => Number(p.trim())).filter((p) => Number.isInteger(p) && p > 0 && p < 65536), addressMap: process.env.VMFLOW_GUEST_ADDRESS_MAP } }
      : {}),
  });
  const c = sim.credentials;
  // Plain stdout on purpose: these are the simulator's well-known demo credentials.
  console.log(
    [
      `OpenStack simulator at ${sim.url} (${timings} timings, data in ${dataDir})`,
      `  identity       ${sim.url}/identity/v3`,
      `  compute        ${sim.url}/compute/v2.1`,
      `  image          ${sim.url}/image`,
      `  orchestration  ${sim.url}/heat-api/v1/<project_id>`,
      `  network        ${sim.url}/networking`,
      `  admin API      ${sim.url}/_sim  (GET /_sim for the list)`,
      '',
      `export OS_AUTH_URL=${sim.authUrl} OS_IDENTITY_API_VERSION=3 OS_INTERFACE=public OS_REGION_NAME=${c.region}`,
      `export OS_USERNAME=${c.username} OS_PASSWORD=${c.password} OS_PROJECT_NAME=${c.projectName}`,
      `export OS_USER_DOMAIN_NAME=${c.userDomainName} OS_PROJECT_DOMAIN_NAME=${c.projectDomainName}`,
      '(admin: OS_USERNAME=admin OS_PASSWORD=admin-secret OS_PROJECT_NAME=admin)',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping OpenStack simulator');
    sim.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'OpenStack simulator did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  logger.error({ err }, 'OpenStack simulator failed to start');
  process.exit(1);
});
