/**
 * The next scheduled backup, computed from the policy alone (src/backups/next-run.ts): intervals
 * on multiples of the period since the epoch, cron in UTC with Temporal's matching (every field,
 * day of month AND day of week), the schedule's jitter, and no next run while paused.
 */
import assert from 'node:assert/strict';
import { nextBackup, nextCronTime } from '../../src/backups/next-run';

const at = (iso: string) => new Date(iso);
const next = (cron: string, now: string) => nextCronTime(cron, at(now))?.toISOString();

describe('next scheduled backup', () => {
  it('when the policy is an interval, then the next run is the next multiple of the period since the epoch, strictly after now, with 10 % jitter up to 5 minutes', () => {
    assert.deepEqual(nextBackup({ intervalSeconds: 3600, paused: false }, at('2026-12-04T15:20:00.000Z')), { at: at('2026-12-04T16:00:00.000Z'), jitterSeconds: 300 });
    // On the boundary itself the run is happening now: the next one is a period later.
    assert.equal(nextBackup({ intervalSeconds: 3600, paused: false }, at('2026-12-04T16:00:00.000Z'))?.at.toISOString(), '2026-12-04T17:00:00.000Z');
    assert.deepEqual(nextBackup({ intervalSeconds: 600, paused: false }, at('2026-12-04T15:21:10.000Z')), { at: at('2026-12-04T15:30:00.000Z'), jitterSeconds: 60 });
    // A day: midnight UTC.
    assert.equal(nextBackup({ intervalSeconds: 86_400, paused: false }, at('2026-12-04T15:20:00.000Z'))?.at.toISOString(), '2026-12-05T00:00:00.000Z');
  });

  it('when the policy is paused, then there is no next run', () => {
    assert.equal(nextBackup({ intervalSeconds: 3600, paused: true }, at('2026-12-04T15:20:00.000Z')), undefined);
    assert.equal(nextBackup({ cron: '0 3 * * *', paused: true }, at('2026-12-04T15:20:00.000Z')), undefined);
  });

  it('when the policy is a cron, then the next matching minute in UTC comes, with a minute of jitter', () => {
    assert.deepEqual(nextBackup({ cron: '0 3 * * *', paused: false }, at('2026-12-04T15:20:00.000Z')), { at: at('2026-12-05T03:00:00.000Z'), jitterSeconds: 60 });
    assert.equal(next('0 3 * * *', '2026-12-04T02:59:59.000Z'), '2026-12-04T03:00:00.000Z');
    assert.equal(next('0 3 * * *', '2026-12-04T03:00:00.000Z'), '2026-12-05T03:00:00.000Z', 'strictly after now');
    assert.equal(next('*/15 * * * *', '2026-12-04T15:20:30.000Z'), '2026-12-04T15:30:00.000Z');
    assert.equal(next('0 0-23/6 * * *', '2026-12-04T13:00:00.000Z'), '2026-12-04T18:00:00.000Z');
    assert.equal(next('10,40 9 * * *', '2026-12-04T09:11:00.000Z'), '2026-12-04T09:40:00.000Z');
    assert.equal(next('5/20 * * * *', '2026-12-04T10:46:00.000Z'), '2026-12-04T11:05:00.000Z', 'N/step runs from N to the end of the field');
  });

  it('when a cron names months and weekdays, then names, ranges and 7 for Sunday match as Temporal reads them', () => {
    // 2026-12-04 is a Friday.
    assert.equal(next('30 4 * * mon-fri', '2026-12-04T05:00:00.000Z'), '2026-12-07T04:30:00.000Z', 'Friday past 04:30 → Monday');
    assert.equal(next('0 0 * * 7', '2026-12-04T05:00:00.000Z'), '2026-12-06T00:00:00.000Z', '7 is Sunday');
    assert.equal(next('0 0 * * SUN', '2026-12-04T05:00:00.000Z'), '2026-12-06T00:00:00.000Z');
    assert.equal(next('0 12 1 jan *', '2026-12-04T05:00:00.000Z'), '2027-01-01T12:00:00.000Z');
  });

  it('when a cron restricts both the day of month and the day of week, then both must match (Temporal does not take either)', () => {
    // The 13th that is a Friday after 2026-12-04: 2027-08-13.
    assert.equal(next('0 9 13 * 5', '2026-12-04T00:00:00.000Z'), '2027-08-13T09:00:00.000Z');
    // 29 February: the next leap day.
    assert.equal(next('0 0 29 2 *', '2026-12-04T00:00:00.000Z'), '2028-02-29T00:00:00.000Z');
  });

  it('when a cron can never fire or is not one, then there is no next run', () => {
    assert.equal(next('0 0 31 2 *', '2026-12-04T00:00:00.000Z'), undefined, '31 February');
    assert.equal(next('0 0 * *', '2026-12-04T00:00:00.000Z'), undefined);
    assert.equal(next('61 * * * *', '2026-12-04T00:00:00.000Z'), undefined);
  });
});
