/**
 * deploy/grafana: the dashboard is a well-formed Grafana dashboard (the fields Grafana's schema
 * requires, a grid that fits, the provisioned datasource), covers the five areas of issue 16, and
 * every panel query parses as PromQL (promtool, via a throwaway rule file) and names only metrics
 * vmflow declares. docker-compose.yml provisions it. test/integration/metrics.test.ts checks the
 * same names against real scrapes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { dashboardExpressions, declaredMetricNames, metricNamesIn } from '../harness/metric-names';

const root = path.resolve(__dirname, '../..');
const read = (p: string) => fs.readFileSync(path.join(root, p), 'utf8');

type Json = any;

describe('Grafana dashboard (deploy/grafana)', function () {
  this.timeout(300_000);
  const dashboard: Json = JSON.parse(read('deploy/grafana/dashboards/vmflow.json'));
  const datasource = YAML.parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')).datasources[0];

  it('when loaded, then it has what Grafana requires of a dashboard and its panels fit the 24-column grid without overlapping', () => {
    assert.equal(typeof dashboard.uid, 'string');
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.equal(typeof dashboard.title, 'string');
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36, 'schemaVersion');
    assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0);
    assert.ok(Array.isArray(dashboard.templating?.list) && Array.isArray(dashboard.annotations?.list));
    assert.ok(dashboard.time?.from && dashboard.time?.to);
    const ids = new Set<number>();
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `unique id ${p.id}`);
      ids.add(p.id);
      assert.ok(['row', 'stat', 'timeseries', 'table', 'piechart', 'gauge', 'bargauge'].includes(p.type), `${p.title}: type ${p.type}`);
      const g = p.gridPos;
      for (const k of ['h', 'w', 'x', 'y']) assert.ok(Number.isInteger(g[k]) && g[k] >= 0, `${p.title}: gridPos.${k}`);
      assert.ok(g.w >= 1 && g.x + g.w <= 24, `${p.title} fits the grid`);
      for (let dx = 0; dx < g.w; dx++) {
        for (let dy = 0; dy < g.h; dy++) {
          const cell = `${g.x + dx},${g.y + dy}`;
          assert.ok(!cells.has(cell), `${p.title} overlaps another panel at ${cell}`);
          cells.add(cell);
        }
      }
      if (p.type === 'row') continue;
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: datasource.uid }, `${p.title}: the provisioned datasource`);
      assert.ok(p.targets.length > 0, `${p.title} has queries`);
      const refIds = p.targets.map((t: Json) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: unique refIds`);
      for (const t of p.targets) assert.ok(typeof t.expr === 'string' && t.expr.trim(), `${p.title}: expr`);
    }
  });

  it('when read by an on-call engineer, then it has the five areas: protection, backups, DR events with RPO/RTO, clouds, API', () => {
    const rows = dashboard.panels.filter((p: Json) => p.type === 'row').map((p: Json) => p.title);
    assert.deepEqual(rows, ['Protection overview', 'Backups and RPO', 'DR events, RPO and RTO', 'Monitors and clouds', 'API and workers']);
    const exprs = dashboardExpressions(dashboard).map((e) => e.expr).join('\n');
    for (const m of ['vmflow_dr_vms', 'vmflow_backup_stale_vms', 'vmflow_vm_rpo_seconds', 'vmflow_dr_rto_seconds_bucket', 'vmflow_dr_rpo_seconds_sum', 'vmflow_monitor_last_check_age_seconds', 'vmflow_cloud_api_requests_total', 'vmflow_http_request_duration_seconds_bucket', 'vmflow_image_store_bytes']) {
      assert.ok(exprs.includes(m), `a panel shows ${m}`);
    }
  });

  it('when every panel query is checked, then it names only metrics vmflow declares and parses as PromQL', () => {
    const known = declaredMetricNames();
    const exprs = dashboardExpressions(dashboard);
    for (const { panel, expr } of exprs) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${panel}: names a metric`);
      for (const n of names) assert.ok(known.has(n), `${panel}: ${n} is not a vmflow metric`);
    }
    // promtool parses expressions as it loads rules: one recording rule per query.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-dashboard-'));
    try {
      const file = path.join(dir, 'panels.yml');
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'panels', rules: exprs.map((e, i) => ({ record: `vmflow:panel_${i}`, expr: e.expr })) }] }));
      const r = spawnSync('bash', [path.join(root, 'scripts/promtool.sh'), 'check', 'rules', file], { encoding: 'utf8', timeout: 300_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when docker compose starts Prometheus and Grafana, then they get the scrape config, the rules, the datasource and the dashboard', () => {
    const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
    const prom = compose.services.prometheus;
    const grafana = compose.services.grafana;
    assert.ok(prom.volumes.includes('./deploy/prometheus:/etc/prometheus:ro'));
    assert.ok(grafana.volumes.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
    assert.ok(grafana.volumes.includes('./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro'));
    const provider = YAML.parse(read('deploy/grafana/provisioning/dashboards/vmflow.yml')).providers[0];
    assert.equal(provider.options.path, '/var/lib/grafana/dashboards');
    assert.equal(datasource.url, 'http://prometheus:9090');
    assert.deepEqual(prom.ports, ['127.0.0.1:9090:9090']);
    assert.deepEqual(grafana.ports, ['127.0.0.1:3001:3000']);
    const scrape = YAML.parse(read('deploy/prometheus/prometheus.yml'));
    assert.deepEqual(scrape.rule_files, ['rules.yml']);
    const targets = JSON.stringify(scrape.scrape_configs);
    for (const t of ['api:9464', '9465', '9466']) assert.ok(targets.includes(t), `scrapes ${t}`);
    // The vmflow processes listen for Prometheus inside the compose network, and publish no metrics port.
    assert.equal(compose.services.api.environment.VMFLOW_METRICS_HOST, '0.0.0.0');
    assert.ok(!compose.services.api.ports.some((p: string) => p.includes('9464')));
  });
});
