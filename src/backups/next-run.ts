/**
 * When a VM's backup schedule (schedule.ts) fires next, computed from its policy alone — no
 * Temporal call per VM, so a list of 500 VMs costs nothing more than their policies. It is the
 * schedule's nominal time: Temporal delays each run by a random jitter of up to `jitterSeconds`
 * (scheduleSpec: 10 % of an interval, at most 5 minutes; 1 minute for cron), so the run comes
 * "at about" this time, never before it.
 *
 * - An interval of N seconds fires at every multiple of N since the Unix epoch (Temporal's
 *   IntervalSpec with no phase).
 * - A cron expression fires in UTC, each field matching as Temporal's calendar specs do: a time
 *   matches when every field matches (day of month AND day of week, not the "either" of some
 *   crons), `*`, `N`, `N-M`, each with an optional `/step`, names for months and weekdays, 7 = Sunday.
 */
import type { BackupPolicy } from '../contracts/backup';
import { scheduleSpec } from './schedule';

export interface NextBackup {
  at: Date;
  /** The run may come up to this much later (the schedule's jitter). */
  jitterSeconds: number;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, base: 1 },
  { min: 0, max: 7, names: WEEKDAYS, base: 0 },
] as const;

/** Days searched ahead for a cron match (a 29 February on a given weekday can be years away). */
const CRON_SEARCH_DAYS = 366 * 8;

function fieldValue(field: (typeof FIELDS)[number], text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const names = 'names' in field ? field.names : undefined;
  const i = names?.indexOf(text.toUpperCase()) ?? -1;
  if (i < 0 || !('base' in field)) throw new Error(`not a cron value: ${text}`);
  return i + field.base;
}

/** The values one cron field matches (throws on what cron.ts would have refused). */
function expand(field: (typeof FIELDS)[number], text: string): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`not a cron step: ${item}`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [field.min, field.max];
    else if (range.includes('-')) [lo, hi] = range.split('-').map((v) => fieldValue(field, v)) as [number, number];
    else {
      lo = fieldValue(field, range);
      // "N/step" runs from N to the end of the field.
      hi = stepText === undefined ? lo : field.max;
    }
    if (lo < field.min || hi > field.max || lo > hi) throw new Error(`cron value out of range: ${item}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** The first minute strictly after `now` that the five-field UTC cron expression matches, or undefined. */
export function nextCronTime(expression: string, now: Date): Date | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return undefined;
  let sets: Set<number>[];
  try {
    sets = parts.map((p, i) => expand(FIELDS[i], p));
  } catch {
    return undefined;
  }
  const [minutes, hours, days, months, weekdays] = sets;
  if (weekdays.has(7)) weekdays.add(0);
  const sortedHours = [...hours].sort((a, b) => a - b);
  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  // From the next whole minute.
  const start = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
  const day0 = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  for (let d = 0; d < CRON_SEARCH_DAYS; d++) {
    const day = new Date(day0 + d * 86_400_000);
    if (!months.has(day.getUTCMonth() + 1) || !days.has(day.getUTCDate()) || !weekdays.has(day.getUTCDay())) continue;
    for (const h of sortedHours) {
      for (const m of sortedMinutes) {
        const t = day.getTime() + h * 3_600_000 + m * 60_000;
        if (t >= start.getTime()) return new Date(t);
      }
    }
  }
  return undefined;
}

/** The next scheduled backup of a policy, or undefined when it is paused (or its cron never fires). */
export function nextBackup(policy: Pick<BackupPolicy, 'intervalSeconds' | 'cron' | 'paused'>, now: Date): NextBackup | undefined {
  if (policy.paused) return undefined;
  const spec = scheduleSpec(policy);
  const jitterSeconds = Math.floor(Number(spec.jitter ?? 0) / 1000);
  if (policy.cron) {
    const at = nextCronTime(policy.cron, now);
    return at ? { at, jitterSeconds } : undefined;
  }
  const everyMs = Math.max(1, policy.intervalSeconds ?? 3600) * 1000;
  return { at: new Date((Math.floor(now.getTime() / everyMs) + 1) * everyMs), jitterSeconds };
}
