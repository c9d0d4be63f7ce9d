/**
 * Mocha root hooks: the integration stack (Temporal dev server + FerretDB) is booted lazily by the
 * first suite that asks for it (see stack.ts) and torn down once after all tests, pass or fail.
 * Before that, the run's logs are checked for every registered test secret (see secrets.ts), and
 * the API answers the tests received are held to the contract (see conformance.ts): a mismatch a
 * test swallowed fails the run here, and the coverage of declared routes is reported.
 */
import assert from 'node:assert/strict';
import { conformanceChecked, conformanceReport, enableConformance } from './conformance';
import { assertNoSecretsInLogs } from './secrets';
import { stopSharedStack } from './stack';
import { stopSharedClouds } from './clouds';
import { stopTimeSkippingEnv } from './time-skipping';

enableConformance();

function assertAnswersConform(): void {
  if (!conformanceChecked()) return;
  const r = conformanceReport();
  const list = (items: string[]) => (items.length ? `\n    ${items.join('\n    ')}` : ' none');
  console.log(
    `\n  API conformance: ${r.validated.length} of ${r.declared.length} declared routes had answers validated against their schemas; ` +
      `${r.succeeded.length} of the ${r.documented.length} that answer JSON on success had a 2xx answer validated (${r.answers} answers checked, ${r.unrouted} more to undeclared paths).` +
      `\n  Called, but no 2xx answer in this run:${list(r.noSuccess)}` +
      `\n  Called with no JSON content documented (exempt):${list(r.exemptOnly)}\n  Declared but not called by this run:${list(r.notCalled)}\n`,
  );
  assert.deepEqual(r.calledNotValidated, [], 'declared routes the tests called without one answer validated');
  assert.deepEqual(r.failures, [], `API answers that break the contract:\n  ${r.failures.join('\n  ')}`);
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    try {
      assertNoSecretsInLogs();
      assertAnswersConform();
    } finally {
      await stopTimeSkippingEnv();
      await stopSharedClouds();
      await stopSharedStack();
    }
  },
};
