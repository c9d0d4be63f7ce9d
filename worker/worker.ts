/**
 * Builds the vmflow worker: every workflow (bundled from workflows/index.ts) and every activity
 * (from createActivities). worker/main.ts runs it as a process; integration tests create it with a
 * unique task queue and a pre-built bundle.
 */
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { OutboundGuard } from '../src/outbound/guard';
import type { Keyring } from '../src/secrets/keyring';
import type { Tracing } from '../src/tracing';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../src/temporal/data-converter';

export const WORKFLOWS_PATH = require.resolve('../workflows');

export interface VmflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Encrypts payloads; the same keyring as every client's (loadKeyring(config)). */
  keyring: Keyring;
  /** Pre-built bundle (tests build it once per run); otherwise bundled from WORKFLOWS_PATH. */
  workflowBundle?: WorkflowBundle;
  identity?: string;
  /**
   * Traces (src/tracing): workflow and activity spans under the context their starter sent. Only
   * with a bundle made here (the plugin adds its workflow interceptors to it).
   */
  tracing?: Tracing;
}

export async function createVmflowWorker(o: VmflowWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({ ...o.deps, webhooks: o.deps.webhooks ?? { keyring: o.keyring, outbound: new OutboundGuard() } }),
    dataConverter: createDataConverter(o.keyring),
    ...(o.tracing ? { plugins: [new OpenTelemetryPlugin({ resource: o.tracing.resource, spanProcessor: o.tracing.spanProcessor })] } : {}),
  });
}

export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never });
}
