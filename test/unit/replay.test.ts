/**
 * Safe upgrades: every recorded history of the long-running workflows (drVm, cloudMonitor,
 * vmOwner — test/fixtures/histories, recorded by `npm run record-histories`) replays against
 * today's workflow code without a nondeterminism error. A change to what a running workflow does
 * goes behind patched() (README → Changing a workflow); a command added without one fails here.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/data-converter';
import { installTestRuntime, workflowBundle } from '../harness/temporal';

const HISTORIES_DIR = path.resolve(__dirname, '../fixtures/histories');

/** The states a history must exist for (file names without .json). */
const REQUIRED = [
  'drVm-Protected',
  'drVm-Degraded',
  'drVm-FailingOver',
  'drVm-FailedOver-base-standby',
  'drVm-FailedOver-backup-cloud',
  'drVm-FailedOver-backup-cloud-awaiting-approval',
  'drVm-FailingBack',
  'drVm-Protected-after-failback',
  'drVm-after-continue-as-new',
  'cloudMonitor-healthy',
  'cloudMonitor-after-outage',
  'cloudMonitor-after-continue-as-new',
  'vmOwner-after-backup',
  'vmOwner-after-failover',
  'vmOwner-after-failback',
];

function loadHistory(file: string): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
}

describe('replay: recorded histories of the long-running workflows', function () {
  this.timeout(120_000);
  const files = fs.readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).sort();

  it('when the fixtures are listed, then every required state has a recorded history', () => {
    const names = new Set(files.map((f) => f.replace(/\.json$/, '')));
    assert.deepEqual(REQUIRED.filter((n) => !names.has(n)), [], 'missing histories: run npm run record-histories');
  });

  it('when each history is replayed against the current workflow code, then none fails (no nondeterminism)', async () => {
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: loadHistory(f) }));
    installTestRuntime();
    const failures: string[] = [];
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH }, replayName: 'vmflow-replay' }, histories)) {
      replayed += 1;
      // The core's message names the mismatch ("Activity type of scheduled event 'x' does not match …").
      if (r.error) failures.push(`${r.workflowId}: ${r.error.name}: ${/\[TMPRL\d+\][^"]*/.exec(r.error.message)?.[0] ?? r.error.message.split('\n')[0]}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
