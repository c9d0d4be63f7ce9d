/**
 * Temporal helpers for integration tests: one workflow bundle per run, a worker per test on a
 * unique task queue, and a client — all against the run's shared stack.
 */
import { TEST_GUEST_ADDRESS_MAP } from './clouds';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString, type Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Connection as MongoConnection } from 'mongoose';
import { connectDatabase } from '../../src/db/connection';
import { createDataConverter } from '../../src/temporal/data-converter';
import { bundleWorkflows, createVmflowWorker } from '../../worker/worker';
import type { ActivityDeps } from '../../activities';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { scanLogsIn, testKeyring, testLogger } from './secrets';
import { sharedStack, uniqueTaskQueue, type IsolatedPlace } from './stack';

let bundle: Promise<WorkflowBundle> | undefined;
let runtimeInstalled = false;

export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflows();
  return bundle;
}

export interface TestWorker {
  worker: Worker;
  taskQueue: string;
  client: Client;
  db: MongoConnection;
  /** Stops the worker and closes what startTestWorker opened. */
  stop(): Promise<void>;
}

/** The SDK runtime of the test process (once, before any worker or replay): warnings into the run log. */
export function installTestRuntime(): void {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    try {
      // The SDK's warnings go to the run log too, so the end-of-run secret check covers them.
      const sdkLog = testLogger('temporal-sdk');
      Runtime.install({
        logger: new DefaultLogger('WARN', (e) => sdkLog[e.level === 'ERROR' ? 'error' : 'warn'](e.meta ?? {}, e.message)),
        telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
      });
    } catch {
      // already installed by another module in this process
    }
  }
}

/** Starts a worker (real activities unless `deps` overrides parts) polling a fresh task queue. */
export async function startTestWorker(opts: { deps?: Partial<ActivityDeps>; taskQueue?: string; place?: IsolatedPlace } = {}): Promise<TestWorker> {
  installTestRuntime();
  const stack = await sharedStack();
  scanLogsIn(stack.dir);
  const keyring = testKeyring();
  const logger = testLogger('vmflow-test-worker');
  const taskQueue = opts.taskQueue ?? uniqueTaskQueue();
  const place = opts.place ?? { namespace: stack.namespace, mongoUri: stack.mongoUri };
  const db = await connectDatabase(place.mongoUri);
  const nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: place.namespace, dataConverter: createDataConverter(keyring) });
  const worker = await createVmflowWorker({
    connection: nativeConnection,
    namespace: place.namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    keyring,
    // Guest checks of every test worker go to loopback, where the simulators serve guests: a test never connects to a VM's 10.x address.
    deps: { db, logger, cloudAccounts: new CloudAccountResolver({ db, keyring, logger }), temporalClient: client, guestAddressMap: TEST_GUEST_ADDRESS_MAP, ...opts.deps },
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    client,
    db,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await nativeConnection.close();
      await db.close();
    },
  };
}
