/**
 * The cron check in front of Temporal schedules (src/backups/cron.ts): what it lets through and
 * what it refuses, with the field named in the message.
 */
import assert from 'node:assert/strict';
import { cronProblem } from '../../src/backups/cron';

describe('backup cron check', () => {
  it('when a cron uses values, ranges, lists, steps and names, then it passes', () => {
    for (const cron of ['0 3 * * *', '*/15 * * * *', '0 0-23/2 1,15 * *', '30 4 * jan-mar mon-fri', '0 0 * * 7', ' 5 4 * * sun ', '0 12 1-31/10 DEC Sat']) {
      assert.equal(cronProblem(cron), undefined, cron);
    }
  });

  it('when a field is out of range, not cron syntax or a reversed range, then the problem names the field', () => {
    const cases: Array<[string, RegExp]> = [
      ['a b c d e', /^minute "a"/],
      ['61 * * * *', /^minute 61 is not in 0-59/],
      ['0 24 * * *', /^hour 24/],
      ['0 0 0 0 0', /^day of month 0 is not in 1-31/],
      ['0 0 1 13 *', /^month 13/],
      ['0 0 * * 8', /^day of week 8/],
      ['0 0 * * MON-', /^day of week "MON-"/],
      ['5-1 * * * *', /^minute range "5-1" ends before it starts/],
      ['*/0 * * * *', /^minute step "0"/],
      ['1,,2 * * * *', /^minute ""/],
      ['0 0 L * *', /^day of month "L"/],
      ['0 0 * * * *', /five cron fields/],
    ];
    for (const [cron, expected] of cases) assert.match(cronProblem(cron) ?? 'passed', expected, cron);
  });
});
