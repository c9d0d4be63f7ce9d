/**
 * A layered layout for small task graphs (a backup's tasks and their `requires`), drawn top to
 * bottom: a task's layer is the length of the longest `requires` chain above it, so every edge
 * points down. Within a layer each task takes the column nearest the mean column of what it
 * requires (one barycentre pass), which keeps a chain in one column and branches side by side. Pure: no DOM,
 * no React (test/unit/web-graph-layout.test.ts).
 */

export interface GraphTask {
  name: string;
  requires: readonly string[];
}

export interface LayoutBox {
  nodeWidth: number;
  nodeHeight: number;
  /** Between two nodes of a layer. */
  gapX: number;
  /** Between two layers (room for the arrows). */
  gapY: number;
  /** Around the whole drawing. */
  pad: number;
}

export const DEFAULT_BOX: LayoutBox = { nodeWidth: 196, nodeHeight: 46, gapX: 24, gapY: 26, pad: 6 };

export interface PlacedNode<T extends GraphTask> {
  task: T;
  /** Layer: 0 for a task that requires nothing. */
  depth: number;
  /** Place in its layer, from the left. */
  column: number;
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** An SVG path from the bottom of `from` to the top of `to`. */
  path: string;
}

export interface GraphLayout<T extends GraphTask> {
  nodes: PlacedNode<T>[];
  edges: PlacedEdge[];
  width: number;
  height: number;
  /** How many layers (the longest chain of tasks). */
  layers: number;
}

/**
 * Each task's depth: 0 when it requires nothing (or only tasks not in the graph), else one more
 * than its deepest requirement. A cycle (which a real task graph never has) is cut where it closes.
 */
export function taskDepths(tasks: readonly GraphTask[]): Map<string, number> {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return -1; // a cycle: this edge does not count
    visiting.add(name);
    let d = 0;
    for (const req of byName.get(name)?.requires ?? []) {
      if (!byName.has(req) || req === name) continue;
      d = Math.max(d, visit(req) + 1);
    }
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const t of tasks) visit(t.name);
  return depth;
}

export function layoutTaskGraph<T extends GraphTask>(tasks: readonly T[], box: LayoutBox = DEFAULT_BOX): GraphLayout<T> {
  const depths = taskDepths(tasks);
  const layers: T[][] = [];
  for (const t of tasks) (layers[depths.get(t.name) ?? 0] ??= []).push(t);
  const column = new Map<string, number>();
  const placed: PlacedNode<T>[] = [];
  for (let d = 0; d < layers.length; d++) {
    const layer = layers[d] ?? [];
    // Barycentre of the columns of what each task requires (its own order when it requires nothing placed).
    const weight = (t: T, i: number) => {
      const cols = t.requires.map((r) => column.get(r)).filter((c): c is number => c !== undefined);
      return cols.length ? cols.reduce((a, b) => a + b, 0) / cols.length : i;
    };
    const ordered = layer.map((t, i) => ({ t, w: weight(t, i), i })).sort((a, b) => a.w - b.w || a.i - b.i);
    // Each task in the column nearest its barycentre that is right of the task before it.
    let next = 0;
    ordered.forEach(({ t, w }) => {
      const col = Math.max(next, Math.round(w));
      next = col + 1;
      column.set(t.name, col);
      placed.push({ task: t, depth: d, column: col, x: box.pad + col * (box.nodeWidth + box.gapX), y: box.pad + d * (box.nodeHeight + box.gapY) });
    });
  }
  const at = new Map(placed.map((n) => [n.task.name, n]));
  const edges: PlacedEdge[] = [];
  for (const n of placed) {
    for (const req of n.task.requires) {
      const from = at.get(req);
      if (!from || from.depth >= n.depth) continue; // not in the graph, or the edge that closed a cycle
      const x1 = from.x + box.nodeWidth / 2;
      const y1 = from.y + box.nodeHeight;
      const x2 = n.x + box.nodeWidth / 2;
      const y2 = n.y;
      const bend = Math.max(box.gapY / 2, (y2 - y1) / 2);
      edges.push({ from: req, to: n.task.name, path: `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}` });
    }
  }
  const widest = Math.max(1, ...placed.map((n) => n.column + 1));
  return {
    nodes: placed,
    edges,
    width: box.pad * 2 + widest * box.nodeWidth + (widest - 1) * box.gapX,
    height: box.pad * 2 + layers.length * box.nodeHeight + Math.max(0, layers.length - 1) * box.gapY,
    layers: layers.length,
  };
}

/** Seconds from start to finish (or to `now` while running); undefined when not started. */
export function taskSeconds(task: { startedAt?: string; finishedAt?: string }, now: number): number | undefined {
  if (!task.startedAt) return undefined;
  const end = task.finishedAt ? Date.parse(task.finishedAt) : now;
  return Math.max(0, (end - Date.parse(task.startedAt)) / 1000);
}
