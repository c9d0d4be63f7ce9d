/**
 * Neutron (network v2.0): the few calls the workflows need — networks and ports by filter and
 * floating IPs. The catalog URL of `network` carries no version; `/v2.0` is added here.
 */
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
