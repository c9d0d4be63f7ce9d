/**
 * Nova (compute v2.1): flavors, servers, server actions, snapshots and keypairs. Every call pins
 * the microversion, so response shapes do not drift when the cloud is upgraded.
 */
import { CloudApiError } from '../errors';
import { enc, header, runDelete, unwrap, type DeleteOptions } from './envelope';
import { collectLinkedPages, nextHref, type Link } from './pagination';
import type { JsonResponse, OpenStackSession, QueryValue, RequestOptions } from './session';

/**
 * 2.79 (Train, 2019) is the newest microversion every maintained OpenStack release serves, and
 * it has what we rely on: `networks` required on create (2.37, so no surprise auto-allocation),
 * createImage answering `{image_id}` (2.45), the flavor embedded in servers (2.47), while keypair
 * generation without a public key is still allowed (removed in 2.92). Older clouds answer 406;
 * pass `microversion` to go lower (createImage then falls back to the Location header).
 */
export const COMPUTE_MICROVERSION = '2.79';

export interface Flavor {
  id: string;
  name: string;
  /** MiB */
  ram: number;
  vcpus: number;
  /** GiB */
  disk: number;
  swap: number | '';
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  'os-flavor-access:is_public'?: boolean;
  description?: string | null;
  extra_specs?: Record<string, string>;
  links?: Link[];
}

export interface ServerAddress {
  addr: string;
  version: 4 | 6;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

export interface ServerFault {
  code: number;
  created: string;
  message: string;
  details?: string;
}

export type ServerStatus =
  | 'ACTIVE'
  | 'BUILD'
  | 'DELETED'
  | 'ERROR'
  | 'HARD_REBOOT'
  | 'MIGRATING'
  | 'PASSWORD'
  | 'PAUSED'
  | 'REBOOT'
  | 'REBUILD'
  | 'RESCUE'
  | 'RESIZE'
  | 'REVERT_RESIZE'
  | 'SHELVED'
  | 'SHELVED_OFFLOADED'
  | 'SHUTOFF'
  | 'SOFT_DELETED'
  | 'SUSPENDED'
  | 'UNKNOWN'
  | 'VERIFY_RESIZE';

export interface Server {
  id: string;
  name: string;
  status: ServerStatus | string;
  tenant_id?: string;
  user_id?: string;
  created?: string;
  updated?: string;
  hostId?: string;
  progress?: number;
  addresses?: Record<string, ServerAddress[]>;
  /** "" when the server boots from a volume. */
  image?: { id: string; links?: Link[] } | '';
  /** From 2.47 the flavor is embedded (original_name, ram, vcpus, disk, …) without an id. */
  flavor?: { id?: string; original_name?: string; ram?: number; vcpus?: number; disk?: number; swap?: number; ephemeral?: number; extra_specs?: Record<string, string>; links?: Link[] };
  key_name?: string | null;
  metadata?: Record<string, string>;
  'OS-EXT-STS:vm_state'?: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:power_state'?: number;
  'OS-EXT-AZ:availability_zone'?: string;
  fault?: ServerFault;
  tags?: string[];
  links?: Link[];
  [extra: string]: unknown;
}

export type ServerNetworks = 'auto' | 'none' | Array<{ uuid?: string; port?: string; fixed_ip?: string; tag?: string }>;

export interface CreateServerOptions {
  name: string;
  flavorRef: string;
  imageRef: string;
  /** Required from microversion 2.37: a list, or 'auto' / 'none'. */
  networks: ServerNetworks;
  key_name?: string;
  /** Plain (not yet base64) user data, e.g. a cloud-config document; the client base64-encodes it. */
  user_data?: string | Buffer;
  metadata?: Record<string, string>;
  /** Security group names. */
  security_groups?: string[];
  availability_zone?: string;
  config_drive?: boolean;
  signal?: AbortSignal;
}

export interface CreatedServer {
  id: string;
  links?: Link[];
  /** Generated root password when the cloud sets one. Never log it. */
  adminPass?: string;
  security_groups?: Array<{ name: string }>;
  'OS-DCF:diskConfig'?: string;
}

export interface ListServersOptions {
  /** Exact server name: sent anchored and escaped (Nova matches it as a regex) and re-checked here. */
  name?: string;
  status?: ServerStatus | string;
  /** Page size asked of Nova; all pages are followed. */
  limit?: number;
  /** Other Nova filters, passed as given. */
  extra?: Record<string, QueryValue>;
  signal?: AbortSignal;
}

export type RebootType = 'SOFT' | 'HARD';

export interface Keypair {
  name: string;
  public_key: string;
  fingerprint: string;
  type?: 'ssh' | 'x509';
  user_id?: string;
  /** Only in the create answer when Nova generated the key. Never log it. */
  private_key?: string;
  created_at?: string;
  id?: number;
}

export interface CreateKeypairOptions {
  name: string;
  /** Import this key; without it Nova generates one (allowed below microversion 2.92). */
  public_key?: string;
  type?: 'ssh' | 'x509';
  signal?: AbortSignal;
}

/** Escapes a string for Nova's regex name filter (Python re / MySQL REGEXP share these). */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `^<escaped name>$`: Nova's `name` filter is a regular expression (`bob` also matches `bobby`). */
export function exactNameFilter(name: string): string {
  return `^${escapeRegex(name)}$`;
}

/** Image id from a Location such as `https://glance/v2/images/<uuid>` (createImage below 2.45). */
export function imageIdFromLocation(location: string): string | undefined {
  const path = new URL(location, 'http://location.invalid').pathname.replace(/\/+$/, '');
  const last = path.split('/').pop();
  return last ? decodeURIComponent(last) : undefined;
}

/** Nova's absolute limits (GET /limits), the fields vmflow reads. */
export interface NovaAbsoluteLimits {
  maxTotalInstances: number;
  totalInstancesUsed: number;
  maxTotalCores: number;
  totalCoresUsed: number;
  maxTotalRAMSize: number;
  totalRAMUsed: number;
}

export class ComputeClient {
  readonly microversion: string;

  constructor(
    private readonly session: OpenStackSession,
    opts: { microversion?: string } = {},
  ) {
    this.microversion = opts.microversion ?? COMPUTE_MICROVERSION;
  }

  private call<T = unknown>(opts: Omit<RequestOptions, 'service' | 'stream'>): Promise<JsonResponse<T>> {
    return this.session.request<T>({
      ...opts,
      service: 'compute',
      headers: {
        'openstack-api-version': `compute ${this.microversion}`,
        // Legacy header for Nova releases before 2.27's standard header; harmless on newer ones.
        'x-openstack-nova-api-version': this.microversion,
        ...opts.headers,
      },
    });
  }

  /** GET /flavors/detail (all pages). */
  async listFlavors(opts: { signal?: AbortSignal } = {}): Promise<Flavor[]> {
    return collectLinkedPages(async (query) => {
      const res = await this.call<{ flavors?: Flavor[]; flavors_links?: Link[] }>({ method: 'GET', path: '/flavors/detail', query, expected: [200], signal: opts.signal });
      return { items: unwrap<Flavor[]>(res, 'flavors'), next: nextHref(res.json.flavors_links) };
    });
  }

  /**
   * GET /limits: the project's absolute limits and usage (maxTotalInstances, totalInstancesUsed,
   * maxTotalCores, totalCoresUsed, maxTotalRAMSize, totalRAMUsed in MiB; -1 = unlimited).
   */
  async getAbsoluteLimits(opts: { signal?: AbortSignal } = {}): Promise<NovaAbsoluteLimits> {
    const res = await this.call<{ limits?: { absolute?: NovaAbsoluteLimits } }>({ method: 'GET', path: '/limits', expected: [200], signal: opts.signal });
    return unwrap<{ absolute: NovaAbsoluteLimits }>(res, 'limits').absolute;
  }

  /** GET /flavors/{id} */
  async getFlavor(id: string, opts: { signal?: AbortSignal } = {}): Promise<Flavor> {
    const res = await this.call({ method: 'GET', path: `/flavors/${enc(id)}`, expected: [200], signal: opts.signal });
    return unwrap<Flavor>(res, 'flavor');
  }

  /** POST /servers → 202. Returns the id (and adminPass); poll getServer for the status. */
  async createServer(o: CreateServerOptions): Promise<CreatedServer> {
    const server: Record<string, unknown> = {
      name: o.name,
      flavorRef: o.flavorRef,
      imageRef: o.imageRef,
      networks: o.networks,
    };
    if (o.key_name !== undefined) server.key_name = o.key_name;
    if (o.user_data !== undefined) server.user_data = Buffer.from(o.user_data).toString('base64');
    if (o.metadata !== undefined) server.metadata = o.metadata;
    if (o.security_groups !== undefined) server.security_groups = o.security_groups.map((name) => ({ name }));
    if (o.availability_zone !== undefined) server.availability_zone = o.availability_zone;
    if (o.config_drive !== undefined) server.config_drive = o.config_drive;
    const res = await this.call({ method: 'POST', path: '/servers', json: { server }, expected: [202], signal: o.signal });
    return unwrap<CreatedServer>(res, 'server');
  }

  /** GET /servers/{id} */
  async getServer(id: string, opts: { signal?: AbortSignal } = {}): Promise<Server> {
    const res = await this.call({ method: 'GET', path: `/servers/${enc(id)}`, expected: [200], signal: opts.signal });
    return unwrap<Server>(res, 'server');
  }

  /** PUT /servers/{id}: rename (disaster recovery renames a promoted standby). */
  async updateServer(id: string, o: { name?: string; signal?: AbortSignal }): Promise<Server> {
    const res = await this.call({ method: 'PUT', path: `/servers/${enc(id)}`, json: { server: { ...(o.name !== undefined ? { name: o.name } : {}) } }, expected: [200], signal: o.signal });
    return unwrap<Server>(res, 'server');
  }

  /** GET /servers/detail with filters, following `servers_links`; `name` matches exactly. */
  async listServers(o: ListServersOptions = {}): Promise<Server[]> {
    const first: Record<string, QueryValue> = {
      ...o.extra,
      name: o.name !== undefined ? exactNameFilter(o.name) : undefined,
      status: o.status,
      limit: o.limit,
    };
    const servers = await collectLinkedPages(async (next) => {
      const res = await this.call<{ servers?: Server[]; servers_links?: Link[] }>({
        method: 'GET',
        path: '/servers/detail',
        query: next ?? first,
        expected: [200],
        signal: o.signal,
      });
      return { items: unwrap<Server[]>(res, 'servers'), next: nextHref(res.json.servers_links) };
    });
    // Nova's regex may still be looser than equality (case-insensitive MySQL collations).
    return o.name === undefined ? servers : servers.filter((s) => s.name === o.name);
  }

  /** DELETE /servers/{id} → 204. Returns false if it was already gone and ignoreNotFound is set. */
  deleteServer(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/servers/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }

  private async action(id: string, body: unknown, signal?: AbortSignal): Promise<JsonResponse> {
    return this.call({ method: 'POST', path: `/servers/${enc(id)}/action`, json: body, expected: [202], signal });
  }

  /** os-start (from SHUTOFF) → 202; 409 in another state. */
  async startServer(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.action(id, { 'os-start': null }, opts.signal);
  }

  /** os-stop (from ACTIVE/ERROR) → 202; 409 in another state. */
  async stopServer(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.action(id, { 'os-stop': null }, opts.signal);
  }

  /** resize to another flavor → 202; the server goes RESIZE → VERIFY_RESIZE (then confirmResize). */
  async resizeServer(id: string, flavorRef: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.action(id, { resize: { flavorRef } }, opts.signal);
  }

  /** confirmResize (from VERIFY_RESIZE) → 204: the resize is kept and the server is ACTIVE again. */
  async confirmResize(id: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call({ method: 'POST', path: `/servers/${enc(id)}/action`, json: { confirmResize: null }, expected: [202, 204], signal: opts.signal });
  }

  /** reboot SOFT (default) or HARD → 202. */
  async rebootServer(id: string, opts: { type?: RebootType; signal?: AbortSignal } = {}): Promise<void> {
    await this.action(id, { reboot: { type: opts.type ?? 'SOFT' } }, opts.signal);
  }

  /**
   * createImage (snapshot) → 202 with `{image_id}` from 2.45, or an empty body and
   * `Location: <glance>/images/<id>` before; both are understood whatever microversion we sent.
   */
  async createImage(serverId: string, o: { name: string; metadata?: Record<string, string>; signal?: AbortSignal }): Promise<{ image_id: string }> {
    const createImage: Record<string, unknown> = { name: o.name };
    if (o.metadata !== undefined) createImage.metadata = o.metadata;
    const res = await this.action(serverId, { createImage }, o.signal);
    const fromBody = (res.json as { image_id?: unknown } | undefined)?.image_id;
    if (typeof fromBody === 'string' && fromBody) return { image_id: fromBody };
    const location = header(res.headers, 'location');
    const fromLocation = location ? imageIdFromLocation(location) : undefined;
    if (fromLocation) return { image_id: fromLocation };
    throw new CloudApiError({
      kind: 'Unexpected',
      method: 'POST',
      url: res.url,
      status: res.status,
      body: res.text,
      message: `POST ${res.url}: createImage answered ${res.status} with neither image_id nor Location`,
    });
  }

  /** GET /os-keypairs (all pages), unwrapping Nova's `{keypairs:[{keypair:{…}}]}`. */
  async listKeypairs(opts: { signal?: AbortSignal } = {}): Promise<Keypair[]> {
    return collectLinkedPages(async (query) => {
      const res = await this.call<{ keypairs?: Array<{ keypair: Keypair }>; keypairs_links?: Link[] }>({
        method: 'GET',
        path: '/os-keypairs',
        query,
        expected: [200],
        signal: opts.signal,
      });
      return { items: unwrap<Array<{ keypair: Keypair }>>(res, 'keypairs').map((k) => k.keypair), next: nextHref(res.json.keypairs_links) };
    });
  }

  /** POST /os-keypairs → 201 (200 below 2.2). */
  async createKeypair(o: CreateKeypairOptions): Promise<Keypair> {
    const keypair: Record<string, unknown> = { name: o.name };
    if (o.public_key !== undefined) keypair.public_key = o.public_key;
    if (o.type !== undefined) keypair.type = o.type;
    const res = await this.call({ method: 'POST', path: '/os-keypairs', json: { keypair }, expected: [200, 201], signal: o.signal });
    return unwrap<Keypair>(res, 'keypair');
  }

  /** DELETE /os-keypairs/{name} → 204 (202 below 2.2). */
  deleteKeypair(name: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/os-keypairs/${enc(name)}`, expected: [202, 204], signal: opts?.signal }));
  }
}
