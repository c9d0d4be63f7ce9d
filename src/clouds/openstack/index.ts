/**
 * The OpenStack client: one session (Keystone token + catalog) shared by the service clients.
 *
 *   const session = new OpenStackSession(credentials, { tokenCache });
 *   const os = createOpenStackClient(session);
 *   const servers = await os.compute.listServers({ name: 'vm-1' });
 */
import { ComputeClient } from './compute';
import { ImageClient } from './image';
import { NetworkClient } from './network';
import { OrchestrationClient } from './orchestration';
import { OpenStackSession } from './session';

export interface OpenStackClient {
  compute: ComputeClient;
  image: ImageClient;
  orchestration: OrchestrationClient;
  network: NetworkClient;
  session: OpenStackSession;
}

export function createOpenStackClient(session: OpenStackSession, opts: { computeMicroversion?: string } = {}): OpenStackClient {
  return {
    compute: new ComputeClient(session, { microversion: opts.computeMicroversion }),
    image: new ImageClient(session),
    orchestration: new OrchestrationClient(session),
    network: new NetworkClient(session),
    session,
  };
}

export * from './compute';
export * from './image';
export * from './orchestration';
export * from './network';
export * from './session';
export * from './identity';
export * from './pagination';
export { runDelete, type DeleteOptions } from './envelope';
export type { RequestBody, ResponseHeaders, HttpMethod } from './transport';
export { CloudApiError, responseCodeIs } from '../errors';
