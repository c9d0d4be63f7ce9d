/** Bounded metric labels (cloud operations, route templates) and the backup period of a cron policy. */
import assert from 'node:assert/strict';
import { BoundedLabel, callStatus, cloudstackOperation, MAX_OPERATIONS, openstackOperation, recordCloudCall } from '../../src/metrics/cloud-calls';
import { cronPeriodSeconds } from '../../src/metrics/cron-period';
import { cloudRegistry, workerRegistry } from '../../src/metrics/registry';
import { recordDrEventMetrics } from '../../src/metrics/activity-metrics';
import { parsePrometheus, value } from '../harness/prom';

describe('metrics labels', () => {
  it('when an OpenStack URL carries ids, names or a query, then the operation is its route template', () => {
    assert.equal(openstackOperation('http://127.0.0.1:8000/compute/v2.1/servers/6a1f0c3e-2b7d-4c55-9d0e-1f2a3b4c5d6e/action'), '/compute/v2.1/servers/:id/action');
    assert.equal(openstackOperation('https://nova.example:8774/v2.1/0123456789abcdef0123456789abcdef/servers/detail?limit=1000&marker=abc'), '/v2.1/:id/servers/detail');
    assert.equal(openstackOperation('http://h/heat-api/v1/p1/stacks/vmflow-4f2c9e/7b3d'), '/heat-api/v1/:id/stacks/:id/:id');
    assert.equal(openstackOperation('http://h/identity/v3/auth/tokens?nocatalog'), '/identity/v3/auth/tokens');
    assert.equal(openstackOperation('http://h/a/b/c/d/e/f/g/h/i/j'), '/a/b/c/d/e/f/g/h/…');
    assert.equal(openstackOperation('not a url'), 'invalid-url');
  });

  it('when a CloudStack command is not a plain word, then it is counted as invalid', () => {
    assert.equal(cloudstackOperation('listVirtualMachines'), 'listVirtualMachines');
    assert.equal(cloudstackOperation('list&apikey=secret'), 'invalid');
  });

  it('when calls fail before a status, then the status says how', () => {
    assert.equal(callStatus(503), '503');
    assert.equal(callStatus(undefined, { kind: 'Timeout' }), 'timeout');
    assert.equal(callStatus(undefined, { kind: 'Network' }), 'network');
    assert.equal(callStatus(undefined, new Error('aborted')), 'aborted');
  });

  it('when more distinct operations than the cap are seen, then the rest are one "other" label', () => {
    const label = new BoundedLabel(3);
    assert.deepEqual(['a', 'b', 'c', 'd', 'a', 'e'].map((v) => label.admit(v)), ['a', 'b', 'c', 'other', 'a', 'other']);
    assert.ok(MAX_OPERATIONS >= 100 && MAX_OPERATIONS <= 1000);
  });

  it('when a cloud call is recorded, then it is counted under its bounded labels', async () => {
    const before = parsePrometheus(await cloudRegistry.metrics());
    recordCloudCall('openstack', 'GET', openstackOperation('http://h/compute/v2.1/flavors/detail'), '200', 0.02);
    const after = parsePrometheus(await cloudRegistry.metrics());
    const labels = { cloud: 'openstack', method: 'GET', operation: '/compute/v2.1/flavors/detail', status: '200' };
    assert.equal(value(after, 'vmflow_cloud_api_requests_total', labels) - value(before, 'vmflow_cloud_api_requests_total', labels), 1);
  });

  it('when a DR event ends a failover, then it is counted with its RTO and RPO; other kinds only as events', async () => {
    const before = parsePrometheus(await workerRegistry.metrics());
    recordDrEventMetrics({ kind: 'failover.completed', rtoSeconds: 42, rpoSeconds: 7 });
    recordDrEventMetrics({ kind: 'failback.gave-up' });
    recordDrEventMetrics({ kind: 'disaster.vm' });
    const after = parsePrometheus(await workerRegistry.metrics());
    const d = (name: string, labels: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
    assert.equal(d('vmflow_dr_operations_total', { operation: 'failover', outcome: 'completed' }), 1);
    assert.equal(d('vmflow_dr_operations_total', { operation: 'failback', outcome: 'gave_up' }), 1);
    assert.equal(d('vmflow_dr_rto_seconds_sum', { operation: 'failover' }), 42);
    assert.equal(d('vmflow_dr_rpo_seconds_sum', { operation: 'failover' }), 7);
    assert.equal(d('vmflow_dr_rto_seconds_count', { operation: 'failback' }), 0);
    assert.equal(d('vmflow_dr_events_total', { kind: 'disaster.vm' }), 1);
  });
});

describe('backup period of a cron policy', () => {
  it('when the expression restricts only minutes, hours, weekdays or days, then the period bounds the longest gap', () => {
    assert.equal(cronPeriodSeconds('*/15 * * * *'), 900);
    assert.equal(cronPeriodSeconds('5 * * * *'), 3600);
    assert.equal(cronPeriodSeconds('0 3 * * *'), 86400);
    assert.equal(cronPeriodSeconds('0 */6 * * *'), 6 * 3600);
    assert.equal(cronPeriodSeconds('0 3 * * MON'), 7 * 86400);
    assert.equal(cronPeriodSeconds('0 0 1 1 *'), 366 * 86400);
    assert.equal(cronPeriodSeconds('* * * * *'), 60);
  });
});
