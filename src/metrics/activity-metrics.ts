/** What activities record when something ended: each is called once per fact (see the call sites). */
import type { DrEvent } from '../contracts/dr';
import { backupDuration, backupRuns, drEvents, drOperations, drRpo, drRto, monitorChecks, monitorProbeDuration } from './registry';

export function recordBackupEnd(outcome: string, trigger: string | undefined, startedAt: Date | string | undefined, finishedAt: string | undefined): void {
  backupRuns.inc({ outcome, trigger: trigger ?? 'unknown' });
  if (startedAt) {
    const end = finishedAt ? Date.parse(finishedAt) : Date.now();
    const seconds = (end - new Date(startedAt).getTime()) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) backupDuration.observe({ outcome }, seconds);
  }
}

/** A backup run that found nothing to do (VM not active, not in the base cloud, policy paused): it writes no record. */
export function recordBackupSkipped(trigger: string): void {
  backupRuns.inc({ outcome: 'skipped', trigger });
}

const ENDINGS: Partial<Record<DrEvent['kind'], { operation: 'failover' | 'failback'; outcome: 'completed' | 'failed' | 'gave_up' }>> = {
  'failover.completed': { operation: 'failover', outcome: 'completed' },
  'failover.failed': { operation: 'failover', outcome: 'failed' },
  'failover.gave-up': { operation: 'failover', outcome: 'gave_up' },
  'failback.completed': { operation: 'failback', outcome: 'completed' },
  'failback.failed': { operation: 'failback', outcome: 'failed' },
  'failback.gave-up': { operation: 'failback', outcome: 'gave_up' },
};

/** Called once per event (the insert that created it). */
export function recordDrEventMetrics(e: Pick<DrEvent, 'kind' | 'rtoSeconds' | 'rpoSeconds'>): void {
  drEvents.inc({ kind: e.kind });
  const ending = ENDINGS[e.kind];
  if (!ending) return;
  drOperations.inc(ending);
  if (ending.outcome !== 'completed') return;
  if (typeof e.rtoSeconds === 'number' && Number.isFinite(e.rtoSeconds)) drRto.observe({ operation: ending.operation }, e.rtoSeconds);
  if (typeof e.rpoSeconds === 'number' && Number.isFinite(e.rpoSeconds)) drRpo.observe({ operation: ending.operation }, e.rpoSeconds);
}

export type MonitorOutcome = 'ok' | 'cloud_down' | 'throttled' | 'idle' | 'error';

export function recordMonitorCheck(outcome: MonitorOutcome, seconds: number): void {
  monitorChecks.inc({ outcome });
  monitorProbeDuration.observe({ outcome }, seconds);
}
