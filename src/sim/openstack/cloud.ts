/**
 * The simulated cloud as one object: configuration, the store, the background clock, fault
 * injection and the five services' domain engines, wired so each can reach the others (Nova
 * makes Neutron ports and Glance snapshots; Heat drives Nova, Neutron and key pairs).
 */
import { GuestServices, type GuestOptions } from './guests';
import type { Logger } from '../../logger';
import { ComputeEngine, serverStatus } from './compute';
import { FaultInjector, type Fault, type OutageMode } from './faults';
import { HeatEngine } from './heat-stacks';
import { ImageEngine } from './images';
import { Identity, type SimUserSpec } from './keystone';
import type { ServiceName } from './model';
import { NetworkEngine } from './network';
import { Clock, type Store } from './state';
import type { OpenStackTimings } from './timings';
import type { Rng } from './util';
import { countBy } from './util';

export interface SimStateSummary {
  servers: {
    total: number;
    byStatus: Record<string, number>;
    items: { id: string; name: string; status: string; taskState: string | null; projectId: string; flavorId: string; imageId: string; portIds: string[] }[];
  };
  images: {
    total: number;
    byStatus: Record<string, number>;
    items: { id: string; name: string | null; status: string; visibility: string; owner: string; size: number | null; checksum: string | null; snapshotOf: string | null }[];
  };
  stacks: {
    total: number;
    byStatus: Record<string, number>;
    items: { id: string; name: string; status: string; projectId: string; resources: number }[];
  };
  networks: { total: number; items: { id: string; name: string; projectId: string; subnetIds: string[] }[] };
  subnets: { total: number; items: { id: string; name: string; networkId: string; cidr: string }[] };
  routers: { total: number; items: { id: string; name: string; projectId: string; externalNetworkId: string | null; interfaces: number }[] };
  ports: { total: number; items: { id: string; networkId: string; deviceId: string; deviceOwner: string; fixedIps: string[] }[] };
  floatingIps: { total: number; items: { id: string; address: string; portId: string | null }[] };
  keypairs: { total: number; items: { name: string; userId: string }[] };
  tokens: { issued: number; active: number; revoked: number };
  requests: { total: number; byService: Record<ServiceName | 'unknown', number>; byRoute: Record<string, number>; faulted: number };
  faults: { active: Fault[]; hits: number };
  outage: OutageMode | null;
}

export interface CloudOptions {
  log: Logger;
  rng: Rng;
  store: Store;
  timings: OpenStackTimings;
  dataDir: string;
  users: SimUserSpec[];
  tokenTtlSeconds: number;
  /** Prefix length of the seeded private network (10.0.0.0/N); default 24, as in a devstack. */
  privatePrefixLength?: number;
  /** The service inside each server (guests.ts); none when unset. */
  guests?: GuestOptions;
}

export class Cloud {
  /** Public base URL (set once the listener is up). */
  baseUrl = '';
  readonly region = 'RegionOne';
  readonly log: Logger;
  readonly rng: Rng;
  readonly store: Store;
  readonly clock: Clock;
  readonly faults: FaultInjector;
  timings: OpenStackTimings;
  readonly identity: Identity;
  readonly network: NetworkEngine;
  readonly images: ImageEngine;
  readonly compute: ComputeEngine;
  readonly heat: HeatEngine;
  readonly privatePrefixLength: number;
  readonly guests?: GuestServices;

  constructor(opts: CloudOptions) {
    this.privatePrefixLength = opts.privatePrefixLength ?? 24;
    this.log = opts.log;
    this.rng = opts.rng;
    this.store = opts.store;
    this.timings = opts.timings;
    this.clock = new Clock(opts.log);
    this.faults = new FaultInjector(opts.rng);
    this.identity = new Identity(this, opts.users, opts.tokenTtlSeconds);
    this.network = new NetworkEngine(this);
    this.images = new ImageEngine(this, opts.dataDir);
    this.compute = new ComputeEngine(this);
    this.heat = new HeatEngine(this);
    if (opts.guests?.ports.length) {
      this.guests = new GuestServices(opts.guests, opts.log.child({ component: 'openstack-sim-guests' }), (s) =>
        Object.values(this.network.addressesForServer(s))
          .flat()
          .filter((a) => a['OS-EXT-IPS:type'] === 'fixed')
          .map((a) => a.addr),
      );
    }
  }

  get urls() {
    const b = this.baseUrl;
    return {
      identity: `${b}/identity`,
      compute: `${b}/compute/v2.1`,
      image: `${b}/image`,
      orchestration: (projectId: string) => `${b}/heat-api/v1/${projectId}`,
      network: `${b}/networking`,
    };
  }

  /** Owner of the seeded networks and public images: the first admin user's project. */
  get cloudAdminProjectId(): string {
    const admin = [...this.identity.users.values()].find((u) => u.roles.includes('admin'));
    return admin?.projectId ?? [...this.identity.projects.keys()][0];
  }

  async seed(): Promise<void> {
    this.network.seed(this.cloudAdminProjectId);
    await this.images.seed(this.cloudAdminProjectId);
  }

  /** Resumes (or ends) the work that was in flight when the state file was written. */
  recover(): void {
    this.images.recover();
    this.compute.recover();
    this.heat.recover();
    for (const s of this.store.servers.values()) this.guests?.sync(s);
  }

  /** Empties the cloud, keeping users (and their tokens), flavors, seeded networks and images; clears faults and request counters. */
  async reset(): Promise<void> {
    await this.clock.restart();
    this.faults.reset();
    this.store.resetStats();
    this.compute.buildFailures = [];
    this.compute.quotas.clear();
    this.network.quotas.clear();
    for (const img of [...this.store.images.values()]) this.images.remove(img);
    for (const id of this.store.servers.keys()) this.guests?.remove(id);
    this.store.clearResources();
    await this.seed();
    this.store.changed();
  }

  summary(): SimStateSummary {
    const s = this.store;
    const now = Date.now();
    const servers = [...s.servers.values()];
    const images = [...s.images.values()];
    const stacks = [...s.stacks.values()];
    const tokens = [...s.tokens.values()];
    return {
      servers: {
        total: servers.length,
        byStatus: countBy(servers, serverStatus),
        items: servers.map((x) => ({ id: x.id, name: x.name, status: serverStatus(x), taskState: x.taskState, projectId: x.projectId, flavorId: x.flavorId, imageId: x.imageId, portIds: [...x.portIds] })),
      },
      images: {
        total: images.length,
        byStatus: countBy(images, (i) => i.status),
        items: images.map((i) => ({ id: i.id, name: i.name, status: i.status, visibility: i.visibility, owner: i.owner, size: i.size, checksum: i.checksum, snapshotOf: i.properties.instance_uuid ?? null })),
      },
      stacks: {
        total: stacks.length,
        byStatus: countBy(stacks, (x) => `${x.action}_${x.status}`),
        items: stacks.map((x) => ({ id: x.id, name: x.name, status: `${x.action}_${x.status}`, projectId: x.projectId, resources: Object.keys(x.resources).length })),
      },
      networks: { total: s.networks.size, items: [...s.networks.values()].map((n) => ({ id: n.id, name: n.name, projectId: n.projectId, subnetIds: [...n.subnetIds] })) },
      subnets: { total: s.subnets.size, items: [...s.subnets.values()].map((x) => ({ id: x.id, name: x.name, networkId: x.networkId, cidr: x.cidr })) },
      routers: {
        total: s.routers.size,
        items: [...s.routers.values()].map((r) => ({ id: r.id, name: r.name, projectId: r.projectId, externalNetworkId: r.externalGateway?.networkId ?? null, interfaces: this.network.routerInterfaces(r.id).length })),
      },
      ports: { total: s.ports.size, items: [...s.ports.values()].map((p) => ({ id: p.id, networkId: p.networkId, deviceId: p.deviceId, deviceOwner: p.deviceOwner, fixedIps: p.fixedIps.map((f) => f.ipAddress) })) },
      floatingIps: { total: s.floatingIps.size, items: [...s.floatingIps.values()].map((f) => ({ id: f.id, address: f.floatingIpAddress, portId: f.portId })) },
      keypairs: { total: s.keypairs.size, items: [...s.keypairs.values()].map((k) => ({ name: k.name, userId: k.userId })) },
      tokens: { issued: s.tokensIssued, active: tokens.filter((t) => !t.revoked && t.expiresAt > now).length, revoked: tokens.filter((t) => t.revoked).length },
      requests: { total: s.stats.total, byService: { ...s.stats.byService }, byRoute: { ...s.stats.byRoute }, faulted: s.stats.faulted },
      faults: { active: this.faults.list(), hits: this.faults.totalHits },
      outage: this.faults.outage,
    };
  }
}
