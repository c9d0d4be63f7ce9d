/**
 * The bare baseline's worker process (bench/orchestration.ts starts it): TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, BARE_TASK_QUEUE, MONGODB_URI, OPENSTACK_*, VMFLOW_POLL_INTERVAL_MS, and for
 * the backup baseline CLOUDSTACK_API_URL / _API_KEY / _SECRET_KEY and IMAGE_STORE_URL /
 * _PUBLIC_URL / _TOKEN / _SIGNING_SECRET.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { connectDatabase } from '../../src/db/connection';
import { createBareActivities } from './activities';
import { createBareBackupActivities } from './backup-activities';

async function main(): Promise<void> {
  const env = process.env;
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  const db = await connectDatabase(env.MONGODB_URI!);
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const pollMs = Number(env.VMFLOW_POLL_INTERVAL_MS ?? 2000);
  const openstack = {
    authUrl: env.OPENSTACK_AUTH_URL!,
    username: env.OPENSTACK_USERNAME!,
    password: env.OPENSTACK_PASSWORD!,
    projectName: env.OPENSTACK_PROJECT_NAME!,
    userDomainName: env.OPENSTACK_USER_DOMAIN_NAME!,
    projectDomainName: env.OPENSTACK_PROJECT_DOMAIN_NAME!,
    region: env.OPENSTACK_REGION,
  };
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.BARE_TASK_QUEUE!,
    workflowsPath: require.resolve('./workflows'),
    activities: {
      ...createBareActivities({ db, pollMs, credentials: openstack }),
      ...createBareBackupActivities({
        db,
        pollMs,
        openstack,
        cloudstack: { apiUrl: env.CLOUDSTACK_API_URL ?? '', apiKey: env.CLOUDSTACK_API_KEY ?? '', secretKey: env.CLOUDSTACK_SECRET_KEY ?? '' },
        store: { url: env.IMAGE_STORE_URL ?? '', publicUrl: env.IMAGE_STORE_PUBLIC_URL ?? env.IMAGE_STORE_URL ?? '', token: env.IMAGE_STORE_TOKEN ?? '', signingSecret: env.IMAGE_STORE_SIGNING_SECRET ?? '' },
      }),
    },
  });
  console.log('bare worker polling');
  await worker.run();
  await connection.close();
  await db.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
