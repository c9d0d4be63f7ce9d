/**
 * The service inside each simulated server (issue 17, item 1): what a guest health check reaches.
 * A real VM's service can die while Nova still says ACTIVE (a failed update, an attack); here each
 * ACTIVE server answers on its address — mapped to loopback, because the simulated addresses are
 * private (10.x) and must never be connected to from this machine — on every configured port, TCP
 * and HTTP alike (any GET answers 200 "ok"). `POST /_sim/servers/:id/break {"mode":"guest"}` stops
 * it while the server stays ACTIVE; `DELETE /_sim/servers/:id/break` starts it again. A server that
 * is not ACTIVE (stopped, in error, busy with a task, deleted) serves nothing.
 *
 * The map is the one vmflow's worker uses (VMFLOW_GUEST_ADDRESS_MAP, e.g. 10.0.0.0/8=127.0.0.0/8):
 * server 10.0.0.5 answers on 127.0.0.5. Linux routes all of 127.0.0.0/8 to loopback, so nothing
 * leaves the machine. Off unless ports are configured (a test that wants guests picks a free port).
 */
import http from 'node:http';
import { mapGuestAddress, type AddressMapEntry } from '../../dr/guest-checks';
import type { Logger } from '../../logger';
import type { Server } from './model';

export interface GuestOptions {
  /** Ports every guest listens on. */
  ports: number[];
  /** Where a server's fixed address is served (VMFLOW_GUEST_ADDRESS_MAP's format, parsed). */
  map: readonly AddressMapEntry[];
}

interface Serving {
  address: string;
  servers: http.Server[];
  closed: boolean;
}

export class GuestServices {
  private readonly serving = new Map<string, Serving>();
  /** Servers whose guest was stopped through the admin API. */
  readonly broken = new Set<string>();
  private warned = false;

  constructor(
    private readonly o: GuestOptions,
    private readonly log: Logger,
    /** The server's fixed IPv4 addresses (the network engine's view). */
    private readonly fixedAddressesOf: (s: Server) => string[],
  ) {}

  /** Brings a server's guest in line with its state: serving while ACTIVE and not broken. */
  sync(s: Server, exists = true): void {
    const want = exists && s.vmState === 'active' && !s.taskState && !s.deleting && !this.broken.has(s.id);
    const now = this.serving.get(s.id);
    const address = want ? this.fixedAddressesOf(s).map((a) => mapGuestAddress(a, this.o.map)).find((a): a is string => !!a) : undefined;
    if (now && (!address || now.address !== address)) this.stop(s.id);
    if (address && !this.serving.get(s.id)) this.start(s.id, address);
  }

  /** The server is gone: its guest too, and its broken mark. */
  remove(id: string): void {
    this.stop(id);
    this.broken.delete(id);
  }

  isServing(id: string): boolean {
    return this.serving.has(id);
  }

  async close(): Promise<void> {
    for (const id of [...this.serving.keys()]) this.stop(id);
  }

  private start(id: string, address: string): void {
    const entry: Serving = { address, servers: [], closed: false };
    this.serving.set(id, entry);
    for (const port of this.o.ports) {
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
        res.end('ok\n');
      });
      server.on('error', (err: NodeJS.ErrnoException) => {
        if (!this.warned) {
          this.warned = true;
          this.log.warn({ address, port, code: err.code }, 'a simulated guest could not listen (further failures are not logged)');
        }
      });
      // Listening may finish after the guest was stopped again: close it then.
      server.on('listening', () => {
        if (entry.closed) server.close();
      });
      server.listen(port, address);
      entry.servers.push(server);
    }
  }

  private stop(id: string): void {
    const entry = this.serving.get(id);
    if (!entry) return;
    this.serving.delete(id);
    entry.closed = true;
    for (const server of entry.servers) {
      if (server.listening) server.close();
      server.closeAllConnections();
    }
  }
}
