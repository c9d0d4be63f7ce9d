/**
 * The OpenStack simulator: Keystone v3, Nova v2.1, Glance v2, Heat v1 and a minimal Neutron,
 * devstack style on one port (`/identity`, `/compute/v2.1`, `/image`, `/heat-api/v1/<project>`,
 * `/networking`), with a fault-injection admin API under `/_sim`. Real clients
 * (python-openstackclient, heatclient, gophercloud, our undici client) work against it unchanged.
 * Used by the `npm start` demo, DR drills and tests.
 */
import { parseGuestAddressMap } from '../../dr/guest-checks';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { listen } from '../../listen';
import { logger as rootLogger, type Logger } from '../../logger';
import { adminRoutes } from './admin';
import { Cloud, type SimStateSummary } from './cloud';
import { glanceRoutes } from './glance';
import { heatRoutes } from './heat';
import { DEFAULT_USERS, identityRoutes, type SimUserSpec } from './keystone';
import { negotiateMicroversion, novaRoutes } from './nova';
import { neutronRoutes } from './neutron';
import { createPipeline, type ServiceDef } from './server';
import { Store } from './state';
import { resolveTimings, type OpenStackTimings } from './timings';
import { Rng } from './util';

export type { SimStateSummary } from './cloud';
export type { FaultSpec, Fault, OutageMode } from './faults';
export type { SimUserSpec } from './keystone';
export { DEFAULT_USERS } from './keystone';
export type { OpenStackTimings } from './timings';
export { FAST_TIMINGS, REALISTIC_TIMINGS } from './timings';

export interface OpenStackSimulator {
  /** Base URL, e.g. http://127.0.0.1:8000 (no trailing slash). */
  url: string;
  port: number;
  /** `<url>/identity/v3`, what OS_AUTH_URL should be. */
  authUrl: string;
  /** The first configured user (by default the `demo` user in project `demo`). */
  credentials: { username: string; password: string; projectName: string; userDomainName: string; projectDomainName: string; region: string };
  state(): SimStateSummary;
  stop(): Promise<void>;
}

export interface StartOpenStackSimulatorOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Base URL put in the catalog and links when clients reach the simulator through another address. */
  publicUrl?: string;
  timings?: 'fast' | 'realistic' | Partial<OpenStackTimings>;
  /** Where uploaded and imported image bytes live; default a temp dir removed on stop. */
  dataDir?: string;
  /** JSON file the cloud is saved to (debounced) and loaded from at start. */
  stateFile?: string;
  /** Token lifetime; default 3600. */
  tokenTtlSeconds?: number;
  /** Users (each in its own project); default demo/demo-secret in `demo`, admin/admin-secret in `admin`. */
  users?: SimUserSpec[];
  /** Seeds ids, MAC addresses and fault coin flips, for reproducible runs. */
  seed?: number;
  /**
   * Prefix length of the seeded private network 10.0.0.0/N (default 24: 253 addresses, so at most
   * that many servers, as in a devstack). Benchmarks that make hundreds of VMs ask for a bigger one.
   */
  privatePrefixLength?: number;
  /**
   * The service inside each server (guests.ts): the ports every ACTIVE server answers on, and the
   * map from its private address to the loopback one it is served at (VMFLOW_GUEST_ADDRESS_MAP's
   * format). Off when unset.
   */
  guests?: { ports: number[]; addressMap: string };
  logger?: Logger;
}

const MiB = 1024 * 1024;

export async function startOpenStackSimulator(opts: StartOpenStackSimulatorOptions = {}): Promise<OpenStackSimulator> {
  const log = (opts.logger ?? rootLogger).child({ component: 'openstack-sim' });
  const users = opts.users && opts.users.length ? opts.users : DEFAULT_USERS;
  const ownsDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-openstack-sim-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const rng = new Rng(opts.seed);
  const store = new Store(rng, opts.stateFile, log);
  const cloud = new Cloud({
    log,
    rng,
    store,
    timings: resolveTimings(opts.timings),
    dataDir,
    users,
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 3600,
    privatePrefixLength: opts.privatePrefixLength,
    ...(opts.guests?.ports.length ? { guests: { ports: opts.guests.ports, map: parseGuestAddressMap(opts.guests.addressMap) } } : {}),
  });

  const loaded = store.load();
  if (loaded) cloud.recover();
  else await cloud.seed();

  const services: ServiceDef[] = [
    { name: 'identity', prefix: '/identity', router: identityRoutes(cloud), maxBodyBytes: MiB },
    { name: 'compute', prefix: '/compute', router: novaRoutes(cloud), maxBodyBytes: 114_688, prepare: negotiateMicroversion, prepares: (p) => p.startsWith('/v2.1') },
    { name: 'image', prefix: '/image', router: glanceRoutes(cloud), maxBodyBytes: MiB },
    { name: 'orchestration', prefix: '/heat-api', router: heatRoutes(cloud), maxBodyBytes: 2 * MiB },
    { name: 'network', prefix: '/networking', router: neutronRoutes(cloud), maxBodyBytes: MiB },
  ];
  const stopController = new AbortController();
  const server = http.createServer(createPipeline({ cloud, services, admin: adminRoutes(cloud), stopSignal: stopController.signal }));
  // Image uploads of a GiB or more must not be cut off by Node's default 5-minute request timeout.
  server.requestTimeout = 0;

  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = (opts.publicUrl ?? `http://${urlHost}:${port}`).replace(/\/+$/, '');
  cloud.baseUrl = url;
  const first = users[0];
  log.info({ url, stateFile: opts.stateFile, restored: loaded }, 'OpenStack simulator listening');

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    authUrl: `${url}/identity/v3`,
    credentials: {
      username: first.name,
      password: first.password,
      projectName: first.project,
      userDomainName: first.domain ?? 'Default',
      projectDomainName: first.domain ?? 'Default',
      region: cloud.region,
    },
    state: () => cloud.summary(),
    stop() {
      stopped ??= (async () => {
        stopController.abort();
        await cloud.clock.stop();
        await cloud.guests?.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.close();
        if (ownsDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
