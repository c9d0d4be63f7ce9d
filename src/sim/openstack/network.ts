/**
 * The simulated Neutron's domain logic: a seeded `private` tenant network (shared) and an
 * external `public` network, ports with MAC and fixed-IP allocation, floating IPs, and each
 * project's `default` security group. Nova and Heat use it directly; neutron.ts is its HTTP face.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, conflict, notFound } from './errors';
import type { AuthContext, FixedIp, FloatingIp, Network, Port, SecurityGroup, Server, Subnet } from './model';
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

  /** The network "auto" allocation uses: the caller's own tenant network, else the shared one. */
  autoNetwork(auth: AuthContext): Network | undefined {
    const nets = [...this.store.networks.values()].filter((n) => !n.external && this.canSeeNetwork(auth, n));
    return nets.find((n) => n.projectId === auth.projectId && !n.shared) ?? nets.find((n) => n.shared);
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
    const wanted = req.fixedIps && req.fixedIps.length ? req.fixedIps : [{}];
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
      fip.routerId = this.routerId;
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

  /** Neutron's error for a port that is not the caller's. */
  portNotFound(id: string): ApiError {
    return notFound(`Port ${id} could not be found.`, 'PortNotFound');
  }
}
