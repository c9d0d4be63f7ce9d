/**
 * deploy/prometheus/rules.yml: the alerts issue 16 asks for exist, name only metrics vmflow
 * exposes, and pass `promtool check rules` and the rule unit tests in rules.test.yml (promtool
 * from Debian's prometheus package, fetched into the tools cache by scripts/promtool.sh).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { declaredMetricNames, metricNamesIn } from '../harness/metric-names';

const root = path.resolve(__dirname, '../..');
const rulesFile = path.join(root, 'deploy/prometheus/rules.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rules(): Rule[] {
  const doc = YAML.parse(fs.readFileSync(rulesFile, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
  assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'groups');
  return doc.groups.flatMap((g) => g.rules);
}

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('bash', [path.join(root, 'scripts/promtool.sh'), ...args], { cwd: path.join(root, 'deploy/prometheus'), encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('alert rules (deploy/prometheus/rules.yml)', function () {
  this.timeout(300_000);

  it('when loaded, then the four alerts of issue 16 are there, each with a severity and a summary', () => {
    const byName = new Map(rules().map((r) => [r.alert, r]));
    for (const name of ['VmflowProtectedVmBackupStale', 'VmflowMonitorNotChecking', 'VmflowFailbackStuck', 'VmflowCloudApiErrors']) assert.ok(byName.has(name), name);
    for (const r of rules()) {
      assert.ok(r.alert, 'alerting rules only');
      assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary, `${r.alert}: summary`);
    }
    assert.match(byName.get('VmflowProtectedVmBackupStale')!.expr, /over="twice_period"/);
    assert.match(byName.get('VmflowMonitorNotChecking')!.expr, /3 \* max by \(account\) \(vmflow_monitor_interval_seconds\)/);
    assert.match(byName.get('VmflowFailbackStuck')!.expr, /> 3600/);
  });

  it('when an expression names a metric, then vmflow declares it', () => {
    const known = declaredMetricNames();
    for (const r of rules()) {
      const names = metricNamesIn(r.expr);
      assert.ok(names.length > 0, `${r.alert} uses a metric`);
      for (const n of names) assert.ok(known.has(n), `${r.alert}: ${n} is not a vmflow metric`);
    }
  });

  it('when promtool checks the file and runs rules.test.yml, then both pass', () => {
    const check = promtool('check', 'rules', 'rules.yml');
    assert.equal(check.status, 0, check.out);
    assert.match(check.out, /SUCCESS: \d+ rules found/);
    const test = promtool('test', 'rules', 'rules.test.yml');
    assert.equal(test.status, 0, test.out);
    assert.match(test.out, /SUCCESS/);
  });
});
