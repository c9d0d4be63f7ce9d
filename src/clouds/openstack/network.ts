/**
 * Neutron (network v2.0): the calls the workflows need — networks, subnets, routers and ports by
 * filter, private networks made and removed idempotently (ensurePrivateNetwork /
 * deletePrivateNetwork: a retry finds what an earlier attempt made, by name), floating IPs and
 * network quotas. The catalog URL of `network` carries no version; `/v2.0` is added here.
 */
import { CloudApiError, responseCodeIs } from '../errors';
import { enc, runDelete, unwrap, versionPrefix, type DeleteOptions } from './envelope';
import { collectLinkedPages, nextHref, type Link } from './pagination';
import type { JsonResponse, OpenStackSession, QueryValue, RequestOptions } from './session';

export interface Network {
  id: string;
  name: string;
  status: string;
  admin_state_up?: boolean;
  shared?: boolean;
  subnets?: string[];
  project_id?: string;
  tenant_id?: string;
  'router:external'?: boolean;
  [extra: string]: unknown;
}

export interface Port {
  id: string;
  name: string;
  network_id: string;
  device_id: string;
  device_owner: string;
  mac_address: string;
  status: string;
  fixed_ips: Array<{ subnet_id: string; ip_address: string }>;
  [extra: string]: unknown;
}

export interface FloatingIp {
  id: string;
  floating_ip_address: string;
  floating_network_id: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id?: string | null;
  status: string;
  description?: string;
  project_id?: string;
  [extra: string]: unknown;
}

export interface CreateFloatingIpOptions {
  floating_network_id: string;
  port_id?: string;
  fixed_ip_address?: string;
  floating_ip_address?: string;
  description?: string;
  signal?: AbortSignal;
}

export interface Subnet {
  id: string;
  name: string;
  network_id: string;
  cidr: string;
  ip_version: number;
  gateway_ip: string | null;
  allocation_pools: Array<{ start: string; end: string }>;
  dns_nameservers: string[];
  enable_dhcp: boolean;
  project_id?: string;
  created_at?: string;
  [extra: string]: unknown;
}

export interface Router {
  id: string;
  name: string;
  status: string;
  admin_state_up: boolean;
  external_gateway_info: { network_id: string; enable_snat?: boolean; external_fixed_ips?: Array<{ subnet_id: string; ip_address: string }> } | null;
  project_id?: string;
  created_at?: string;
  [extra: string]: unknown;
}

/** What add_router_interface / remove_router_interface answer. */
export interface RouterInterfaceInfo {
  id: string;
  port_id: string;
  subnet_id: string;
  subnet_ids?: string[];
  network_id: string;
  project_id?: string;
  [extra: string]: unknown;
}

/** Neutron's per-project limits (-1 unlimited): network, subnet, port, router, floatingip, … */
export type NetworkQuota = Record<string, number>;

export interface CreateNetworkOptions {
  name: string;
  description?: string;
  admin_state_up?: boolean;
  mtu?: number;
  signal?: AbortSignal;
}

export interface CreateSubnetOptions {
  network_id: string;
  cidr: string;
  name?: string;
  description?: string;
  /** null: a subnet without gateway (it cannot be a router interface); omitted: the first address. */
  gateway_ip?: string | null;
  allocation_pools?: Array<{ start: string; end: string }>;
  dns_nameservers?: string[];
  enable_dhcp?: boolean;
  signal?: AbortSignal;
}

export interface CreateRouterOptions {
  name: string;
  description?: string;
  /** Network id of the external network the router's gateway is on. */
  external_network_id?: string;
  signal?: AbortSignal;
}

export interface PrivateNetworkSpec {
  /** Network name; the subnet is `<name>-subnet`, the router `<name>-router`. Make it unique per owner (a workflow id). */
  name: string;
  /** IPv4 CIDR of the subnet, e.g. 10.20.0.0/24. */
  cidr: string;
  gatewayIp?: string;
  dnsNameservers?: string[];
  /**
   * External network (name or id) for a router whose gateway is there, so floating IPs reach the
   * network's ports. Omitted or null: no router (the network is reachable only from inside).
   */
  externalNetwork?: string | null;
  description?: string;
  signal?: AbortSignal;
}

export interface PrivateNetwork {
  network: Network;
  subnet: Subnet;
  router?: Router;
}

/** Oldest first (created_at, then id): the one a retried create keeps using. */
function oldest<T extends { id: string; created_at?: string }>(items: T[]): T | undefined {
  return [...items].sort((a, b) => String(a.created_at ?? '').localeCompare(String(b.created_at ?? '')) || a.id.localeCompare(b.id))[0];
}

export class NetworkClient {
  constructor(private readonly session: OpenStackSession) {}

  private async call<T = unknown>(opts: Omit<RequestOptions, 'service' | 'stream'>): Promise<JsonResponse<T>> {
    const prefix = await versionPrefix(this.session, 'network', 'v2.0', opts.signal);
    return this.session.request<T>({ ...opts, service: 'network', path: `${prefix}${opts.path}` });
  }

  private list<T>(collection: string, filters: Record<string, QueryValue>, signal?: AbortSignal): Promise<T[]> {
    return collectLinkedPages(async (next) => {
      const res = await this.call<Record<string, unknown>>({ method: 'GET', path: `/${collection}`, query: next ?? filters, expected: [200], signal });
      return { items: unwrap<T[]>(res, collection), next: nextHref(res.json[`${collection}_links`] as Link[] | undefined) };
    });
  }

  /** GET /v2.0/networks?name= (Neutron filters by equality). */
  listNetworks(o: { name?: string; extra?: Record<string, QueryValue>; signal?: AbortSignal } = {}): Promise<Network[]> {
    return this.list<Network>('networks', { ...o.extra, name: o.name }, o.signal);
  }

  /** GET /v2.0/ports?device_id= (a server's ports). */
  listPorts(o: { device_id?: string; network_id?: string; extra?: Record<string, QueryValue>; signal?: AbortSignal } = {}): Promise<Port[]> {
    return this.list<Port>('ports', { ...o.extra, device_id: o.device_id, network_id: o.network_id }, o.signal);
  }

  /** GET /v2.0/floatingips with filters. */
  listFloatingIps(
    o: { port_id?: string; floating_ip_address?: string; floating_network_id?: string; extra?: Record<string, QueryValue>; signal?: AbortSignal } = {},
  ): Promise<FloatingIp[]> {
    return this.list<FloatingIp>(
      'floatingips',
      { ...o.extra, port_id: o.port_id, floating_ip_address: o.floating_ip_address, floating_network_id: o.floating_network_id },
      o.signal,
    );
  }

  /** GET /v2.0/networks/{id}. */
  async getNetwork(id: string, opts: { signal?: AbortSignal } = {}): Promise<Network> {
    const res = await this.call({ method: 'GET', path: `/networks/${enc(id)}`, expected: [200], signal: opts.signal });
    return unwrap<Network>(res, 'network');
  }

  /** POST /v2.0/networks → 201. Not idempotent by itself: see ensurePrivateNetwork. */
  async createNetwork(o: CreateNetworkOptions): Promise<Network> {
    const { signal, ...fields } = o;
    const network: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) network[k] = v;
    const res = await this.call({ method: 'POST', path: '/networks', json: { network }, expected: [201], signal });
    return unwrap<Network>(res, 'network');
  }

  /** DELETE /v2.0/networks/{id} → 204 (its subnets go with it); 409 NetworkInUse while ports use it. */
  deleteNetwork(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/networks/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }

  /** GET /v2.0/subnets?network_id=&name=. */
  listSubnets(o: { network_id?: string; name?: string; extra?: Record<string, QueryValue>; signal?: AbortSignal } = {}): Promise<Subnet[]> {
    return this.list<Subnet>('subnets', { ...o.extra, network_id: o.network_id, name: o.name }, o.signal);
  }

  /** POST /v2.0/subnets (IPv4) → 201. */
  async createSubnet(o: CreateSubnetOptions): Promise<Subnet> {
    const { signal, ...fields } = o;
    const subnet: Record<string, unknown> = { ip_version: 4 };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) subnet[k] = v;
    const res = await this.call({ method: 'POST', path: '/subnets', json: { subnet }, expected: [201], signal });
    return unwrap<Subnet>(res, 'subnet');
  }

  /** DELETE /v2.0/subnets/{id} → 204; 409 SubnetInUse while ports hold addresses from it. */
  deleteSubnet(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/subnets/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }

  /** GET /v2.0/routers?name=. */
  listRouters(o: { name?: string; extra?: Record<string, QueryValue>; signal?: AbortSignal } = {}): Promise<Router[]> {
    return this.list<Router>('routers', { ...o.extra, name: o.name }, o.signal);
  }

  /** POST /v2.0/routers → 201, with its gateway on `external_network_id` when given. */
  async createRouter(o: CreateRouterOptions): Promise<Router> {
    const router: Record<string, unknown> = { name: o.name };
    if (o.description !== undefined) router.description = o.description;
    if (o.external_network_id) router.external_gateway_info = { network_id: o.external_network_id };
    const res = await this.call({ method: 'POST', path: '/routers', json: { router }, expected: [201], signal: o.signal });
    return unwrap<Router>(res, 'router');
  }

  /** DELETE /v2.0/routers/{id} → 204; 409 RouterInUse while it has interfaces. */
  deleteRouter(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/routers/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }

  /** PUT /v2.0/routers/{id}/add_router_interface {subnet_id | port_id} → 200. */
  async addRouterInterface(routerId: string, iface: { subnet_id: string } | { port_id: string }, opts: { signal?: AbortSignal } = {}): Promise<RouterInterfaceInfo> {
    const res = await this.call<RouterInterfaceInfo>({ method: 'PUT', path: `/routers/${enc(routerId)}/add_router_interface`, json: iface, expected: [200], signal: opts.signal });
    return res.json;
  }

  /** PUT /v2.0/routers/{id}/remove_router_interface {subnet_id | port_id} → 200 (the interface port is deleted). */
  async removeRouterInterface(routerId: string, iface: { subnet_id: string } | { port_id: string }, opts: { signal?: AbortSignal } = {}): Promise<RouterInterfaceInfo> {
    const res = await this.call<RouterInterfaceInfo>({ method: 'PUT', path: `/routers/${enc(routerId)}/remove_router_interface`, json: iface, expected: [200], signal: opts.signal });
    return res.json;
  }

  /** GET /v2.0/quotas/{project_id} (or …/details: {limit, used, reserved} per resource). */
  async getQuota(projectId: string, opts: { details?: boolean; signal?: AbortSignal } = {}): Promise<NetworkQuota | Record<string, { limit: number; used: number; reserved: number }>> {
    const res = await this.call({ method: 'GET', path: `/quotas/${enc(projectId)}${opts.details ? '/details' : ''}`, expected: [200], signal: opts.signal });
    return unwrap(res, 'quota');
  }

  /** The project's own routers named exactly `name`, oldest first. */
  private async ownRoutersNamed(name: string, signal?: AbortSignal): Promise<Router[]> {
    const projectId = (await this.session.token(signal)).project?.id;
    const found = await this.listRouters({ name, extra: projectId ? { project_id: projectId } : undefined, signal });
    const own = found.filter((r) => r.name === name && (!projectId || (r.project_id ?? r.tenant_id) === projectId));
    return [...own].sort((a, b) => String(a.created_at ?? '').localeCompare(String(b.created_at ?? '')) || a.id.localeCompare(b.id));
  }

  /** The project's own (not shared, not external) networks named exactly `name`, oldest first. */
  private async ownNetworksNamed(name: string, signal?: AbortSignal): Promise<Network[]> {
    const projectId = (await this.session.token(signal)).project?.id;
    const found = await this.listNetworks({ name, extra: projectId ? { project_id: projectId } : undefined, signal });
    const own = found.filter((n) => n.name === name && !n.shared && !n['router:external'] && (!projectId || (n.project_id ?? n.tenant_id) === projectId));
    return [...own].sort((a, b) => String(a.created_at ?? '').localeCompare(String(b.created_at ?? '')) || a.id.localeCompare(b.id));
  }

  /**
   * A private network with one subnet (and a router to an external network when asked), made so
   * a retry is safe: each part is first looked up by name (the network, `<name>-subnet` on it,
   * `<name>-router`, the router's interface on the subnet) and created only when missing. Two
   * racing callers may both create; the oldest network is the one used, and
   * deletePrivateNetwork removes them all.
   */
  async ensurePrivateNetwork(spec: PrivateNetworkSpec): Promise<PrivateNetwork> {
    const { signal } = spec;
    const network = (await this.ownNetworksNamed(spec.name, signal))[0] ?? (await this.createNetwork({ name: spec.name, description: spec.description, signal }));
    const subnetName = `${spec.name}-subnet`;
    const subnet =
      oldest((await this.listSubnets({ network_id: network.id, name: subnetName, signal })).filter((s) => s.name === subnetName && s.network_id === network.id)) ??
      (await this.createSubnet({ network_id: network.id, name: subnetName, cidr: spec.cidr, gateway_ip: spec.gatewayIp, dns_nameservers: spec.dnsNameservers, signal }));
    if (!spec.externalNetwork) return { network, subnet };

    const ref = spec.externalNetwork;
    const externals = (await this.listNetworks({ extra: { 'router:external': true }, signal })).filter((n) => n.id === ref || n.name === ref);
    if (externals.length !== 1) {
      throw new CloudApiError({
        kind: externals.length ? 'Conflict' : 'NotFound',
        method: 'GET',
        url: 'networks?router:external=true',
        message: externals.length ? `more than one external network is named "${ref}"` : `no external network "${ref}"`,
      });
    }
    const routerName = `${spec.name}-router`;
    const router =
      (await this.ownRoutersNamed(routerName, signal))[0] ??
      (await this.createRouter({ name: routerName, external_network_id: externals[0].id, signal }));
    const attached = (await this.listPorts({ device_id: router.id, network_id: network.id, signal })).some(
      (p) => p.device_owner === 'network:router_interface' && p.fixed_ips.some((f) => f.subnet_id === subnet.id),
    );
    if (!attached) {
      try {
        await this.addRouterInterface(router.id, { subnet_id: subnet.id }, { signal });
      } catch (err) {
        // A concurrent attempt attached it between our look and our add: Neutron says "already has a port on subnet".
        if (!(responseCodeIs(err, 400) && /already has a port on subnet/i.test(String((err as Error).message) + String((err as CloudApiError).body ?? '')))) throw err;
      }
    }
    return { network, subnet, router };
  }

  /**
   * Removes what ensurePrivateNetwork made under `name`: the router's interfaces and the router,
   * then every own network of that name (its subnets go with it). Safe to repeat: what is gone is
   * skipped. A network that still has servers on it fails with Conflict (409 NetworkInUse),
   * which clears once they are deleted. Returns how many routers and networks it deleted.
   */
  async deletePrivateNetwork(name: string, opts: { signal?: AbortSignal } = {}): Promise<{ routers: number; networks: number }> {
    const { signal } = opts;
    let routers = 0;
    let networks = 0;
    const routerName = `${name}-router`;
    for (const router of await this.ownRoutersNamed(routerName, signal)) {
      for (const port of await this.listPorts({ device_id: router.id, signal })) {
        if (port.device_owner !== 'network:router_interface') continue;
        try {
          await this.removeRouterInterface(router.id, { port_id: port.id }, { signal });
        } catch (err) {
          if (!responseCodeIs(err, 404)) throw err;
        }
      }
      if (await this.deleteRouter(router.id, { ignoreNotFound: true, signal })) routers++;
    }
    for (const network of await this.ownNetworksNamed(name, signal)) {
      if (await this.deleteNetwork(network.id, { ignoreNotFound: true, signal })) networks++;
    }
    return { routers, networks };
  }

  /** POST /v2.0/floatingips → 201. */
  async createFloatingIp(o: CreateFloatingIpOptions): Promise<FloatingIp> {
    const { signal, ...fields } = o;
    const floatingip: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) floatingip[k] = v;
    const res = await this.call({ method: 'POST', path: '/floatingips', json: { floatingip }, expected: [201], signal });
    return unwrap<FloatingIp>(res, 'floatingip');
  }

  /** PUT /v2.0/floatingips/{id} → 200: associate with a port, or disassociate with null. */
  async updateFloatingIp(id: string, portId: string | null, opts: { fixed_ip_address?: string; signal?: AbortSignal } = {}): Promise<FloatingIp> {
    const floatingip: Record<string, unknown> = { port_id: portId };
    if (opts.fixed_ip_address !== undefined) floatingip.fixed_ip_address = opts.fixed_ip_address;
    const res = await this.call({ method: 'PUT', path: `/floatingips/${enc(id)}`, json: { floatingip }, expected: [200], signal: opts.signal });
    return unwrap<FloatingIp>(res, 'floatingip');
  }

  /** DELETE /v2.0/floatingips/{id} → 204. */
  deleteFloatingIp(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/floatingips/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }
}
