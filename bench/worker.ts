/** The vmflow worker a benchmark runs on its own task queue, stopped by the benchmark's cleanup. */
import { NativeConnection } from '@temporalio/worker';
import { bundleWorkflows, createVmflowWorker, type VmflowWorkerOptions } from '../worker/worker';

/**
 * Connects, bundles the workflows and runs the worker; puts its stop first on `cleanup` (shutdown,
 * then the connection closed), so it stops before what it uses.
 */
export async function startBenchWorker(
  o: { address: string } & Pick<VmflowWorkerOptions, 'namespace' | 'taskQueue' | 'keyring' | 'deps'>,
  cleanup: Array<() => Promise<unknown>>,
): Promise<void> {
  const connection = await NativeConnection.connect({ address: o.address });
  cleanup.unshift(() => connection.close());
  const worker = await createVmflowWorker({ connection, namespace: o.namespace, taskQueue: o.taskQueue, keyring: o.keyring, workflowBundle: await bundleWorkflows(), deps: o.deps });
  const running = worker.run();
  cleanup.unshift(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
  });
}
