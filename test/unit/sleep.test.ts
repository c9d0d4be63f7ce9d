/** src/sleep.ts: the one abortable sleep of clients, simulators and benchmarks. */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { sleep } from '../../src/sleep';

describe('sleep: abortable, leaves no listener behind', () => {
  it('when many sleeps end on one long-lived signal, then no abort listener is left on it', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 50; i++) await sleep(1, ac.signal);
    await Promise.all(Array.from({ length: 50 }, () => sleep(1, ac.signal)));
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('when the signal aborts during the wait, then it rejects with the signal’s own reason and drops its listener', async () => {
    const ac = new AbortController();
    const reason = new Error('caller gave up');
    const pending = sleep(60_000, ac.signal);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    ac.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('when the signal has already aborted, then it rejects at once with that reason', async () => {
    const reason = new Error('already over');
    await assert.rejects(sleep(60_000, AbortSignal.abort(reason)), (err) => err === reason);
  });
});
