/**
 * An environment's recovery plan: its members in waves. Wave 0 holds the members that require no
 * other; each later wave the members whose requirements are all in earlier waves. A failover (and
 * a failback, and a drill) takes the waves in order: the next wave starts only when every member
 * of the one before has arrived. Pure: no I/O; workflows import it.
 */

export interface PlanMember {
  name: string;
  requires: readonly string[];
}

/**
 * The waves, each in the members' declared order. Requirements naming no member are ignored (the
 * environment's create refused those already); a cycle cannot come from a created environment,
 * but if one did its members are put in one last wave rather than lost.
 */
export function recoveryWaves(members: readonly PlanMember[]): string[][] {
  const names = new Set(members.map((m) => m.name));
  const placed = new Set<string>();
  const waves: string[][] = [];
  let left = members.filter((m, i) => members.findIndex((x) => x.name === m.name) === i);
  while (left.length) {
    const wave = left.filter((m) => m.requires.every((r) => !names.has(r) || r === m.name || placed.has(r)));
    if (!wave.length) {
      waves.push(left.map((m) => m.name));
      break;
    }
    for (const m of wave) placed.add(m.name);
    waves.push(wave.map((m) => m.name));
    left = left.filter((m) => !placed.has(m.name));
  }
  return waves;
}

/** The wave (index) each member is in. */
export function waveOf(waves: readonly (readonly string[])[]): Map<string, number> {
  const at = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((n) => at.set(n, i)));
  return at;
}
