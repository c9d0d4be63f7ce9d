/** Starting each process's metrics endpoint (api/main.ts, worker/main.ts, and tests with port 0). */
import type { Client } from '@temporalio/client';
import type { Connection } from 'mongoose';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from '../logger';
import { FleetMetrics } from './fleet';
import { apiRegistry, cloudRegistry, workerRegistry } from './registry';
import { startMetricsServer, type MetricsServer } from './server';

export { FleetMetrics } from './fleet';
export { startMetricsServer, type MetricsServer } from './server';

/** Node process metrics (CPU, memory, event-loop lag, GC), one registry per process kind. */
function processMetrics(prefix: string): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix });
  return r;
}

export interface ListenAt {
  host: string;
  port: number;
}

/** The API's metrics: HTTP requests, cloud calls it made (account verification) and the fleet gauges. */
export async function startApiMetrics(o: { listen: ListenAt; db: Connection; temporal: Client; logger: Logger; perVm: boolean; processMetrics?: boolean; cacheMs?: number }): Promise<MetricsServer & { fleet: FleetMetrics }> {
  const fleetRegistry = new Registry();
  const fleet = new FleetMetrics({ db: o.db, temporal: o.temporal, logger: o.logger, perVm: o.perVm, ...(o.cacheMs !== undefined ? { cacheMs: o.cacheMs } : {}) });
  fleet.register(fleetRegistry);
  const registries = [apiRegistry, cloudRegistry, fleetRegistry, ...(o.processMetrics === false ? [] : [processMetrics('vmflow_api_')])];
  const server = await startMetricsServer({ host: o.listen.host, port: o.listen.port, registries, logger: o.logger });
  return { ...server, fleet };
}

/** The worker's metrics: what its activities saw end, and its cloud calls. */
export async function startWorkerMetrics(o: { listen: ListenAt; logger: Logger; processMetrics?: boolean }): Promise<MetricsServer> {
  const registries = [workerRegistry, cloudRegistry, ...(o.processMetrics === false ? [] : [processMetrics('vmflow_worker_')])];
  return startMetricsServer({ host: o.listen.host, port: o.listen.port, registries, logger: o.logger });
}
