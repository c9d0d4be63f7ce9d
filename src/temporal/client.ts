/** Temporal client connection used by the API and scripts. */
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Keyring } from '../secrets/keyring';
import { createDataConverter } from './data-converter';

export interface TemporalClientHandle {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * `keyring` must be the one the worker uses (loadKeyring(config)): payloads are encrypted with it.
 * `tracing`: workflow starts, signals and queries carry the current trace context (src/tracing).
 */
export async function connectTemporalClient(address: string, namespace: string, keyring: Keyring, opts: { tracing?: boolean } = {}): Promise<TemporalClientHandle> {
  const connection = await Connection.connect({ address, connectTimeout: 10_000 });
  const client = new Client({
    connection,
    namespace,
    dataConverter: createDataConverter(keyring),
    ...(opts.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
  return { client, connection, close: () => connection.close() };
}

/** True when the Temporal frontend answers (used by /readyz). */
export async function pingTemporal(handle: TemporalClientHandle, namespace: string): Promise<boolean> {
  try {
    await handle.connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  }
}
