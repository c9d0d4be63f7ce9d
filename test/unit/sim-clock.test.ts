/**
 * The OpenStack simulator's clock holds one signal for as long as the simulator runs, while
 * hundreds of background tasks sleep on it at once (the monitor benchmark builds 250 servers
 * together). Listeners must not pile up on that signal, neither while the work runs nor after.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createLogger } from '../../src/logger';
import { Clock } from '../../src/sim/openstack/state';
import { Stopped } from '../../src/sim/openstack/util';

const TASKS = 200;
const listeners = (clock: Clock) => getEventListeners(clock.signal, 'abort').length;

describe('simulator clock: no listener per task on its long-lived signal', () => {
  let clock: Clock;
  beforeEach(() => {
    clock = new Clock(createLogger('silent'));
  });
  afterEach(() => clock.stop());

  it('when many tasks sleep on the clock at once, then its signal carries no listener per sleep, during or after', async () => {
    const before = listeners(clock);
    const sleeps = Array.from({ length: TASKS }, () => clock.sleep(1));
    assert.equal(listeners(clock), before);
    await Promise.all(sleeps);
    assert.equal(listeners(clock), before);
    assert.equal(clock.linkedCount, 0);
  });

  it('when many spawned tasks sleep in steps, then the listener count stays flat and nothing is held once they end', async () => {
    const before = listeners(clock);
    let done = 0;
    for (let i = 0; i < TASKS; i++) {
      clock.spawn(`task ${i}`, async (signal) => {
        for (let step = 0; step < 3; step++) await clock.sleep(1, signal);
        done++;
      });
    }
    assert.equal(listeners(clock), before);
    while (done < TASKS) await clock.sleep(1);
    assert.equal(listeners(clock), before);
    assert.equal(clock.linkedCount, 0);
  });

  it('when the clock stops, then every pending sleep rejects with Stopped', async () => {
    const sleeps = Array.from({ length: 20 }, () => clock.sleep(60_000));
    await clock.stop();
    const results = await Promise.allSettled(sleeps);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof Stopped));
    assert.equal(clock.linkedCount, 0);
  });

  it('when linked work is released, then the clock forgets it and stopping leaves it alone; unreleased work is aborted', async () => {
    const finished = Array.from({ length: TASKS }, () => clock.link());
    for (const ac of finished) clock.release(ac);
    const running = clock.link();
    assert.equal(clock.linkedCount, 1);
    assert.equal(listeners(clock), 0);
    await clock.stop();
    assert.ok(running.signal.aborted);
    assert.ok(finished.every((ac) => !ac.signal.aborted));
  });
});
