/**
 * The one way a vmflow HTTP server starts listening (API, image store, simulators): resolves once
 * it listens, rejects with the listen error (address in use, permission) instead of leaving a
 * listener behind.
 */
import { once } from 'node:events';
import type { Server } from 'node:net';

export async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  // `once` rejects on 'error' and removes both listeners whichever comes first.
  await once(server, 'listening');
}
