/**
 * Runs the CloudStack simulator alone, with realistic timings unless CLOUDSTACK_SIM_TIMINGS=fast:
 *   CLOUDSTACK_SIM_PORT=8080 npx tsx src/sim/cloudstack/main.ts
 * State (and template bytes) persist under $VMFLOW_SIM_STATE_DIR/cloudstack (set by `npm start`)
 * or else $VMFLOW_DATA_DIR/cloudstack-sim, so a restart keeps the demo's VMs and templates.
 * CLOUDSTACK_SIM_HOST and CLOUDSTACK_SIM_PUBLIC_URL change the listen address and the base of
 * download URLs. Point CloudMonkey at it with the printed URL and keys.
 */
import path from 'node:path';
import { loadConfig } from '../../config';
import { ADMIN_ACCOUNT, startCloudStackSimulator } from './index';

async function main(): Promise<void> {
  const config = loadConfig();
  const dir = process.env.VMFLOW_SIM_STATE_DIR
    ? path.join(path.resolve(process.env.VMFLOW_SIM_STATE_DIR), 'cloudstack')
    : path.join(config.dataDir, 'cloudstack-sim');
  const timings = process.env.CLOUDSTACK_SIM_TIMINGS === 'fast' ? 'fast' : 'realistic';
  const sim = await startCloudStackSimulator({
    host: process.env.CLOUDSTACK_SIM_HOST ?? '127.0.0.1',
    port: config.cloudstackSimPort,
    publicUrl: process.env.CLOUDSTACK_SIM_PUBLIC_URL || undefined,
    timings,
    dataDir: path.join(dir, 'data'),
    stateFile: path.join(dir, 'state.json'),
  });
  // Credentials are printed on purpose: they are the simulator's fixed demo keys, not secrets.
  process.stdout.write(
    [
      `CloudStack simulator: ${sim.apiUrl} (${timings} timings, data in ${dir})`,
      `  demo  apiKey:    ${sim.credentials.apiKey}`,
      `        secretKey: ${sim.credentials.secretKey}`,
      `  admin apiKey:    ${ADMIN_ACCOUNT.apiKey}`,
      `        secretKey: ${ADMIN_ACCOUNT.secretKey}`,
      `  control API:     ${sim.url}/_sim/state`,
      `  cmk: cloudstack-cloudmonkey -u ${sim.apiUrl} -k ${sim.credentials.apiKey} -s ${sim.credentials.secretKey} list zones`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping the CloudStack simulator\n`);
    sim.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
