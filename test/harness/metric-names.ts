/** The metric names vmflow can expose, and the names a PromQL expression refers to. */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Connection } from 'mongoose';
import type { Client } from '@temporalio/client';
import { FleetMetrics } from '../../src/metrics/fleet';
import { apiRegistry, cloudRegistry, workerRegistry } from '../../src/metrics/registry';
import { testLogger } from './secrets';

/** Every family vmflow declares (fleet gauges with per-VM series on), histograms with their _bucket/_sum/_count. */
export function declaredMetricNames(): Set<string> {
  const fleet = new Registry();
  new FleetMetrics({ db: {} as Connection, temporal: {} as Client, logger: testLogger('metric-names'), perVm: true }).register(fleet);
  // The Node process metrics each process adds (src/metrics/index.ts), under its prefix.
  const processes = ['vmflow_api_', 'vmflow_worker_'].map((prefix) => {
    const r = new Registry();
    collectDefaultMetrics({ register: r, prefix });
    return r;
  });
  const names = new Set<string>();
  for (const r of [apiRegistry, cloudRegistry, workerRegistry, fleet, ...processes]) {
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

/** Every PromQL expression of the Grafana dashboard, with its panel's title. */
export function dashboardExpressions(dashboard: { panels: Array<{ title: string; type: string; targets?: Array<{ expr?: string }> }> }): Array<{ panel: string; expr: string }> {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: String(t.expr ?? '') })));
}
