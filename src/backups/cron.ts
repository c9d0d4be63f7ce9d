/**
 * Checks a five-field cron expression (minute hour day-of-month month day-of-week) before it goes
 * to Temporal, so a bad one is a 400 naming what is wrong instead of a refused schedule. Each field
 * is a comma-separated list of `*`, `N`, `N-M`, each optionally `/step`; months and weekdays also
 * take three-letter names (JAN, MON; any case), and weekday 7 is Sunday, as in Temporal's parser.
 * Anything rarer (L, W, #, ?) is refused here; Temporal's own refusal stays the last word for the
 * rest (BackupService maps it to a 400 as well).
 */

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
];

function value(field: CronField, text: string): number | string {
  if (/^\d{1,2}$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : `${field.name} ${text} is not in ${field.min}-${field.max}`;
  }
  const named = field.names?.indexOf(text.toUpperCase() as never) ?? -1;
  if (named >= 0) return field.names === MONTHS ? named + 1 : named;
  return `${field.name} "${text}" is not a number${field.names ? ` or a name (${field.names[0]}…)` : ''}`;
}

function checkItem(field: CronField, item: string): string | undefined {
  const [range, step, ...extra] = item.split('/');
  if (extra.length || range === '') return `${field.name} "${item}" is not *, N, N-M or one of them with /step`;
  if (step !== undefined && !(/^\d{1,2}$/.test(step) && Number(step) >= 1)) return `${field.name} step "${step}" is not a whole number from 1`;
  if (range === '*') return undefined;
  const ends = range.split('-');
  if (ends.length > 2 || ends.some((e) => e === '')) return `${field.name} "${item}" is not *, N, N-M or one of them with /step`;
  const values = ends.map((e) => value(field, e));
  const bad = values.find((v): v is string => typeof v === 'string');
  if (bad) return bad;
  if (values.length === 2 && (values[0] as number) > (values[1] as number)) return `${field.name} range "${range}" ends before it starts`;
  return undefined;
}

/** The first problem with a cron expression, or undefined when it is a valid five-field one. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) return 'five cron fields, e.g. "0 3 * * *"';
  for (const [i, field] of FIELDS.entries()) {
    for (const item of parts[i].split(',')) {
      const problem = checkItem(field, item);
      if (problem) return problem;
    }
  }
  return undefined;
}
