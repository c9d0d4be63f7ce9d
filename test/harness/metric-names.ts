/** The metric names vmflow can expose, and the names a PromQL expression refers to. */
import { Registry } from 'prom-client';
import type { Connection } from 'mongoose';
import type { Client } from '@temporalio/client';
import { FleetMetrics } from '../../src/metrics/fleet';
import { apiRegistry, cloudRegistry, workerRegistry } from '../../src/metrics/registry';
import { testLogger } from './secrets';

/** Every family vmflow declares (fleet gauges with per-VM series on), histograms with their _bucket/_sum/_count. */
export function declaredMetricNames(): Set<string> {
  const fleet = new Registry();
  new FleetMetrics({ db: {} as Connection, temporal: {} as Client, logger: testLogger('metric-names'), perVm: true }).register(fleet);
  const names = new Set<string>();
  for (const r of [apiRegistry, cloudRegistry, workerRegistry, fleet]) {
    for (const m of r.getMetricsAsArray()) {
      const { name, type } = m as unknown as { name: string; type: string };
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    }
  }
  return names;
}

/** Metric names (vmflow_*, temporal_*) an expression uses; label names and functions are not metrics. */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...withoutStrings.matchAll(/\b((?:vmflow|temporal)_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]))];
}
