/** startWebServer / stopWebServer: used by api/main.ts and by tests (port 0). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pruneExpiredThrottles } from '../src/limits/throttle';
import { listen as listenOn } from '../src/listen';
import { createApp, prepareApi, type ApiDeps } from './app';
import type { AuthLocals } from './auth-middleware';

export interface WebServer {
  url: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

export async function startWebServer(deps: ApiDeps, listen: { host: string; port: number }): Promise<WebServer> {
  await prepareApi(deps);
  const app = createApp(deps);
  const server = http.createServer(app);
  await listenOn(server, listen.port, listen.host);
  // Expired sessions and rate-limit counters are deleted periodically (FerretDB has no TTL index);
  // login also drops the member's own sessions.
  const { accounts } = app.locals.auth as AuthLocals;
  const log = deps.logger.child({ component: 'session-pruner' });
  const pruner = setInterval(() => {
    accounts.pruneExpiredSessions().then(
      (n) => n && log.info({ pruned: n }, 'expired sessions deleted'),
      (err: unknown) => log.warn({ err }, 'expired sessions could not be deleted; trying again next time'),
    );
    pruneExpiredThrottles(deps.db).catch((err: unknown) => log.warn({ err }, 'expired rate-limit counters could not be deleted; trying again next time'));
  }, deps.config.sessionPruneIntervalMinutes * 60_000);
  pruner.unref();
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(pruner);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
