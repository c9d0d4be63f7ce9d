/**
 * The bare baseline's worker process (bench/orchestration.ts starts it): TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, BARE_TASK_QUEUE, MONGODB_URI, OPENSTACK_* and VMFLOW_POLL_INTERVAL_MS.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { connectDatabase } from '../../src/db/connection';
import { createBareActivities } from './activities';

async function main(): Promise<void> {
  const env = process.env;
  Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  const db = await connectDatabase(env.MONGODB_URI!);
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.BARE_TASK_QUEUE!,
    workflowsPath: require.resolve('./workflows'),
    activities: createBareActivities({
      db,
      pollMs: Number(env.VMFLOW_POLL_INTERVAL_MS ?? 2000),
      credentials: {
        authUrl: env.OPENSTACK_AUTH_URL!,
        username: env.OPENSTACK_USERNAME!,
        password: env.OPENSTACK_PASSWORD!,
        projectName: env.OPENSTACK_PROJECT_NAME!,
        userDomainName: env.OPENSTACK_USER_DOMAIN_NAME!,
        projectDomainName: env.OPENSTACK_PROJECT_DOMAIN_NAME!,
        region: env.OPENSTACK_REGION,
      },
    }),
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
