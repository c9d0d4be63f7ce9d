/** The API process: `npm run api` (tsx) or `node dist/api/main.js` (Docker). */
import { ConfigError, loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connection';
import { logger } from '../src/logger';
import { loadKeyring } from '../src/secrets/keyring';
import { connectTemporalClient } from '../src/temporal/client';
import { startWebServer } from './server';
import { startApiMetrics } from '../src/metrics';
import { startTracing } from '../src/tracing';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = logger.child({ component: 'api' });
  const keyring = loadKeyring(config, log);
  const tracing = startTracing(config, 'vmflow-api', log);
  const db = await connectDatabase(config.mongodbTarget);
  const temporal = await connectTemporalClient(config.temporalTarget, config.temporalNamespace, keyring, { tracing: !!tracing });
  const web = await startWebServer({ config, db, temporal, keyring, logger: log }, { host: config.apiHost, port: config.apiPort });
  log.info({ url: web.url }, 'API listening');
  // Prometheus scrapes a port of its own, never the public API port (see README, Operations).
  const metrics = config.metricsEnabled
    ? await startApiMetrics({ listen: { host: config.metricsHost, port: config.apiMetricsPort }, db, temporal: temporal.client, logger: log.child({ component: 'metrics' }), perVm: config.metricsPerVm })
    : undefined;
  if (metrics) log.info({ url: metrics.url }, 'API metrics listening');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'API shutting down');
    await web.close();
    await metrics?.close();
    await tracing?.shutdown();
    await temporal.close();
    await db.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else logger.fatal({ err }, 'API failed to start');
  process.exit(1);
});
