/**
 * Starts the REST API on port 0 against the run's shared stack, with its own database and Temporal
 * connections. Later suites pass extra deps (cloud accounts, codec keys…) through `overrides`.
 */
import crypto from 'node:crypto';
import { loadConfig, type Config } from '../../src/config';
import { connectDatabase } from '../../src/db/connection';
import { connectTemporalClient } from '../../src/temporal/client';
import type { ApiDeps } from '../../api/app';
import { startWebServer, type WebServer } from '../../api/server';
import { scanLogsIn, testKeyring, testLogger } from './secrets';
import { sharedStack, type IsolatedPlace } from './stack';

export interface TestApi {
  url: string;
  deps: ApiDeps;
  web: WebServer;
  close(): Promise<void>;
}

/**
 * `limiterNamespace`: the rate-limit counters this API shares. Each test API gets its own unless
 * one is given (two APIs given the same one act as two processes of one deployment). `place`: a
 * namespace and database of the suite's own instead of the run's shared ones.
 */
export async function startTestApi(opts: { env?: NodeJS.ProcessEnv; config?: Partial<Config>; limiterNamespace?: string; place?: IsolatedPlace } = {}): Promise<TestApi> {
  const stack = await sharedStack();
  scanLogsIn(stack.dir);
  // Every suite signs its members up from loopback: the sign-up limits are lifted unless a test sets them.
  const liftedSignupLimits = { SIGNUP_RATE_LIMIT_PER_ADDRESS: '100000', SIGNUP_RATE_LIMIT_GLOBAL: '100000' };
  const place = opts.place ?? { namespace: stack.namespace, mongoUri: stack.mongoUri };
  const config: Config = { ...loadConfig({ ...liftedSignupLimits, ...process.env, ...opts.env }), temporalNamespace: place.namespace, ...opts.config };
  const db = await connectDatabase(place.mongoUri);
  const keyring = testKeyring();
  const temporal = await connectTemporalClient(stack.temporalAddress, place.namespace, keyring);
  const limiterNamespace = opts.limiterNamespace ?? `test-${crypto.randomBytes(4).toString('hex')}-`;
  const deps: ApiDeps = { config, db, temporal, keyring, logger: testLogger('vmflow-test-api'), limiterNamespace };
  const web = await startWebServer(deps, { host: '127.0.0.1', port: 0 });
  return {
    url: web.url,
    deps,
    web,
    async close() {
      await web.close();
      await temporal.close();
      await db.close().catch(() => undefined);
    },
  };
}
