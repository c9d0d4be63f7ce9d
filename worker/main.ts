/** The worker process: `npm run worker` (tsx) or `node dist/worker/main.js` (Docker). */
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connection';
import { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { logger } from '../src/logger';
import { OutboundGuard } from '../src/outbound/guard';
import { loadKeyring } from '../src/secrets/keyring';
import { ensureSearchAttributes } from '../src/temporal/search-attributes';
import { connectTemporalClient } from '../src/temporal/client';
import { ImageStoreClient, imageStoreOptionsFromEnv } from '../src/imagestore';
import { createVmflowWorker } from './worker';
import { startWorkerMetrics } from '../src/metrics';
import { startTracing } from '../src/tracing';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = logger.child({ component: 'worker' });
  // The SDK's own logs go through pino too, at warn and above (its info lines are per-state noise).
  const sdkLog = log.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('WARN', (e) => sdkLog[e.level === 'ERROR' ? 'error' : 'warn'](withReadableError(e.meta), e.message)),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
      // The SDK's own metrics (temporal_* : task slots, poll and schedule-to-start latencies) for Prometheus.
      ...(config.metricsEnabled ? { metrics: { prometheus: { bindAddress: `${config.metricsHost}:${config.temporalMetricsPort}` } } } : {}),
    },
  });
  const metrics = config.metricsEnabled ? await startWorkerMetrics({ listen: { host: config.metricsHost, port: config.workerMetricsPort }, logger: log.child({ component: 'metrics' }) }) : undefined;
  if (metrics) log.info({ url: metrics.url, temporalSdk: `http://${config.metricsHost}:${config.temporalMetricsPort}/metrics` }, 'worker metrics listening');
  const added = await ensureSearchAttributes(config.temporalTarget, config.temporalNamespace);
  if (added.length) log.info({ added }, 'registered search attributes');
  const keyring = loadKeyring(config, log);
  const tracing = startTracing(config, 'vmflow-worker', log);
  const db = await connectDatabase(config.mongodbTarget);
  // Schedules (deleteVm removes a VM's backup schedule) are managed through a client connection.
  const temporal = await connectTemporalClient(config.temporalTarget, config.temporalNamespace, keyring, { tracing: !!tracing });
  // Same token and signing secret as the image store process (env, or the dev secrets file both read).
  const store = imageStoreOptionsFromEnv().options;
  const storeUrl = config.imageStoreUrl ?? `http://127.0.0.1:${config.imageStorePort}`;
  const connection = await NativeConnection.connect({ address: config.temporalTarget });
  const worker = await createVmflowWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.temporalTaskQueue,
    keyring,
    tracing,
    deps: {
      db,
      logger: log,
      cloudAccounts: new CloudAccountResolver({ db, keyring, logger: log, outbound: new OutboundGuard({ allow: config.outboundAllow }) }),
      webhooks: { keyring, outbound: new OutboundGuard({ allow: config.outboundAllow }) },
      timing: { pollIntervalMs: config.activityPollIntervalMs },
      openstack: { network: config.openstackNetwork, externalNetwork: config.openstackExternalNetwork },
      guestAddressMap: config.guestAddressMap,
      temporalClient: temporal.client,
      alerts: { webhookUrl: config.webhookUrl, webhookSecret: config.webhookSecret },
      imageStore: {
        client: new ImageStoreClient({ baseUrl: storeUrl, serviceToken: store.serviceToken }),
        publicBaseUrl: config.imageStorePublicUrl ?? storeUrl,
        signingSecret: store.signingSecret,
      },
    },
  });
  log.info({ taskQueue: config.temporalTaskQueue, temporal: config.temporalTarget }, 'worker polling');
  // Worker.run() resolves after SIGINT/SIGTERM once in-flight tasks are done (Runtime's shutdown signals).
  await worker.run();
  await connection.close();
  await metrics?.close();
  await tracing?.shutdown();
  await temporal.close();
  await db.close();
  log.info('worker stopped');
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else logger.fatal({ err }, 'worker failed');
  process.exit(1);
});

/**
 * The SDK puts the error of a failed workflow task in `meta.error`; pino prints an Error there as
 * `{}`, so say what it was (a workflow bug shows as a name, a message and where it was thrown).
 */
function withReadableError(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const error = meta?.error;
  if (!(error instanceof Error)) return meta ?? {};
  return { ...meta, error: { name: error.name, message: error.message, stack: error.stack?.split('\n').slice(0, 6).join('\n') } };
}
