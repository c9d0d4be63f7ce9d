import assert from 'node:assert/strict';
import { AppError } from '../../src/errors';
import { AdmissionGate } from '../../src/limits/admission';

/** A call that runs until released, recording that it started. */
function held(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return { fn: async () => { started.push(name); await done; return name; }, release };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('create admission gate', () => {
  it('when the slots are taken, then callers wait in arrival order and one past the queue is refused 503 busy with Retry-After at once', async () => {
    const gate = new AdmissionGate('VMs', 2, 2);
    const started: string[] = [];
    const calls = ['a', 'b', 'c', 'd'].map((n) => held(started, n));
    const results = calls.map((c) => gate.run(c.fn));
    await tick();
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual(gate.stats, { running: 2, waiting: 2 });

    const refused = await gate.run(async () => 'e').then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof AppError);
    assert.equal(refused.status, 503);
    assert.equal(refused.code, 'busy');
    assert.match(refused.message, /too many VMs/);

    calls[1].release();
    await tick();
    assert.deepEqual(started, ['a', 'b', 'c'], 'the first waiting caller takes the freed slot');
    calls[0].release();
    await tick();
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    calls[2].release();
    calls[3].release();
    assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd']);
    assert.deepEqual(gate.stats, { running: 0, waiting: 0 });
  });

  it('when a call throws, then its slot is freed for the next', async () => {
    const gate = new AdmissionGate('VMs', 1, 1);
    const failing = gate.run(async () => {
      await tick();
      throw new Error('database said no');
    });
    const next = gate.run(async () => 'next');
    await assert.rejects(failing, /database said no/);
    assert.equal(await next, 'next');
    assert.deepEqual(gate.stats, { running: 0, waiting: 0 });
  });

  it('when the queue is 0, then only the slots run and every other call is refused', async () => {
    const gate = new AdmissionGate('VMs', 1, 0);
    const started: string[] = [];
    const a = held(started, 'a');
    const first = gate.run(a.fn);
    await assert.rejects(gate.run(async () => 'b'), (err: unknown) => err instanceof AppError && err.status === 503);
    a.release();
    assert.equal(await first, 'a');
    assert.equal(await gate.run(async () => 'c'), 'c');
  });
});
