/**
 * A short soak (2.5 minutes of steps, fixed seed, 3 VMs, worker kills on) through the same module
 * as `npm run soak`, asserting that no invariant is violated and nothing leaks. It boots its own
 * stack (about 5 minutes with the bounded settle). SOAK_SEED picks another seed, SOAK_VERBOSE=1
 * prints its step log. Outside `npm test`'s globs until it passes reliably (it passed 1 of 3
 * fresh-clone CI runs: issue 11 notes); run it with `npx mocha test/soak/short-soak.test.ts`.
 */
import assert from 'node:assert/strict';
import { runSoak } from './soak';

const SEED = Number(process.env.SOAK_SEED ?? 11);

describe('soak: everything interleaved, seeded', function () {
  this.timeout(15 * 60_000);

  it(`when faults and commands interleave for 2.5 minutes (seed ${SEED}), then no invariant is violated and nothing leaks`, async () => {
    const lines: string[] = [];
    const result = await runSoak({
      minutes: 2.5,
      seed: SEED,
      vms: 3,
      kills: true,
      settleSeconds: 150,
      print: (l) => {
        lines.push(l);
        if (process.env.SOAK_VERBOSE) console.log(l);
      },
    });
    const summary = result.violations.map((v) => `seed ${result.seed} step ${v.step} t=${v.t}s ${v.kind}${v.vmId ? ` VM ${v.vmId}` : ''}: ${v.message}`).join('\n');
    assert.ok(result.steps > 10, `the soak ran (${result.steps} steps)`);
    assert.deepEqual(result.violations.map((v) => v.kind), [], `violations (logs in ${result.logDir}):\n${summary}\n\n${lines.slice(-60).join('\n')}`);
  });
});
