/**
 * The console's layered layout of a backup's task graph (web/src/lib/graph.ts): a task's layer is
 * its longest `requires` chain, every edge points down, nodes of a layer never overlap.
 */
import assert from 'node:assert/strict';
import { DEFAULT_BOX, layoutTaskGraph, taskDepths, taskSeconds } from '../../web/src/lib/graph';

// The backup graph as workflows/backup.ts declares it (both standbys on).
const BACKUP = [
  { name: 'snapshot', requires: [] },
  { name: 'await-image', requires: ['snapshot'] },
  { name: 'record-metadata', requires: ['await-image'] },
  { name: 'base-standby', requires: ['record-metadata'] },
  { name: 'export', requires: ['record-metadata'] },
  { name: 'register-template', requires: ['export'] },
  { name: 'await-template', requires: ['register-template'] },
  { name: 'backup-cloud-standby', requires: ['await-template'] },
];

describe('web console: task graph layout', () => {
  it('when tasks require others, then each task’s depth is its longest requires chain', () => {
    const d = taskDepths(BACKUP);
    assert.equal(d.get('snapshot'), 0);
    assert.equal(d.get('record-metadata'), 2);
    assert.equal(d.get('base-standby'), 3);
    assert.equal(d.get('export'), 3);
    assert.equal(d.get('backup-cloud-standby'), 6);
    // A diamond with a shortcut: the longest chain counts, not the shortest.
    const diamond = taskDepths([
      { name: 'a', requires: [] },
      { name: 'b', requires: ['a'] },
      { name: 'c', requires: ['b'] },
      { name: 'd', requires: ['a', 'c'] },
    ]);
    assert.equal(diamond.get('d'), 3);
  });

  it('when the graph is laid out, then every edge points down from its requirement and no two nodes overlap', () => {
    const g = layoutTaskGraph(BACKUP);
    assert.equal(g.layers, 7);
    assert.equal(g.nodes.length, BACKUP.length);
    assert.equal(g.edges.length, 7);
    const at = new Map(g.nodes.map((n) => [n.task.name, n]));
    for (const e of g.edges) assert.ok(at.get(e.from)!.y + DEFAULT_BOX.nodeHeight <= at.get(e.to)!.y, `${e.from} → ${e.to} points down`);
    for (const a of g.nodes)
      for (const b of g.nodes) {
        if (a === b) continue;
        const apart = a.x + DEFAULT_BOX.nodeWidth <= b.x || b.x + DEFAULT_BOX.nodeWidth <= a.x || a.y + DEFAULT_BOX.nodeHeight <= b.y || b.y + DEFAULT_BOX.nodeHeight <= a.y;
        assert.ok(apart, `${a.task.name} and ${b.task.name} overlap`);
      }
    // The drawing holds every node; the two branches sit side by side in one layer.
    for (const n of g.nodes) assert.ok(n.x + DEFAULT_BOX.nodeWidth <= g.width && n.y + DEFAULT_BOX.nodeHeight <= g.height);
    assert.equal(at.get('base-standby')!.y, at.get('export')!.y);
    assert.notEqual(at.get('base-standby')!.x, at.get('export')!.x);
    // A chain stays in the column of what it requires.
    assert.equal(at.get('register-template')!.x, at.get('export')!.x);
  });

  it('when a task requires one not in the graph, or the tasks form a cycle, then the layout still ends and draws no such edge', () => {
    const g = layoutTaskGraph([
      { name: 'a', requires: ['ghost'] },
      { name: 'b', requires: ['c'] },
      { name: 'c', requires: ['b'] },
    ]);
    assert.equal(g.nodes.length, 3);
    assert.ok(!g.edges.some((e) => e.from === 'ghost'));
    assert.ok(g.edges.length <= 1, 'at most one edge of the cycle is drawn');
    assert.deepEqual(layoutTaskGraph([]).nodes, []);
  });

  it('when a task ran, then its duration is finish − start (or now − start while running)', () => {
    assert.equal(taskSeconds({ startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:02.500Z' }, 0), 2.5);
    assert.equal(taskSeconds({ startedAt: '2026-01-01T00:00:00Z' }, Date.parse('2026-01-01T00:01:00Z')), 60);
    assert.equal(taskSeconds({}, 0), undefined);
  });
});
