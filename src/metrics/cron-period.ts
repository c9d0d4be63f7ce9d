/**
 * An upper bound of the gap between two runs of a five-field cron expression, for RPO against
 * the period: a restricted minute only → an hour; a restricted hour → a day; a restricted weekday
 * → a week; a restricted day of month or month → a year (31 days would miss `0 0 1 1 *`). A step of
 * minutes (every 15 minutes) or hours with a fixed minute is taken as the period.
 */
export function cronPeriodSeconds(expression: string): number {
  const [minute = '*', hour = '*', dom = '*', month = '*', dow = '*'] = expression.trim().split(/\s+/);
  if (month !== '*' || dom !== '*') return 366 * 86400;
  if (dow !== '*') return 7 * 86400;
  if (hour !== '*') {
    const step = /^\*\/(\d+)$/.exec(hour);
    return step && minute !== '*' && !minute.includes(',') ? Number(step[1]) * 3600 : 86400;
  }
  const step = /^\*\/(\d+)$/.exec(minute);
  if (step) return Number(step[1]) * 60;
  if (minute === '*') return 60;
  return 3600;
}
