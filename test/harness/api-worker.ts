/**
 * The pair most integration tests of a use case run against: an API (test/harness/api.ts) and a
 * worker on its task queue (test/harness/temporal.ts) whose cloud clients read the API's database
 * for accounts, with fast polling and short cloud timeouts so a fault shows within a test.
 */
import type { ActivityDeps } from '../../activities';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { startTestApi, type TestApi } from './api';
import { testKeyring, testLogger } from './secrets';
import type { IsolatedPlace } from './stack';
import { startTestWorker, type TestWorker } from './temporal';

export interface ApiAndWorker {
  api: TestApi;
  tw: TestWorker;
  stop(): Promise<void>;
}

export async function startApiAndWorker(opts: {
  env: NodeJS.ProcessEnv;
  place?: IsolatedPlace;
  /** Per cloud request (default 1,500 ms). */
  cloudTimeoutMs?: number;
  deps?: Partial<ActivityDeps>;
}): Promise<ApiAndWorker> {
  const api = await startTestApi({ env: opts.env, ...(opts.place ? { place: opts.place } : {}) });
  const timeoutMs = opts.cloudTimeoutMs ?? 1500;
  try {
    const tw = await startTestWorker({
      taskQueue: api.deps.config.temporalTaskQueue,
      ...(opts.place ? { place: opts.place } : {}),
      deps: {
        timing: { pollIntervalMs: 50 },
        cloudAccounts: new CloudAccountResolver({ db: api.deps.db, keyring: testKeyring(), logger: testLogger(), openstack: { timeoutMs }, cloudstack: { timeoutMs, pollIntervalMs: 50 } }),
        ...opts.deps,
      },
    });
    return {
      api,
      tw,
      async stop() {
        await tw.stop();
        await api.close();
      },
    };
  } catch (err) {
    await api.close();
    throw err;
  }
}
