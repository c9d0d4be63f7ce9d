/**
 * The simulated Neutron's domain logic: a seeded `private` tenant network (shared) and an
 * external `public` network, networks, subnets and routers that projects create and delete (with
 * Neutron's validation, conflicts and network quotas), ports with MAC and fixed-IP allocation,
 * floating IPs (reachable through a router whose gateway is on their external network), and each
 * project's `default` security group. Nova and Heat use it directly; neutron.ts is its HTTP face.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, conflict, notFound } from './errors';
import type { AuthContext, FixedIp, FloatingIp, Network, Port, Router, SecurityGroup, Server, Subnet } from './model';
import { stableUuid } from './util';

export const PRIVATE_NETWORK = 'private';
export const PUBLIC_NETWORK = 'public';

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`invalid IPv4 address ${ip}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function isIpv4(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    ipToInt(s);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 CIDR as numbers: the network address, the prefix length and the broadcast address. */
export interface ParsedCidr {
  network: number;
  bits: number;
  broadcast: number;
  /** Canonical text, e.g. "10.5.0.0/24" (host bits cleared). */
  text: string;
}

/** Parses "a.b.c.d/n" (IPv4); undefined when it is not one. Host bits are cleared, as Neutron's IPAM does. */
export function parseCidr(s: unknown): ParsedCidr | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(s.trim());
  if (!m || !isIpv4(m[1])) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const network = (ipToInt(m[1]) & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { network, bits, broadcast, text: `${intToIp(network)}/${bits}` };
}

export function cidrsOverlap(a: ParsedCidr, b: ParsedCidr): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}

/** Neutron's network quotas (neutron.conf [quotas] defaults); -1 is unlimited. */
export const NETWORK_QUOTA_DEFAULTS = {
  network: 100,
  subnet: 100,
  subnetpool: -1,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  rbac_policy: 10,
};
export type NetworkQuotaKey = keyof typeof NETWORK_QUOTA_DEFAULTS;
export type NetworkQuota = Record<NetworkQuotaKey, number>;
export const NETWORK_QUOTA_KEYS = Object.keys(NETWORK_QUOTA_DEFAULTS) as NetworkQuotaKey[];

export interface NetworkRequest {
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  shared?: boolean;
  external?: boolean;
  mtu?: number;
}

export interface SubnetRequest {
  networkId: string;
  cidr: unknown;
  name?: string;
  description?: string;
  /** undefined: the first address of the range; null: no gateway. */
  gatewayIp?: unknown;
  allocationPools?: unknown;
  dnsNameservers?: unknown;
  enableDhcp?: boolean;
}

export interface RouterRequest {
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  /** undefined: no gateway; otherwise the external network to reach. */
  externalGateway?: { networkId: string; enableSnat?: boolean } | null;
}

/** What add/remove_router_interface answer (RouterInterfaceInfo). */
export interface RouterInterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

export const ROUTER_INTERFACE = 'network:router_interface';
export const ROUTER_GATEWAY = 'network:router_gateway';

export interface PortRequest {
  networkId: string;
  name?: string;
  description?: string;
  fixedIps?: { subnetId?: string; ipAddress?: string }[];
  deviceId?: string;
  deviceOwner?: string;
  securityGroupIds?: string[];
  adminStateUp?: boolean;
}

export class NetworkEngine {
  /** Per-project overrides of NETWORK_QUOTA_DEFAULTS (PUT /v2.0/quotas, PATCH /_sim/quotas). */
  readonly quotas = new Map<string, Partial<NetworkQuota>>();

  constructor(private readonly cloud: Cloud) {}

  private get store() {
    return this.cloud.store;
  }

  /** The shared router every floating IP goes through (there is one in a devstack too). */
  get routerId(): string {
    return stableUuid('router:router1');
  }

  seed(ownerProjectId: string): void {
    const now = Date.now();
    const mk = (name: string, external: boolean, cidr: string, gateway: string, start: string, end: string) => {
      const net: Network = {
        id: stableUuid(`network:${name}`),
        name,
        projectId: ownerProjectId,
        shared: !external,
        external,
        mtu: external ? 1500 : 1442,
        subnetIds: [],
        createdAt: now,
        updatedAt: now,
        revision: 1,
      };
      const subnet: Subnet = {
        id: stableUuid(`subnet:${name}-subnet`),
        name: `${name}-subnet`,
        networkId: net.id,
        projectId: ownerProjectId,
        cidr,
        gatewayIp: gateway,
        allocationPools: [{ start, end }],
        dnsNameservers: [],
        createdAt: now,
        updatedAt: now,
        revision: 0,
      };
      net.subnetIds.push(subnet.id);
      this.store.networks.set(net.id, net);
      this.store.subnets.set(subnet.id, subnet);
    };
    const bits = this.cloud.privatePrefixLength;
    mk(PRIVATE_NETWORK, false, `10.0.0.0/${bits}`, '10.0.0.1', '10.0.0.2', intToIp(ipToInt('10.0.0.0') + 2 ** (32 - bits) - 2));
    mk(PUBLIC_NETWORK, true, '172.24.4.0/24', '172.24.4.1', '172.24.4.2', '172.24.4.254');
  }

  canSeeNetwork(auth: AuthContext, n: Network): boolean {
    return auth.isAdmin || n.shared || n.external || n.projectId === auth.projectId;
  }

  canSeeOwned(auth: AuthContext, owned: { projectId: string }): boolean {
    return auth.isAdmin || owned.projectId === auth.projectId;
  }

  /** A network the caller can use, by id or (unique) name. */
  findNetwork(auth: AuthContext, ref: string): Network | undefined {
    const byId = this.store.networks.get(ref);
    if (byId && this.canSeeNetwork(auth, byId)) return byId;
    const named = [...this.store.networks.values()].filter((n) => n.name === ref && this.canSeeNetwork(auth, n));
    return named.length === 1 ? named[0] : undefined;
  }

  /**
   * The network "auto" allocation uses, as Nova picks it: the project's own (non-shared) networks
   * plus the shared ones; more than one is 409 NetworkAmbiguous, none is undefined. External
   * networks are left out (a devstack admin would otherwise always be ambiguous).
   */
  autoNetwork(auth: AuthContext): Network | undefined {
    const nets = [...this.store.networks.values()].filter((n) => !n.external);
    const candidates = [...nets.filter((n) => n.projectId === auth.projectId && !n.shared), ...nets.filter((n) => n.shared)];
    if (candidates.length > 1) throw conflict('Multiple possible networks found, use a Network ID to be more specific.');
    return candidates[0];
  }

  private usedIps(subnetId: string): Set<string> {
    const used = new Set<string>();
    for (const p of this.store.ports.values()) for (const f of p.fixedIps) if (f.subnetId === subnetId) used.add(f.ipAddress);
    for (const f of this.store.floatingIps.values()) used.add(f.floatingIpAddress);
    return used;
  }

  private inSubnet(subnet: Subnet, ip: string): boolean {
    const [base, bits] = subnet.cidr.split('/');
    const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
    return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(base) & mask) >>> 0);
  }

  private allocateIp(subnet: Subnet, requested?: string): string {
    const used = this.usedIps(subnet.id);
    if (requested !== undefined) {
      if (!isIpv4(requested) || !this.inSubnet(subnet, requested)) {
        throw badRequest(`IP address ${String(requested)} is not a valid IP for the specified subnet.`, 'InvalidIpForSubnet');
      }
      if (used.has(requested) || requested === subnet.gatewayIp) {
        throw conflict(`IP address ${requested} already allocated in subnet ${subnet.id}`, 'IpAddressAlreadyAllocated');
      }
      return requested;
    }
    for (const pool of subnet.allocationPools) {
      for (let n = ipToInt(pool.start); n <= ipToInt(pool.end); n++) {
        const ip = intToIp(n);
        if (!used.has(ip) && ip !== subnet.gatewayIp) return ip;
      }
    }
    throw conflict(`No more IP addresses available on network ${subnet.networkId}.`, 'IpAddressGenerationFailure');
  }

  macAddress(): string {
    const b = this.cloud.rng.bytes(3);
    return `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  }

  defaultSecurityGroup(projectId: string): SecurityGroup {
    const existing = [...this.store.securityGroups.values()].find((g) => g.projectId === projectId && g.name === 'default');
    if (existing) return existing;
    const now = Date.now();
    const rule = (direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6', remoteGroupId: string | null) => ({
      id: this.cloud.rng.uuid(),
      direction,
      ethertype,
      protocol: null,
      portRangeMin: null,
      portRangeMax: null,
      remoteIpPrefix: null,
      remoteGroupId,
    });
    const id = this.cloud.rng.uuid();
    const sg: SecurityGroup = {
      id,
      name: 'default',
      projectId,
      description: 'Default security group',
      rules: [rule('egress', 'IPv4', null), rule('egress', 'IPv6', null), rule('ingress', 'IPv4', id), rule('ingress', 'IPv6', id)],
      createdAt: now,
      updatedAt: now,
    };
    this.store.securityGroups.set(id, sg);
    this.store.changed();
    return sg;
  }

  /** Security group ids by name or id for a project; unknown → 404 SecurityGroupNotFound. */
  resolveSecurityGroups(projectId: string, refs: string[]): string[] {
    this.defaultSecurityGroup(projectId);
    return refs.map((ref) => {
      const g = this.store.securityGroups.get(ref) ?? [...this.store.securityGroups.values()].find((x) => x.projectId === projectId && x.name === ref);
      if (!g || g.projectId !== projectId) throw notFound(`Security group ${ref} does not exist`, 'SecurityGroupNotFound');
      return g.id;
    });
  }

  createPort(projectId: string, req: PortRequest): Port {
    const net = this.store.networks.get(req.networkId);
    if (!net) throw notFound(`Network ${req.networkId} could not be found.`, 'NetworkNotFound');
    const fixedIps: FixedIp[] = [];
    // A network without subnets gives its ports no address, as in Neutron.
    const wanted = req.fixedIps && req.fixedIps.length ? req.fixedIps : net.subnetIds.length ? [{}] : [];
    for (const want of wanted) {
      let subnet: Subnet | undefined;
      if (want.subnetId) {
        subnet = this.store.subnets.get(want.subnetId);
        if (!subnet || subnet.networkId !== net.id) throw badRequest(`Invalid input for operation: Failed to create port on network ${net.id}, because fixed_ips included invalid subnet ${want.subnetId}.`, 'InvalidInput');
      } else if (want.ipAddress) {
        subnet = net.subnetIds.map((id) => this.store.subnets.get(id)!).find((s) => isIpv4(want.ipAddress) && this.inSubnet(s, want.ipAddress!));
        if (!subnet) throw badRequest(`Invalid input for operation: IP address ${want.ipAddress} is not a valid IP for any of the subnets on the specified network.`, 'InvalidInput');
      } else {
        subnet = this.store.subnets.get(net.subnetIds[0]);
      }
      if (!subnet) throw badRequest(`Network ${net.id} has no subnet.`, 'InvalidInput');
      const ip = this.allocateIp(subnet, want.ipAddress);
      if (fixedIps.some((f) => f.ipAddress === ip)) throw conflict(`IP address ${ip} already allocated in subnet ${subnet.id}`, 'IpAddressAlreadyAllocated');
      fixedIps.push({ subnetId: subnet.id, ipAddress: ip });
    }
    const now = Date.now();
    const port: Port = {
      id: this.cloud.rng.uuid(),
      name: req.name ?? '',
      networkId: net.id,
      projectId,
      macAddress: this.macAddress(),
      fixedIps,
      deviceId: req.deviceId ?? '',
      deviceOwner: req.deviceOwner ?? '',
      status: 'DOWN',
      securityGroupIds: req.securityGroupIds ?? (net.external ? [] : [this.defaultSecurityGroup(projectId).id]),
      adminStateUp: req.adminStateUp ?? true,
      description: req.description ?? '',
      createdAt: now,
      updatedAt: now,
      revision: 1,
    };
    this.store.ports.set(port.id, port);
    this.store.changed();
    return port;
  }

  /** Deletes a port: floating IPs on it are disassociated and servers forget it. */
  deletePort(id: string): void {
    const port = this.store.ports.get(id);
    if (!port) return;
    for (const f of this.store.floatingIps.values()) {
      if (f.portId === id) this.setFloatingPort(f, null);
    }
    if (port.deviceId) {
      const server = this.store.servers.get(port.deviceId);
      if (server) {
        server.portIds = server.portIds.filter((p) => p !== id);
        server.ownedPortIds = server.ownedPortIds.filter((p) => p !== id);
      }
    }
    this.store.ports.delete(id);
    this.store.changed();
  }

  bindPort(port: Port, server: Server): void {
    port.deviceId = server.id;
    port.deviceOwner = `compute:${server.availabilityZone}`;
    port.status = 'BUILD';
    port.updatedAt = Date.now();
    port.revision++;
  }

  unbindPort(port: Port): void {
    port.deviceId = '';
    port.deviceOwner = '';
    port.status = 'DOWN';
    port.updatedAt = Date.now();
    port.revision++;
  }

  setPortsStatus(server: Server, status: Port['status']): void {
    for (const id of server.portIds) {
      const p = this.store.ports.get(id);
      if (p && p.status !== status) {
        p.status = status;
        p.updatedAt = Date.now();
        p.revision++;
      }
    }
  }

  createFloatingIp(projectId: string, req: { floatingNetworkId: string; portId?: string | null; fixedIpAddress?: string | null; floatingIpAddress?: string; description?: string }): FloatingIp {
    const net = this.store.networks.get(req.floatingNetworkId);
    if (!net) throw notFound(`Network ${req.floatingNetworkId} could not be found.`, 'NetworkNotFound');
    if (!net.external) throw badRequest(`Bad floatingip request: Network ${net.id} is not a valid external network.`, 'BadRequest');
    const subnet = this.store.subnets.get(net.subnetIds[0])!;
    const address = this.allocateIp(subnet, req.floatingIpAddress);
    const now = Date.now();
    const fip: FloatingIp = {
      id: this.cloud.rng.uuid(),
      projectId,
      floatingNetworkId: net.id,
      floatingIpAddress: address,
      portId: null,
      fixedIpAddress: null,
      routerId: null,
      description: req.description ?? '',
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    if (req.portId) this.checkAssociation(fip, req.portId, req.fixedIpAddress ?? undefined);
    this.store.floatingIps.set(fip.id, fip);
    if (req.portId) this.setFloatingPort(fip, req.portId, req.fixedIpAddress ?? undefined);
    this.store.changed();
    return fip;
  }

  /** Throws the Neutron error an association of `fip` with `portId` would meet. */
  checkAssociation(fip: FloatingIp, portId: string, fixedIp?: string): void {
    const port = this.store.ports.get(portId);
    if (!port || port.projectId !== fip.projectId) throw notFound(`Port ${portId} could not be found.`, 'PortNotFound');
    const net = this.store.networks.get(port.networkId);
    if (net?.external) throw badRequest(`Bad floatingip request: Port ${portId} is on the external network.`, 'BadRequest');
    if (port.fixedIps.length === 0) throw badRequest(`Bad floatingip request: Port ${portId} does not have any fixed IP addresses.`, 'BadRequest');
    if (fixedIp && !port.fixedIps.some((f) => f.ipAddress === fixedIp)) {
      throw badRequest(`Bad floatingip request: Port ${portId} does not have fixed ip ${fixedIp}.`, 'BadRequest');
    }
    this.floatingRouter(port, fip.floatingNetworkId);
    const ip = fixedIp ?? port.fixedIps[0].ipAddress;
    const other = [...this.store.floatingIps.values()].find((f) => f.id !== fip.id && f.portId === portId && f.fixedIpAddress === ip);
    if (other) {
      throw conflict(
        `Cannot associate floating IP ${fip.floatingIpAddress} (${fip.id}) with port ${portId} using fixed IP ${ip}, as that fixed IP already has a floating IP on external network ${other.floatingNetworkId}.`,
        'FloatingIPPortAlreadyAssociated',
      );
    }
  }

  setFloatingPort(fip: FloatingIp, portId: string | null, fixedIp?: string): void {
    if (portId) {
      const port = this.store.ports.get(portId)!;
      fip.portId = portId;
      fip.fixedIpAddress = fixedIp ?? port.fixedIps[0].ipAddress;
      fip.routerId = this.floatingRouter(port, fip.floatingNetworkId);
    } else {
      fip.portId = null;
      fip.fixedIpAddress = null;
      fip.routerId = null;
    }
    fip.updatedAt = Date.now();
    fip.revision++;
    this.store.changed();
  }

  deleteFloatingIp(id: string): void {
    this.store.floatingIps.delete(id);
    this.store.changed();
  }

  floatingStatus(fip: FloatingIp): 'ACTIVE' | 'DOWN' {
    return fip.portId ? 'ACTIVE' : 'DOWN';
  }

  /** Nova's `addresses`: per network name, fixed IPs then floating IPs of each port. */
  addressesForServer(server: Server): Record<string, { addr: string; version: number; 'OS-EXT-IPS:type': 'fixed' | 'floating'; 'OS-EXT-IPS-MAC:mac_addr': string }[]> {
    const out: Record<string, { addr: string; version: number; 'OS-EXT-IPS:type': 'fixed' | 'floating'; 'OS-EXT-IPS-MAC:mac_addr': string }[]> = {};
    for (const portId of server.portIds) {
      const port = this.store.ports.get(portId);
      if (!port) continue;
      const net = this.store.networks.get(port.networkId);
      const list = (out[net?.name ?? port.networkId] ??= []);
      for (const f of port.fixedIps) list.push({ addr: f.ipAddress, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.macAddress });
      for (const fip of this.store.floatingIps.values()) {
        if (fip.portId === port.id) list.push({ addr: fip.floatingIpAddress, version: 4, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': port.macAddress });
      }
    }
    return out;
  }

  // ---- networks, subnets, routers (created and deleted by projects) ----

  quota(projectId: string): NetworkQuota {
    return { ...NETWORK_QUOTA_DEFAULTS, ...(this.quotas.get(projectId) ?? {}) };
  }

  usage(projectId: string): NetworkQuota {
    const count = <T extends { projectId: string }>(m: Map<string, T>) => [...m.values()].filter((x) => x.projectId === projectId).length;
    const groups = [...this.store.securityGroups.values()].filter((g) => g.projectId === projectId);
    return {
      network: count(this.store.networks),
      subnet: count(this.store.subnets),
      subnetpool: 0,
      port: count(this.store.ports),
      router: count(this.store.routers),
      floatingip: count(this.store.floatingIps),
      security_group: groups.length,
      security_group_rule: groups.reduce((n, g) => n + g.rules.length, 0),
      rbac_policy: 0,
    };
  }

  /** Neutron's OverQuota (409) when one more `resource` would exceed the project's limit. */
  private checkQuota(projectId: string, resource: NetworkQuotaKey): void {
    const limit = this.quota(projectId)[resource];
    if (limit >= 0 && this.usage(projectId)[resource] >= limit) throw conflict(`Quota exceeded for resources: ['${resource}'].`, 'OverQuota');
  }

  createNetwork(projectId: string, req: NetworkRequest): Network {
    this.checkQuota(projectId, 'network');
    const now = Date.now();
    const net: Network = {
      id: this.cloud.rng.uuid(),
      name: req.name ?? '',
      projectId,
      shared: req.shared ?? false,
      external: req.external ?? false,
      mtu: req.mtu ?? (req.external ? 1500 : 1442),
      subnetIds: [],
      description: req.description ?? '',
      adminStateUp: req.adminStateUp ?? true,
      createdAt: now,
      updatedAt: now,
      revision: 1,
    };
    this.store.networks.set(net.id, net);
    this.store.changed();
    return net;
  }

  /** Deletes a network and its subnets; 409 NetworkInUse while ports (router interfaces too) or floating IPs use it. */
  deleteNetwork(id: string): void {
    const net = this.store.networks.get(id);
    if (!net) return;
    const inUse = [...this.store.ports.values()].some((p) => p.networkId === id && p.deviceOwner !== 'network:dhcp') || [...this.store.floatingIps.values()].some((f) => f.floatingNetworkId === id);
    if (inUse) throw conflict(`Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, 'NetworkInUse');
    for (const subnetId of net.subnetIds) this.store.subnets.delete(subnetId);
    this.store.networks.delete(id);
    this.store.changed();
  }

  /** Creates an IPv4 subnet, validated as Neutron does (CIDR, overlap on the network, gateway, pools, DNS). */
  createSubnet(projectId: string, req: SubnetRequest): Subnet {
    const net = this.store.networks.get(req.networkId);
    if (!net) throw notFound(`Network ${req.networkId} could not be found.`, 'NetworkNotFound');
    if (req.cidr === undefined || req.cidr === null) throw badRequest('Bad request: a cidr must be specified in the absence of a subnet pool', 'BadRequest');
    const cidr = parseCidr(req.cidr);
    if (!cidr) throw badRequest(`Invalid input for cidr. Reason: '${String(req.cidr)}' is not a valid IP subnet.`, 'HTTPBadRequest');
    if (cidr.bits < 8 || cidr.bits > 30) {
      throw badRequest(`Invalid input for cidr. Reason: '${cidr.text}' has a prefix length this cloud does not serve (IPv4 subnets from /8 to /30).`, 'HTTPBadRequest');
    }
    for (const other of net.subnetIds.map((s) => this.store.subnets.get(s)).filter((s): s is Subnet => !!s)) {
      if (cidrsOverlap(cidr, parseCidr(other.cidr)!)) {
        throw badRequest(`Invalid input for operation: Requested subnet with cidr: ${cidr.text} for network: ${net.id} overlaps with another subnet.`, 'InvalidInput');
      }
    }
    const first = cidr.network + 1;
    const last = cidr.broadcast - 1;
    let gateway: number | null;
    if (req.gatewayIp === undefined) gateway = first;
    else if (req.gatewayIp === null) gateway = null;
    else {
      if (!isIpv4(req.gatewayIp)) throw badRequest(`Invalid input for gateway_ip. Reason: '${String(req.gatewayIp)}' is not a valid IP address.`, 'HTTPBadRequest');
      gateway = ipToInt(req.gatewayIp);
      if (gateway < first || gateway > last) throw badRequest('Invalid input for operation: Gateway is not valid on subnet.', 'InvalidInput');
    }
    let pools: { start: number; end: number }[];
    if (req.allocationPools === undefined || req.allocationPools === null) {
      // Neutron's default: the whole range except the gateway, split around it.
      pools = gateway === null ? [{ start: first, end: last }] : [{ start: first, end: gateway - 1 }, { start: gateway + 1, end: last }].filter((p) => p.start <= p.end);
    } else {
      if (!Array.isArray(req.allocationPools)) throw badRequest(`Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '${JSON.stringify(req.allocationPools)}'.`, 'HTTPBadRequest');
      pools = req.allocationPools.map((p: unknown) => {
        const pool = p as Record<string, unknown> | null;
        if (!pool || typeof pool !== 'object' || !isIpv4(pool.start) || !isIpv4(pool.end)) {
          throw badRequest(`Invalid input for allocation_pools. Reason: Invalid data format for IP pool: '${JSON.stringify(p)}'.`, 'HTTPBadRequest');
        }
        const start = ipToInt(pool.start);
        const end = ipToInt(pool.end);
        if (start > end) throw badRequest(`The allocation pool ${pool.start}-${pool.end} is not valid.`, 'InvalidAllocationPool');
        if (start < first || end > last) throw badRequest(`The allocation pool ${pool.start}-${pool.end} spans beyond the subnet cidr ${cidr.text}.`, 'OutOfBoundsAllocationPool');
        return { start, end };
      });
      const sorted = [...pools].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i].start <= sorted[i - 1].end) {
          throw badRequest(
            `Found overlapping allocation pools: ${intToIp(sorted[i - 1].start)}-${intToIp(sorted[i - 1].end)} and ${intToIp(sorted[i].start)}-${intToIp(sorted[i].end)} for subnet ${cidr.text}.`,
            'OverlappingAllocationPools',
          );
        }
      }
      const clash = gateway === null ? undefined : pools.find((p) => gateway! >= p.start && gateway! <= p.end);
      if (clash) throw conflict(`Gateway ip ${intToIp(gateway!)} conflicts with allocation pool ${intToIp(clash.start)}-${intToIp(clash.end)}`, 'GatewayConflictWithAllocationPools');
    }
    let dns: string[] = [];
    if (req.dnsNameservers !== undefined && req.dnsNameservers !== null) {
      if (!Array.isArray(req.dnsNameservers) || !req.dnsNameservers.every(isIpv4)) {
        throw badRequest(`Invalid input for dns_nameservers. Reason: '${JSON.stringify(req.dnsNameservers)}' is not a list of IP addresses.`, 'HTTPBadRequest');
      }
      dns = [...(req.dnsNameservers as string[])];
    }
    this.checkQuota(projectId, 'subnet');
    const now = Date.now();
    const subnet: Subnet = {
      id: this.cloud.rng.uuid(),
      name: req.name ?? '',
      networkId: net.id,
      projectId,
      cidr: cidr.text,
      gatewayIp: gateway === null ? null : intToIp(gateway),
      allocationPools: pools.map((p) => ({ start: intToIp(p.start), end: intToIp(p.end) })),
      dnsNameservers: dns,
      enableDhcp: req.enableDhcp ?? true,
      description: req.description ?? '',
      createdAt: now,
      updatedAt: now,
      revision: 0,
    };
    this.store.subnets.set(subnet.id, subnet);
    net.subnetIds.push(subnet.id);
    net.updatedAt = now;
    net.revision++;
    this.store.changed();
    return subnet;
  }

  /** 409 SubnetInUse while any port (a router interface too) holds an address from it. */
  deleteSubnet(id: string): void {
    const subnet = this.store.subnets.get(id);
    if (!subnet) return;
    if ([...this.store.ports.values()].some((p) => p.fixedIps.some((f) => f.subnetId === id))) {
      throw conflict(`Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`, 'SubnetInUse');
    }
    this.store.subnets.delete(id);
    const net = this.store.networks.get(subnet.networkId);
    if (net) {
      net.subnetIds = net.subnetIds.filter((s) => s !== id);
      net.updatedAt = Date.now();
      net.revision++;
    }
    this.store.changed();
  }

  /** A port record made here (router ports: their address is the gateway, which allocateIp keeps back). */
  private addPort(fields: Pick<Port, 'networkId' | 'projectId' | 'fixedIps' | 'deviceId' | 'deviceOwner'>): Port {
    const now = Date.now();
    const port: Port = {
      id: this.cloud.rng.uuid(),
      name: '',
      macAddress: this.macAddress(),
      status: 'ACTIVE',
      securityGroupIds: [],
      adminStateUp: true,
      description: '',
      createdAt: now,
      updatedAt: now,
      revision: 1,
      ...fields,
    };
    this.store.ports.set(port.id, port);
    return port;
  }

  createRouter(projectId: string, req: RouterRequest): Router {
    this.checkQuota(projectId, 'router');
    if (req.externalGateway) this.externalNetwork(req.externalGateway.networkId);
    const now = Date.now();
    const router: Router = {
      id: this.cloud.rng.uuid(),
      name: req.name ?? '',
      projectId,
      description: req.description ?? '',
      adminStateUp: req.adminStateUp ?? true,
      externalGateway: null,
      createdAt: now,
      updatedAt: now,
      revision: 1,
    };
    this.store.routers.set(router.id, router);
    if (req.externalGateway) this.setRouterGateway(router, req.externalGateway);
    this.store.changed();
    return router;
  }

  private externalNetwork(id: string): Network {
    const net = this.store.networks.get(id);
    if (!net) throw notFound(`Network ${id} could not be found.`, 'NetworkNotFound');
    if (!net.external) throw badRequest(`Bad router request: Network ${id} is not an external network.`, 'BadRequest');
    return net;
  }

  /** Sets (a port on the external network) or clears the router's gateway. */
  setRouterGateway(router: Router, gw: { networkId: string; enableSnat?: boolean } | null): void {
    const current = router.externalGateway;
    if (current && (!gw || gw.networkId !== current.networkId) && [...this.store.floatingIps.values()].some((f) => f.routerId === router.id)) {
      throw conflict(
        `Gateway cannot be updated for router ${router.id}, since a gateway to external network ${current.networkId} is required by one or more floating IPs.`,
        'RouterExternalGatewayInUseByFloatingIp',
      );
    }
    if (gw && current && gw.networkId === current.networkId) {
      current.enableSnat = gw.enableSnat ?? current.enableSnat;
    } else {
      const net = gw ? this.externalNetwork(gw.networkId) : undefined;
      if (current) this.store.ports.delete(current.portId);
      router.externalGateway = null;
      if (net) {
        const subnet = this.store.subnets.get(net.subnetIds[0]);
        const fixedIps = subnet ? [{ subnetId: subnet.id, ipAddress: this.allocateIp(subnet) }] : [];
        const port = this.addPort({ networkId: net.id, projectId: '', fixedIps, deviceId: router.id, deviceOwner: ROUTER_GATEWAY });
        router.externalGateway = { networkId: net.id, enableSnat: gw!.enableSnat ?? true, portId: port.id };
      }
    }
    router.updatedAt = Date.now();
    router.revision++;
    this.store.changed();
  }

  /** The router's interface ports. */
  routerInterfaces(routerId: string): Port[] {
    return [...this.store.ports.values()].filter((p) => p.deviceId === routerId && p.deviceOwner === ROUTER_INTERFACE);
  }

  /** 409 RouterInUse while the router has interfaces; its gateway port goes with it. */
  deleteRouter(id: string): void {
    const router = this.store.routers.get(id);
    if (!router) return;
    if (this.routerInterfaces(id).length) throw conflict(`Router ${id} still has ports`, 'RouterInUse');
    if (router.externalGateway) this.store.ports.delete(router.externalGateway.portId);
    this.store.routers.delete(id);
    this.store.changed();
  }

  private interfaceInfo(router: Router, port: Port): RouterInterfaceInfo {
    const subnetIds = port.fixedIps.map((f) => f.subnetId);
    return { id: router.id, tenant_id: router.projectId, project_id: router.projectId, port_id: port.id, network_id: port.networkId, subnet_id: subnetIds[0] ?? '', subnet_ids: subnetIds };
  }

  /** add_router_interface by subnet (a new port with the subnet's gateway address) or by an unbound port. */
  addRouterInterface(auth: AuthContext, router: Router, req: { subnetId?: string; portId?: string }): RouterInterfaceInfo {
    if (req.subnetId && req.portId) throw badRequest('Bad router request: Cannot specify both subnet-id and port-id.', 'BadRequest');
    if (!req.subnetId && !req.portId) throw badRequest('Bad router request: Either subnet_id or port_id must be specified.', 'BadRequest');
    const attached = this.routerInterfaces(router.id).flatMap((p) => p.fixedIps.map((f) => this.store.subnets.get(f.subnetId)).filter((s): s is Subnet => !!s));
    const checkOverlap = (subnet: Subnet) => {
      if (attached.some((s) => s.id === subnet.id)) throw badRequest(`Bad router request: Router already has a port on subnet ${subnet.id}.`, 'BadRequest');
      const cidr = parseCidr(subnet.cidr)!;
      const clash = attached.find((s) => cidrsOverlap(cidr, parseCidr(s.cidr)!));
      if (clash) throw badRequest(`Bad router request: Cidr ${subnet.cidr} of subnet ${subnet.id} overlaps with cidr ${clash.cidr} of subnet ${clash.id}.`, 'BadRequest');
    };
    let port: Port;
    if (req.subnetId) {
      const subnet = this.store.subnets.get(req.subnetId);
      const net = subnet && this.store.networks.get(subnet.networkId);
      if (!subnet || !net || !this.canSeeNetwork(auth, net)) throw notFound(`Subnet ${req.subnetId} could not be found.`, 'SubnetNotFound');
      if (net.external) throw badRequest(`Bad router request: Router interface ${subnet.id} cannot be on the external network ${net.id}.`, 'BadRequest');
      if (!subnet.gatewayIp) throw badRequest(`Bad router request: Subnet for router interface must have a gateway IP.`, 'BadRequest');
      checkOverlap(subnet);
      const gatewayIp = subnet.gatewayIp;
      if ([...this.store.ports.values()].some((p) => p.fixedIps.some((f) => f.subnetId === subnet.id && f.ipAddress === gatewayIp))) {
        throw conflict(`IP address ${gatewayIp} already allocated in subnet ${subnet.id}`, 'IpAddressAlreadyAllocated');
      }
      port = this.addPort({ networkId: net.id, projectId: router.projectId, fixedIps: [{ subnetId: subnet.id, ipAddress: gatewayIp }], deviceId: router.id, deviceOwner: ROUTER_INTERFACE });
    } else {
      const p = this.store.ports.get(req.portId!);
      if (!p || !this.canSeeOwned(auth, p)) throw this.portNotFound(req.portId!);
      if (p.deviceId) throw conflict(`Unable to complete operation on port ${p.id} for network ${p.networkId}. Port already has an attached device ${p.deviceId}.`, 'PortInUse');
      if (!p.fixedIps.length) throw badRequest('Bad router request: Router port must have at least one fixed IP.', 'BadRequest');
      for (const f of p.fixedIps) checkOverlap(this.store.subnets.get(f.subnetId)!);
      p.deviceId = router.id;
      p.deviceOwner = ROUTER_INTERFACE;
      p.status = 'ACTIVE';
      p.securityGroupIds = [];
      p.updatedAt = Date.now();
      p.revision++;
      port = p;
    }
    router.updatedAt = Date.now();
    router.revision++;
    this.store.changed();
    return this.interfaceInfo(router, port);
  }

  /** remove_router_interface by subnet or port; the interface port is deleted. 409 while floating IPs need it. */
  removeRouterInterface(router: Router, req: { subnetId?: string; portId?: string }): RouterInterfaceInfo {
    if (!req.subnetId && !req.portId) throw badRequest('Bad router request: Either subnet_id or port_id must be specified.', 'BadRequest');
    const ifaces = this.routerInterfaces(router.id);
    let port: Port | undefined;
    if (req.portId) {
      port = ifaces.find((p) => p.id === req.portId);
      if (!port) throw notFound(`Router ${router.id} does not have an interface with id ${req.portId}`, 'RouterInterfaceNotFound');
      if (req.subnetId && port.fixedIps[0]?.subnetId !== req.subnetId) throw conflict(`Subnet ${req.subnetId} is not the first subnet of port ${req.portId}.`, 'SubnetMismatchForPort');
    } else {
      port = ifaces.find((p) => p.fixedIps.some((f) => f.subnetId === req.subnetId));
      if (!port) throw notFound(`Router ${router.id} has no interface on subnet ${req.subnetId}`, 'RouterInterfaceNotFoundForSubnet');
    }
    const subnets = new Set(port.fixedIps.map((f) => f.subnetId));
    for (const fip of this.store.floatingIps.values()) {
      const target = fip.routerId === router.id && fip.portId ? this.store.ports.get(fip.portId) : undefined;
      const needed = target?.fixedIps.find((f) => subnets.has(f.subnetId));
      if (needed) {
        throw conflict(`Router interface for subnet ${needed.subnetId} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`, 'RouterInterfaceInUseByFloatingIP');
      }
    }
    const info = this.interfaceInfo(router, port);
    this.store.ports.delete(port.id);
    router.updatedAt = Date.now();
    router.revision++;
    this.store.changed();
    return info;
  }

  /**
   * The router a floating IP on `floatingNetworkId` reaches `port` through: devstack's router1
   * for the seeded private network, else a router with an interface on one of the port's subnets
   * and its gateway on that external network (Neutron's ExternalGatewayForFloatingIPNotFound otherwise).
   */
  floatingRouter(port: Port, floatingNetworkId: string): string {
    if (port.networkId === stableUuid(`network:${PRIVATE_NETWORK}`)) return this.routerId;
    const subnets = new Set(port.fixedIps.map((f) => f.subnetId));
    for (const r of this.store.routers.values()) {
      if (r.externalGateway?.networkId !== floatingNetworkId) continue;
      if (this.routerInterfaces(r.id).some((p) => p.fixedIps.some((f) => subnets.has(f.subnetId)))) return r.id;
    }
    throw notFound(
      `External network ${floatingNetworkId} is not reachable from subnet ${port.fixedIps[0]?.subnetId ?? ''}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
      'ExternalGatewayForFloatingIPNotFound',
    );
  }

  /** Neutron's error for a port that is not the caller's. */
  portNotFound(id: string): ApiError {
    return notFound(`Port ${id} could not be found.`, 'PortNotFound');
  }
}
