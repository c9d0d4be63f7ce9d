/**
 * An environment's recovery plan as waves (src/environments/waves.ts): a wave holds the members
 * whose requirements are all in earlier waves; members keep their declared order within a wave.
 */
import assert from 'node:assert/strict';
import { presetMembers } from '../../src/environments/expand';
import { recoveryWaves, waveOf } from '../../src/environments/waves';

const m = (name: string, requires: string[] = []) => ({ name, requires });

describe('environments: recovery waves', () => {
  it('when the environment is Web-App-DB, then the database goes first, the application second, the web tier last', () => {
    const members = presetMembers('web-app-db', {}).map((x) => ({ name: x.name, requires: x.requires ?? [] }));
    assert.deepEqual(recoveryWaves(members), [['db'], ['app'], ['web']]);
  });

  it('when members are independent, then they share a wave in their declared order', () => {
    assert.deepEqual(recoveryWaves([m('b'), m('a'), m('c')]), [['b', 'a', 'c']]);
  });

  it('when a member requires members of different waves, then it waits for the latest of them', () => {
    const waves = recoveryWaves([m('web', ['app', 'cache']), m('app', ['db']), m('cache'), m('db'), m('batch', ['db'])]);
    assert.deepEqual(waves, [['cache', 'db'], ['app', 'batch'], ['web']]);
    assert.deepEqual(Object.fromEntries(waveOf(waves)), { cache: 0, db: 0, app: 1, batch: 1, web: 2 });
  });

  it('when the overcloud preset has 3 nodes, then the DevOps post goes first and the nodes together after it', () => {
    const members = presetMembers('overcloud', { number: 3 }).map((x) => ({ name: x.name, requires: x.requires ?? [] }));
    assert.deepEqual(recoveryWaves(members), [['devops'], ['node-1', 'node-2', 'node-3']]);
  });

  it('when a requirement names no member or the graph has a cycle, then no member is lost', () => {
    assert.deepEqual(recoveryWaves([m('a', ['ghost']), m('b', ['a'])]), [['a'], ['b']]);
    assert.deepEqual(recoveryWaves([m('x'), m('p', ['q']), m('q', ['p'])]), [['x'], ['p', 'q']]);
    assert.deepEqual(recoveryWaves([]), []);
  });
});
