/**
 * Mocha root hooks: the integration stack (Temporal dev server + FerretDB) is booted lazily by the
 * first suite that asks for it (see stack.ts) and torn down once after all tests, pass or fail.
 * Before that, the run's logs are checked for every registered test secret (see secrets.ts).
 */
import { assertNoSecretsInLogs } from './secrets';
import { stopSharedStack } from './stack';
import { stopSharedClouds } from './clouds';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    try {
      assertNoSecretsInLogs();
    } finally {
      await stopSharedClouds();
      await stopSharedStack();
    }
  },
};
