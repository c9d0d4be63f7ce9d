import assert from 'node:assert/strict';
import { HashGate } from '../../src/accounts/hash-gate';
import { AppError } from '../../src/errors';

/** A job that runs until released, recording when it started. */
function job(order: string[], name: string): { run: () => Promise<string>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    run: async () => {
      order.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

describe('HashGate', () => {
  it('when sign-ups fill the gate, then they hold all slots but one, and a login takes the free one at once', async () => {
    const gate = new HashGate(2, 10);
    const order: string[] = [];
    const signups = [1, 2, 3].map((i) => job(order, `signup-${i}`));
    const running = signups.map((j) => gate.run('signup', j.run));
    await Promise.resolve();
    assert.deepEqual(order, ['signup-1']);
    const login = job(order, 'login');
    const loginDone = gate.run('login', login.run);
    await Promise.resolve();
    assert.deepEqual(order, ['signup-1', 'login']);
    login.release();
    assert.equal(await loginDone, 'login');
    for (const j of signups) j.release();
    assert.deepEqual(await Promise.all(running), ['signup-1', 'signup-2', 'signup-3']);
    assert.deepEqual(gate.stats, { running: 0, runningSignups: 0, waiting: 0 });
  });

  it('when logins and sign-ups wait together, then the logins start first', async () => {
    const gate = new HashGate(1, 10);
    const order: string[] = [];
    const first = job(order, 'login-0');
    const firstDone = gate.run('login', first.run);
    const s = job(order, 'signup');
    const l = job(order, 'login-1');
    const sDone = gate.run('signup', s.run);
    const lDone = gate.run('login', l.run);
    first.release();
    await firstDone;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['login-0', 'login-1']);
    l.release();
    await lDone;
    s.release();
    await sDone;
    assert.deepEqual(order, ['login-0', 'login-1', 'signup']);
  });

  it('when more calls wait than the queue allows, then the next is refused with 503 busy and Retry-After', async () => {
    const gate = new HashGate(1, 1);
    const order: string[] = [];
    const a = job(order, 'a');
    const b = job(order, 'b');
    const aDone = gate.run('login', a.run);
    const bDone = gate.run('login', b.run);
    await assert.rejects(gate.run('login', async () => 'c'), (err: unknown) => err instanceof AppError && err.status === 503 && err.code === 'busy' && err.retryAfterSeconds === 1);
    a.release();
    b.release();
    assert.deepEqual(await Promise.all([aDone, bDone]), ['a', 'b']);
  });
});
