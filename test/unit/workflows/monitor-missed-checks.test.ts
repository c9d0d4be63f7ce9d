/**
 * cloudMonitor on the time-skipping server with its probe mocked: a cloud (or a VM) is declared
 * down only after `failureThreshold` failed checks in a row — one signal then, none before, none
 * after — and a check that could not run at all (the probe activity failing) counts neither way.
 */
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CloudProbe, SignalCloudHealthResult } from '../../../activities/dr-monitor';
import { CLOUD_MONITOR_WORKFLOW, cloudMonitorWorkflowId, type CloudHealthSignal, type MonitorSettings } from '../../../src/contracts/dr';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../../../src/contracts/dr-monitor';
import { timeSkippingSuite, skipUntil, uniqueId, withWorkflowWorker } from '../../harness/time-skipping';

const INTERVAL_S = 60;
const SETTINGS: MonitorSettings = { intervalSeconds: INTERVAL_S, failureThreshold: 3, successThreshold: 2 };

type Check = 'cloud-down' | 'vm-down' | 'ok' | 'probe-fails';

/** A probe that answers from a script, one entry per check (then `ok`), and the fan-outs it saw. */
function scriptedCloud(accountId: string, vmId: string, script: Check[]) {
  const seen = { probes: 0, fanOuts: [] as CloudHealthSignal[] };
  const activities = {
    async probeCloud(): Promise<CloudProbe> {
      const info = Context.current().info;
      // Retries of one check (the probe's retry policy) consume one script entry only.
      if (info.attempt === 1) seen.probes += 1;
      const check = script[seen.probes - 1] ?? 'ok';
      if (check === 'probe-fails') throw ApplicationFailure.retryable('MongoDB is not answering', 'DbUnavailable');
      return {
        accountId,
        checkedAt: new Date(info.currentAttemptScheduledTimestampMs).toISOString(),
        cloudOk: check !== 'cloud-down',
        cloudDetail: check === 'cloud-down' ? 'Nova: HTTP 503 on GET /compute/v2.1/servers/detail' : 'ok',
        unhealthy: check === 'vm-down' ? { [vmId]: 'ERROR' } : {},
        checkedVmIds: [vmId],
        serverOf: { [vmId]: 'srv-1' },
        protectedCount: 1,
        serversListed: 1,
        apiCalls: 2,
        elapsedMs: 5,
        dbMs: 1,
      };
    },
    async signalCloudHealth(input: { accountId: string; signal: CloudHealthSignal }): Promise<SignalCloudHealthResult> {
      seen.fanOuts.push(input.signal);
      return { protectedCount: 1, signalled: 1, notRunning: 0 };
    },
  };
  return { seen, activities };
}

async function runMonitor(env: TestWorkflowEnvironment, script: Check[], checks: number) {
  const accountId = uniqueId('acct');
  const vmId = uniqueId('vm');
  const { seen, activities } = scriptedCloud(accountId, vmId, script);
  const status = await withWorkflowWorker(env, activities, async (taskQueue) => {
    const handle = await env.client.workflow.start(CLOUD_MONITOR_WORKFLOW, { taskQueue, workflowId: cloudMonitorWorkflowId(accountId), args: [{ accountId, settings: SETTINGS }] });
    const query = () => handle.query<MonitorStatus>(MONITOR_STATUS_QUERY);
    try {
      await skipUntil(env, `${checks} checks`, async () => seen.probes >= checks && (await query()).phase === 'waiting', { stepMs: (INTERVAL_S * 1000) / 2, maxMs: (checks + 2) * INTERVAL_S * 1000 });
      return await query();
    } finally {
      // Its timers must not fire with no worker left (that would stop the server's clock).
      await handle.terminate('test done');
    }
  });
  return { seen, status, vmId };
}

describe('cloudMonitor (time skipping): missed checks', function () {
  const env = timeSkippingSuite(this);

  it('when the cloud fails one check fewer than the threshold, then recovers, then no disaster is declared', async () => {
    const { seen, status } = await runMonitor(env, ['cloud-down', 'cloud-down', 'ok', 'cloud-down', 'cloud-down', 'ok'], 7);
    assert.deepEqual(seen.fanOuts, []);
    assert.equal(status.cloudHealthy, true);
    assert.equal(status.recentSignals.length, 0);
  });

  it('when the cloud fails threshold checks in a row, then exactly one "cloud down" goes out, dated from the first failed check', async () => {
    const { seen, status } = await runMonitor(env, ['ok', 'cloud-down', 'cloud-down', 'cloud-down', 'cloud-down', 'cloud-down'], 7);
    assert.equal(seen.fanOuts.length, 1, `fan-outs: ${JSON.stringify(seen.fanOuts)}`);
    const [down] = seen.fanOuts;
    assert.equal(down.healthy, false);
    assert.match(down.detail, /Nova: HTTP 503/);
    // The third failed check (4th check) declares it; the outage began at the first (2nd check).
    // (checkedAt is when the probe's attempt was scheduled: later than the timer by the time a workflow task takes.)
    const spanMs = Date.parse(down.observedAt) - Date.parse(down.firstFailedAt!);
    assert.ok(spanMs >= 2 * INTERVAL_S * 1000 && spanMs < 2 * INTERVAL_S * 1000 + 5_000, `declared ${spanMs} ms after the first failed check`);
    // The 7th check was good again: one success is below the recovery threshold (2), so still down and nothing more sent.
    assert.equal(status.cloudHealthy, false);
    assert.equal(status.cloud.successes, 1);
  });

  it('when the probe cannot run at all for many intervals, then nothing is declared and the failures are not counted', async () => {
    const { seen, status } = await runMonitor(env, ['cloud-down', 'cloud-down', 'probe-fails', 'probe-fails', 'probe-fails', 'probe-fails'], 6);
    assert.deepEqual(seen.fanOuts, []);
    assert.equal(status.cloudHealthy, true);
    // Two real failed checks; the four that could not run count neither way.
    assert.equal(status.cloud.failures, 2);
    assert.equal(status.checks, 2);
    assert.match(status.lastError ?? '', /MongoDB is not answering/);
  });

  it('when a VM fails threshold checks in a row, then one vmHealth signal goes to its DR workflow, none before', async () => {
    const { status, vmId } = await runMonitor(env, ['vm-down', 'vm-down', 'ok', 'vm-down', 'vm-down', 'vm-down', 'vm-down'], 7);
    const vmSignals = status.recentSignals.filter((r) => r.kind === 'vmHealth' && r.vmId === vmId);
    assert.equal(vmSignals.length, 1, JSON.stringify(status.recentSignals));
    assert.equal(vmSignals[0].healthy, false);
    assert.equal(vmSignals[0].status, 'ERROR');
    assert.equal(status.trackedVms[vmId]?.failures, 4);
  });
});
