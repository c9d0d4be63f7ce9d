/**
 * vmflow's Prometheus metrics (prom-client). Three registries, so each process's /metrics shows
 * what that process measures: `cloudRegistry` (cloud HTTP calls, made by the worker and by the
 * API's account verification), `workerRegistry` (what activities saw happen) and `apiRegistry`
 * (HTTP requests, and the fleet gauges read from MongoDB and Temporal on scrape: src/metrics/fleet.ts).
 *
 * Labels are bounded: enums (states, outcomes, event kinds), cloud kinds, HTTP methods and route
 * templates (ids replaced), status codes; cloud account ids only on the per-monitor series (one
 * monitor per OpenStack account). VM ids appear only when VMFLOW_METRICS_PER_VM=true.
 * Nothing secret is ever a label: no URLs, no query strings, no user names.
 */
import { Counter, Histogram, Registry } from 'prom-client';

export const cloudRegistry = new Registry();
export const workerRegistry = new Registry();
export const apiRegistry = new Registry();

/** Seconds: fast API calls up to long cloud waits. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: backups, failovers and failbacks take from seconds to an hour. */
const LONG_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export const cloudApiRequests = new Counter({
  name: 'vmflow_cloud_api_requests_total',
  help: 'HTTP calls to the clouds by cloud, HTTP method, operation (OpenStack: service and route template with ids replaced; CloudStack: the API command) and status (HTTP code, or timeout / network / aborted)',
  labelNames: ['cloud', 'method', 'operation', 'status'] as const,
  registers: [cloudRegistry],
});

export const cloudApiDuration = new Histogram({
  name: 'vmflow_cloud_api_request_duration_seconds',
  help: 'Duration of HTTP calls to the clouds until the answer (a streamed body is not included), by cloud and operation',
  labelNames: ['cloud', 'operation'] as const,
  buckets: CALL_BUCKETS,
  registers: [cloudRegistry],
});

export const backupRuns = new Counter({
  name: 'vmflow_backup_runs_total',
  help: 'Backup runs that ended, by outcome (succeeded, partial, failed, skipped, cancelled) and trigger (schedule, manual)',
  labelNames: ['outcome', 'trigger'] as const,
  registers: [workerRegistry],
});

export const backupDuration = new Histogram({
  name: 'vmflow_backup_duration_seconds',
  help: 'Duration of backup runs from start to end, by outcome',
  labelNames: ['outcome'] as const,
  buckets: LONG_BUCKETS,
  registers: [workerRegistry],
});

export const drEvents = new Counter({
  name: 'vmflow_dr_events_total',
  help: 'Disaster-recovery events recorded (each once), by kind (disaster.vm, failover.completed, failback.failed, …)',
  labelNames: ['kind'] as const,
  registers: [workerRegistry],
});

export const drOperations = new Counter({
  name: 'vmflow_dr_operations_total',
  help: 'Failovers and failbacks that ended, by operation (failover, failback) and outcome (completed, failed, gave_up)',
  labelNames: ['operation', 'outcome'] as const,
  registers: [workerRegistry],
});

export const drRto = new Histogram({
  name: 'vmflow_dr_rto_seconds',
  help: 'Recovery time of completed failovers and failbacks (failover: first failed check to switch complete), by operation',
  labelNames: ['operation'] as const,
  buckets: LONG_BUCKETS,
  registers: [workerRegistry],
});

export const drRpo = new Histogram({
  name: 'vmflow_dr_rpo_seconds',
  help: 'Recovery point of completed failovers: age of the backup the recovered copy came from',
  labelNames: ['operation'] as const,
  buckets: LONG_BUCKETS,
  registers: [workerRegistry],
});

export const monitorChecks = new Counter({
  name: 'vmflow_monitor_checks_total',
  help: 'Cloud monitor checks (probeCloud) by outcome: ok, cloud_down (the cloud failed or did not answer), throttled (429), idle (no protected VM: cloud not probed), error (the check could not run)',
  labelNames: ['outcome'] as const,
  registers: [workerRegistry],
});

export const monitorProbeDuration = new Histogram({
  name: 'vmflow_monitor_probe_duration_seconds',
  help: 'Duration of one cloud monitor check (database read, Keystone, Nova server list), by outcome',
  labelNames: ['outcome'] as const,
  buckets: CALL_BUCKETS,
  registers: [workerRegistry],
});

export const httpRequestDuration = new Histogram({
  name: 'vmflow_http_request_duration_seconds',
  help: 'REST API requests by method, route template (/api/v1/vms/:id; "unmatched" for unknown paths) and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: CALL_BUCKETS,
  registers: [apiRegistry],
});
