/** The soak's summary table. */
import type { SoakResult } from './soak';

export function printSummary(r: SoakResult, print: (line: string) => void): void {
  const byKind: Record<string, number> = {};
  for (const v of r.violations) byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
  const rows: Array<[string, string]> = [
    ['minutes', String(r.minutes)],
    ['seed', String(r.seed)],
    ['VM slots / created / deleted', `${r.vms} / ${r.vmsCreated} / ${r.vmsDeleted}`],
    ['steps (skipped)', `${r.steps} (${r.skipped})`],
    ...Object.entries(r.faults)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => [`  injected ${k}`, String(n)] as [string, string]),
    ['API answers ok / 409 / other 4xx / 5xx / no answer', `${r.api.ok} / ${r.api.conflict} / ${r.api.otherClientError} / ${r.api.serverError} / ${r.api.timeout}`],
    ['  503 dr_unavailable just after a worker kill', `${r.api.unavailable}`],
    ['failovers completed', String(r.failovers)],
    ['failbacks completed', String(r.failbacks)],
    ['worker kills', `${r.workerKills}${r.kills ? '' : ' (--no-kills)'}`],
    ['workflows cancelled / terminated', `${r.cancelledWorkflows.length} / ${r.terminatedWorkflows.length}`],
    ['settled at the end', r.settled ? 'yes' : 'NO'],
    ['violations', String(r.violations.length)],
    ...Object.entries(byKind).map(([k, n]) => [`  ${k}`, String(n)] as [string, string]),
    ['seconds', String(r.seconds)],
    ['logs', r.logDir],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = ['', 'soak summary', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)];
  if (r.violations.length) {
    lines.push('', 'violations (seed, step, time):');
    for (const v of r.violations) lines.push(`  seed ${r.seed} step ${v.step} t=${v.t}s ${v.kind}${v.vmId ? ` VM ${v.vmId} (slot ${v.slot})` : ''}: ${v.message.slice(0, 300)}`);
  }
  if (r.cancelledWorkflows.length) lines.push('', `cancelled workflows: ${r.cancelledWorkflows.slice(0, 20).join(', ')}${r.cancelledWorkflows.length > 20 ? ' …' : ''}`);
  if (r.terminatedWorkflows.length) lines.push(`terminated workflows: ${r.terminatedWorkflows.slice(0, 20).join(', ')}`);
  lines.push('');
  print(lines.join('\n'));
}
