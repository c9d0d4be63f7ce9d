/**
 * Neutron v2.0 under `/networking`: version documents, extensions, networks, subnets and routers
 * (create, read, delete; router interfaces and gateways), ports and floating IPs (full CRUD),
 * security groups (read), network quotas and availability zones. Lists take Neutron's attribute
 * filters (`?name=private`, `?port_id=…`), `fields`, and limit/marker.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, forbidden, notFound } from './errors';
import { Router, type Ctx } from './http';
import type { AuthContext, FloatingIp, Network, Port, Router as RouterRecord, SecurityGroup, Subnet } from './model';
import { isIpv4, NETWORK_QUOTA_KEYS, ROUTER_GATEWAY, ROUTER_INTERFACE, type NetworkQuota } from './network';
import { isoSeconds, isPlainObject } from './util';

const EXTENSIONS: [alias: string, name: string][] = [
  ['agent', 'agent'],
  ['allowed-address-pairs', 'Allowed Address Pairs'],
  ['availability_zone', 'Availability Zone'],
  ['binding', 'Port Binding'],
  ['external-net', 'Neutron external network'],
  ['extra_dhcp_opt', 'Neutron Extra DHCP options'],
  ['fip-port-details', 'Floating IP Port Details Extension'],
  ['network-ip-availability', 'Network IP Availability'],
  ['port-security', 'Port Security'],
  ['project-id', 'project_id field enabled'],
  ['quotas', 'Quota management support'],
  ['router', 'Neutron L3 Router'],
  ['security-group', 'security-group'],
  ['standard-attr-description', 'standard-attr-description'],
  ['standard-attr-revisions', 'Resource revision numbers'],
  ['standard-attr-tag', 'Tag support for resources with standard attribute: port, subnet, network, security_group, floatingip, router'],
  ['standard-attr-timestamp', 'Resource timestamps'],
];

function unrecognized(body: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw badRequest(`Unrecognized attribute(s) '${extra.join(', ')}'`, 'HTTPBadRequest');
}

/** Neutron's 403 for an action the caller's role does not allow. */
function policy(rule: string): ApiError {
  return forbidden(`(rule:${rule}) is disallowed by policy`, 'PolicyNotAuthorized');
}

function optString(body: Record<string, unknown>, key: string, max = 255): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`Invalid input for ${key}. Reason: '${String(v)}' is not a valid string.`, 'HTTPBadRequest');
  if (v.length > max) throw badRequest(`Invalid input for ${key}. Reason: '${v.slice(0, 40)}…' exceeds maximum length of ${max}.`, 'HTTPBadRequest');
  return v;
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && ['true', 'false'].includes(v.toLowerCase())) return v.toLowerCase() === 'true';
  throw badRequest(`Invalid input for ${key}. Reason: '${String(v)}' is not a valid boolean value.`, 'HTTPBadRequest');
}

/** The resource envelope of a POST/PUT body, or 400 as Neutron words it. */
function envelope(body: unknown, key: string): Record<string, unknown> {
  const inner = isPlainObject(body) ? body[key] : undefined;
  if (!isPlainObject(inner)) throw badRequest(`Resource body required: '${key}'`, 'HTTPBadRequest');
  return inner;
}

/** Neutron's generic list handling: attribute filters, `fields`, sort and limit/marker. */
function listResponse(ctx: Ctx, collection: string, rows: Record<string, unknown>[]): void {
  const q = ctx.query;
  const reserved = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);
  let out = rows;
  for (const key of new Set(q.keys())) {
    if (reserved.has(key)) continue;
    const wanted = q.getAll(key);
    if (key === 'fixed_ips') {
      out = out.filter((row) =>
        wanted.every((w) => {
          const [k, v] = w.split('=');
          return ((row.fixed_ips as Record<string, string>[]) ?? []).some((f) => f[k] === v);
        }),
      );
      continue;
    }
    out = out.filter((row) => {
      if (!(key in row)) return false;
      const v = row[key];
      return wanted.some((w) => (typeof v === 'boolean' ? String(v) === w.toLowerCase() : String(v) === w));
    });
  }
  const limitRaw = q.get('limit');
  let links: { rel: string; href: string }[] | undefined;
  const marker = q.get('marker');
  if (marker) {
    const i = out.findIndex((row) => row.id === marker);
    if (i < 0) throw notFound(`Marker ${marker} could not be found.`, 'NotFound');
    out = out.slice(i + 1);
  }
  if (limitRaw !== null) {
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest(`Invalid input for operation: '${limitRaw}' is not an integer`, 'InvalidInput');
    if (limit > 0 && out.length > limit) {
      out = out.slice(0, limit);
      const next = new URLSearchParams(q);
      next.set('marker', String(out[out.length - 1].id));
      links = [{ rel: 'next', href: `${ctx.base}/networking/v2.0/${collection}?${next.toString()}` }];
    }
  }
  const fields = q.getAll('fields');
  if (fields.length) out = out.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => fields.includes(k))));
  ctx.send(200, { [collection]: out, ...(links ? { [`${collection}_links`]: links } : {}) });
}

export function neutronRoutes(cloud: Cloud): Router {
  const r = new Router();
  const net = cloud.network;
  const store = cloud.store;

  const std = (x: { createdAt: number; updatedAt: number; revision?: number }) => ({
    created_at: isoSeconds(x.createdAt),
    updated_at: isoSeconds(x.updatedAt),
    revision_number: x.revision ?? 0,
    tags: [] as string[],
  });

  const renderNetwork = (who: AuthContext, n: Network) => ({
    id: n.id,
    name: n.name,
    tenant_id: n.projectId,
    project_id: n.projectId,
    admin_state_up: n.adminStateUp ?? true,
    mtu: n.mtu,
    status: 'ACTIVE',
    subnets: [...n.subnetIds],
    shared: n.shared,
    'router:external': n.external,
    ...(n.external ? { is_default: true } : {}),
    port_security_enabled: true,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    description: n.description ?? '',
    l2_adjacency: true,
    qos_policy_id: null,
    ...(who.isAdmin ? { 'provider:network_type': n.external ? 'flat' : 'geneve', 'provider:physical_network': n.external ? 'public' : null, 'provider:segmentation_id': n.external ? null : 1 } : {}),
    ...std(n),
  });

  const renderSubnet = (s: Subnet) => ({
    id: s.id,
    name: s.name,
    network_id: s.networkId,
    tenant_id: s.projectId,
    project_id: s.projectId,
    ip_version: 4,
    cidr: s.cidr,
    gateway_ip: s.gatewayIp,
    allocation_pools: s.allocationPools.map((p) => ({ ...p })),
    dns_nameservers: [...s.dnsNameservers],
    host_routes: [],
    enable_dhcp: s.enableDhcp ?? true,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    segment_id: null,
    service_types: [],
    description: s.description ?? '',
    ...std(s),
  });

  const renderPort = (who: AuthContext, p: Port) => ({
    id: p.id,
    name: p.name,
    network_id: p.networkId,
    tenant_id: p.projectId,
    project_id: p.projectId,
    mac_address: p.macAddress,
    admin_state_up: p.adminStateUp,
    status: p.status,
    device_id: p.deviceId,
    device_owner: p.deviceOwner,
    fixed_ips: p.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
    security_groups: [...p.securityGroupIds],
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    port_security_enabled: true,
    'binding:vnic_type': 'normal',
    ...(who.isAdmin ? { 'binding:host_id': p.deviceId ? 'sim-compute-1' : '', 'binding:vif_type': p.deviceId ? 'ovs' : 'unbound', 'binding:profile': {}, 'binding:vif_details': {} } : {}),
    description: p.description,
    dns_name: '',
    qos_policy_id: null,
    propagate_uplink_status: false,
    ...std(p),
  });

  const renderFip = (f: FloatingIp) => {
    const port = f.portId ? store.ports.get(f.portId) : undefined;
    return {
      id: f.id,
      floating_ip_address: f.floatingIpAddress,
      floating_network_id: f.floatingNetworkId,
      router_id: f.routerId,
      port_id: f.portId,
      fixed_ip_address: f.fixedIpAddress,
      status: net.floatingStatus(f),
      tenant_id: f.projectId,
      project_id: f.projectId,
      description: f.description,
      port_details: port
        ? { name: port.name, network_id: port.networkId, mac_address: port.macAddress, admin_state_up: port.adminStateUp, status: port.status, device_id: port.deviceId, device_owner: port.deviceOwner }
        : null,
      port_forwardings: [],
      qos_policy_id: null,
      dns_domain: '',
      dns_name: '',
      ...std(f),
    };
  };

  const renderRouter = (who: AuthContext, rt: RouterRecord) => {
    const gwPort = rt.externalGateway ? store.ports.get(rt.externalGateway.portId) : undefined;
    return {
      id: rt.id,
      name: rt.name,
      tenant_id: rt.projectId,
      project_id: rt.projectId,
      admin_state_up: rt.adminStateUp,
      status: 'ACTIVE',
      external_gateway_info: rt.externalGateway
        ? {
            network_id: rt.externalGateway.networkId,
            enable_snat: rt.externalGateway.enableSnat,
            external_fixed_ips: (gwPort?.fixedIps ?? []).map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
          }
        : null,
      routes: [],
      description: rt.description,
      availability_zone_hints: [],
      availability_zones: ['nova'],
      flavor_id: null,
      ...(who.isAdmin ? { distributed: false, ha: false } : {}),
      ...std(rt),
    };
  };

  /** The project a create acts for: the caller's, or (admins only) the one the body names. */
  const projectFor = (ctx: Ctx, body: Record<string, unknown>): string => {
    const requested = (body.project_id ?? body.tenant_id) as unknown;
    if (requested === undefined || requested === null || requested === ctx.who.projectId) return ctx.who.projectId;
    if (typeof requested !== 'string') throw badRequest(`Invalid input for project_id. Reason: '${String(requested)}' is not a valid string.`, 'HTTPBadRequest');
    if (!ctx.who.isAdmin) throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges", 'HTTPBadRequest');
    return requested;
  };

  const renderSg = (g: SecurityGroup) => ({
    id: g.id,
    name: g.name,
    tenant_id: g.projectId,
    project_id: g.projectId,
    description: g.description,
    stateful: true,
    shared: false,
    security_group_rules: g.rules.map((rule) => ({
      id: rule.id,
      direction: rule.direction,
      ethertype: rule.ethertype,
      protocol: rule.protocol,
      port_range_min: rule.portRangeMin,
      port_range_max: rule.portRangeMax,
      remote_ip_prefix: rule.remoteIpPrefix,
      remote_group_id: rule.remoteGroupId,
      remote_address_group_id: null,
      security_group_id: g.id,
      tenant_id: g.projectId,
      project_id: g.projectId,
      description: '',
      ...std(g),
    })),
    ...std(g),
  });

  // ---- versions and extensions ----
  r.get('/', (ctx) => ctx.send(200, { versions: [{ status: 'CURRENT', id: 'v2.0', links: [{ href: `${ctx.base}/networking/v2.0/`, rel: 'self' }] }] }), { public: true });
  r.get('/v2.0', (ctx) =>
    ctx.send(200, {
      resources: ['subnet', 'network', 'port', 'router', 'floatingip', 'security_group'].map((name) => ({
        name,
        collection: name === 'security_group' ? 'security_groups' : `${name}s`,
        links: [{ href: `${ctx.base}/networking/v2.0/${name === 'security_group' ? 'security-groups' : `${name}s`}`, rel: 'self' }],
      })),
    }),
  );
  const renderExt = ([alias, name]: [string, string]) => ({ alias, name, description: name, links: [], updated: '2013-01-20T00:00:00-00:00' });
  r.get('/v2.0/extensions', (ctx) => ctx.send(200, { extensions: EXTENSIONS.map(renderExt) }));
  r.get('/v2.0/extensions/:alias', (ctx) => {
    const e = EXTENSIONS.find(([a]) => a === ctx.params.alias);
    if (!e) throw notFound(`Extension with alias ${ctx.params.alias} does not exist`, 'ExtensionNotFound');
    ctx.send(200, { extension: renderExt(e) });
  });

  // ---- networks and subnets ----
  r.get('/v2.0/networks', (ctx) => listResponse(ctx, 'networks', [...store.networks.values()].filter((n) => net.canSeeNetwork(ctx.who, n)).map((n) => renderNetwork(ctx.who, n))));
  r.get('/v2.0/networks/:id', (ctx) => {
    const n = store.networks.get(ctx.params.id);
    if (!n || !net.canSeeNetwork(ctx.who, n)) throw notFound(`Network ${ctx.params.id} could not be found.`, 'NetworkNotFound');
    ctx.send(200, { network: renderNetwork(ctx.who, n) });
  });
  /** A network the caller may change: invisible → 404, visible but another project's → 403. */
  const ownNetwork = (ctx: Ctx, action: string): Network => {
    const n = store.networks.get(ctx.params.id);
    if (!n || !net.canSeeNetwork(ctx.who, n)) throw notFound(`Network ${ctx.params.id} could not be found.`, 'NetworkNotFound');
    if (!ctx.who.isAdmin && n.projectId !== ctx.who.projectId) throw policy(action);
    return n;
  };
  r.post('/v2.0/networks', async (ctx) => {
    const b = envelope(await ctx.json(), 'network');
    unrecognized(b, [
      'name', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'description', 'tenant_id', 'project_id',
      'availability_zone_hints', 'dns_domain', 'qos_policy_id', 'is_default', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id',
    ]);
    const shared = optBool(b, 'shared');
    const external = optBool(b, 'router:external');
    if (!ctx.who.isAdmin) {
      if (shared) throw policy('create_network:shared');
      if (external) throw policy('create_network:router:external');
      for (const k of ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id']) if (b[k] !== undefined) throw policy(`create_network:${k}`);
    }
    let mtu: number | undefined;
    if (b.mtu !== undefined && b.mtu !== null) {
      if (!Number.isInteger(b.mtu) || (b.mtu as number) < 68) throw badRequest(`Invalid input for mtu. Reason: '${String(b.mtu)}' is too small - must be at least '68'.`, 'HTTPBadRequest');
      if ((b.mtu as number) > 1442 && !external) throw badRequest(`Invalid input for operation: Requested MTU is too big, maximum is 1442.`, 'InvalidInput');
      mtu = b.mtu as number;
    }
    optBool(b, 'port_security_enabled');
    const created = net.createNetwork(projectFor(ctx, b), {
      name: optString(b, 'name'),
      description: optString(b, 'description'),
      adminStateUp: optBool(b, 'admin_state_up'),
      shared,
      external,
      mtu,
    });
    ctx.send(201, { network: renderNetwork(ctx.who, created) });
  });
  r.put('/v2.0/networks/:id', async (ctx) => {
    const n = ownNetwork(ctx, 'update_network');
    const b = envelope(await ctx.json(), 'network');
    unrecognized(b, ['name', 'description', 'admin_state_up', 'port_security_enabled', 'mtu', 'dns_domain', 'qos_policy_id']);
    const name = optString(b, 'name');
    const description = optString(b, 'description');
    const up = optBool(b, 'admin_state_up');
    if (name !== undefined) n.name = name;
    if (description !== undefined) n.description = description;
    if (up !== undefined) n.adminStateUp = up;
    n.updatedAt = Date.now();
    n.revision++;
    store.changed();
    ctx.send(200, { network: renderNetwork(ctx.who, n) });
  });
  r.delete('/v2.0/networks/:id', (ctx) => {
    net.deleteNetwork(ownNetwork(ctx, 'delete_network').id);
    ctx.send(204);
  });

  const canSeeSubnet = (who: AuthContext, s: Subnet) => {
    const n = store.networks.get(s.networkId);
    return !!n && net.canSeeNetwork(who, n);
  };
  r.get('/v2.0/subnets', (ctx) => listResponse(ctx, 'subnets', [...store.subnets.values()].filter((s) => canSeeSubnet(ctx.who, s)).map(renderSubnet)));
  r.get('/v2.0/subnets/:id', (ctx) => {
    const s = store.subnets.get(ctx.params.id);
    if (!s || !canSeeSubnet(ctx.who, s)) throw notFound(`Subnet ${ctx.params.id} could not be found.`, 'SubnetNotFound');
    ctx.send(200, { subnet: renderSubnet(s) });
  });

  r.post('/v2.0/subnets', async (ctx) => {
    const b = envelope(await ctx.json(), 'subnet');
    unrecognized(b, [
      'network_id', 'cidr', 'ip_version', 'name', 'description', 'gateway_ip', 'allocation_pools', 'dns_nameservers', 'host_routes', 'enable_dhcp', 'tenant_id',
      'project_id', 'subnetpool_id', 'use_default_subnet_pool', 'prefixlen', 'ipv6_ra_mode', 'ipv6_address_mode', 'service_types', 'segment_id', 'dns_publish_fixed_ip',
    ]);
    if (typeof b.network_id !== 'string') throw badRequest("Failed to parse request. Required attribute 'network_id' not specified", 'HTTPBadRequest');
    if (b.ip_version === undefined || b.ip_version === null) throw badRequest("Failed to parse request. Required attribute 'ip_version' not specified", 'HTTPBadRequest');
    const version = Number(b.ip_version);
    if (version !== 4 && version !== 6) throw badRequest(`Invalid input for ip_version. Reason: ${String(b.ip_version)} is not in valid_values [4, 6].`, 'HTTPBadRequest');
    if (version === 6) throw badRequest('Invalid input for operation: IPv6 subnets are not served by this cloud.', 'InvalidInput');
    if (b.subnetpool_id !== undefined || b.use_default_subnet_pool === true || b.prefixlen !== undefined) {
      throw badRequest('Bad request: subnet pools are not served by this cloud; give a cidr.', 'BadRequest');
    }
    if (b.host_routes !== undefined && !(Array.isArray(b.host_routes) && b.host_routes.length === 0)) throw badRequest('Invalid input for operation: host routes are not served by this cloud.', 'InvalidInput');
    const network = store.networks.get(b.network_id);
    if (!network || !net.canSeeNetwork(ctx.who, network)) throw notFound(`Network ${b.network_id} could not be found.`, 'NetworkNotFound');
    if (!ctx.who.isAdmin && network.projectId !== ctx.who.projectId) throw policy('create_subnet and rule:create_subnet:network_id');
    const subnet = net.createSubnet(projectFor(ctx, b), {
      networkId: network.id,
      cidr: b.cidr,
      name: optString(b, 'name'),
      description: optString(b, 'description'),
      gatewayIp: b.gateway_ip,
      allocationPools: b.allocation_pools,
      dnsNameservers: b.dns_nameservers,
      enableDhcp: optBool(b, 'enable_dhcp'),
    });
    ctx.send(201, { subnet: renderSubnet(subnet) });
  });
  r.delete('/v2.0/subnets/:id', (ctx) => {
    const sub = store.subnets.get(ctx.params.id);
    if (!sub || !canSeeSubnet(ctx.who, sub)) throw notFound(`Subnet ${ctx.params.id} could not be found.`, 'SubnetNotFound');
    if (!ctx.who.isAdmin && sub.projectId !== ctx.who.projectId) throw policy('delete_subnet');
    net.deleteSubnet(sub.id);
    ctx.send(204);
  });

  // ---- routers ----
  const ownRouter = (ctx: Ctx): RouterRecord => {
    const rt = store.routers.get(ctx.params.id);
    if (!rt || !net.canSeeOwned(ctx.who, rt)) throw notFound(`Router ${ctx.params.id} could not be found`, 'RouterNotFound');
    return rt;
  };
  /** external_gateway_info: undefined (absent), null (clear) or {network_id, enable_snat?}. */
  const gatewayInfo = (v: unknown): { networkId: string; enableSnat?: boolean } | null | undefined => {
    if (v === undefined) return undefined;
    if (v === null || (isPlainObject(v) && Object.keys(v).length === 0)) return null;
    if (!isPlainObject(v) || typeof v.network_id !== 'string') throw badRequest(`Invalid input for external_gateway_info. Reason: Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: ${JSON.stringify(isPlainObject(v) ? Object.keys(v) : v)}.`, 'HTTPBadRequest');
    unrecognized(v, ['network_id', 'enable_snat', 'external_fixed_ips', 'qos_policy_id']);
    if (Array.isArray(v.external_fixed_ips) && v.external_fixed_ips.length) throw badRequest('Bad router request: choosing external fixed IPs is not served by this cloud.', 'BadRequest');
    return { networkId: v.network_id, enableSnat: optBool(v, 'enable_snat') };
  };
  r.get('/v2.0/routers', (ctx) => listResponse(ctx, 'routers', [...store.routers.values()].filter((rt) => net.canSeeOwned(ctx.who, rt)).map((rt) => renderRouter(ctx.who, rt))));
  r.get('/v2.0/routers/:id', (ctx) => ctx.send(200, { router: renderRouter(ctx.who, ownRouter(ctx)) }));
  r.post('/v2.0/routers', async (ctx) => {
    const b = envelope(await ctx.json(), 'router');
    unrecognized(b, ['name', 'admin_state_up', 'description', 'external_gateway_info', 'tenant_id', 'project_id', 'distributed', 'ha', 'availability_zone_hints', 'flavor_id', 'enable_ndp_proxy']);
    if (optBool(b, 'distributed') || optBool(b, 'ha')) throw badRequest('Bad router request: distributed and HA routers are not served by this cloud.', 'BadRequest');
    const created = net.createRouter(projectFor(ctx, b), {
      name: optString(b, 'name'),
      description: optString(b, 'description'),
      adminStateUp: optBool(b, 'admin_state_up'),
      externalGateway: gatewayInfo(b.external_gateway_info),
    });
    ctx.send(201, { router: renderRouter(ctx.who, created) });
  });
  r.put('/v2.0/routers/:id', async (ctx) => {
    const rt = ownRouter(ctx);
    const b = envelope(await ctx.json(), 'router');
    unrecognized(b, ['name', 'admin_state_up', 'description', 'external_gateway_info', 'routes', 'distributed', 'ha']);
    if (b.routes !== undefined && !(Array.isArray(b.routes) && b.routes.length === 0)) throw badRequest('Invalid input for operation: static routes are not served by this cloud.', 'InvalidInput');
    const name = optString(b, 'name');
    const description = optString(b, 'description');
    const up = optBool(b, 'admin_state_up');
    const gw = gatewayInfo(b.external_gateway_info);
    if (gw !== undefined) net.setRouterGateway(rt, gw);
    if (name !== undefined) rt.name = name;
    if (description !== undefined) rt.description = description;
    if (up !== undefined) rt.adminStateUp = up;
    rt.updatedAt = Date.now();
    rt.revision++;
    store.changed();
    ctx.send(200, { router: renderRouter(ctx.who, rt) });
  });
  r.delete('/v2.0/routers/:id', (ctx) => {
    net.deleteRouter(ownRouter(ctx).id);
    ctx.send(204);
  });
  const interfaceBody = async (ctx: Ctx): Promise<{ subnetId?: string; portId?: string }> => {
    const b = await ctx.json();
    if (!isPlainObject(b)) throw badRequest('Bad router request: Either subnet_id or port_id must be specified.', 'BadRequest');
    unrecognized(b, ['subnet_id', 'port_id']);
    for (const k of ['subnet_id', 'port_id']) if (b[k] !== undefined && typeof b[k] !== 'string') throw badRequest(`Invalid input for ${k}. Reason: '${String(b[k])}' is not a valid string.`, 'HTTPBadRequest');
    return { subnetId: b.subnet_id as string | undefined, portId: b.port_id as string | undefined };
  };
  r.put('/v2.0/routers/:id/add_router_interface', async (ctx) => {
    const rt = ownRouter(ctx);
    ctx.send(200, net.addRouterInterface(ctx.who, rt, await interfaceBody(ctx)));
  });
  r.put('/v2.0/routers/:id/remove_router_interface', async (ctx) => {
    const rt = ownRouter(ctx);
    ctx.send(200, net.removeRouterInterface(rt, await interfaceBody(ctx)));
  });

  // ---- ports ----
  const ownPort = (ctx: Ctx): Port => {
    const p = store.ports.get(ctx.params.id);
    if (!p || !net.canSeeOwned(ctx.who, p)) throw net.portNotFound(ctx.params.id);
    return p;
  };
  r.get('/v2.0/ports', (ctx) => listResponse(ctx, 'ports', [...store.ports.values()].filter((p) => net.canSeeOwned(ctx.who, p)).map((p) => renderPort(ctx.who, p))));
  r.get('/v2.0/ports/:id', (ctx) => ctx.send(200, { port: renderPort(ctx.who, ownPort(ctx)) }));
  r.post('/v2.0/ports', async (ctx) => {
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.port)) throw badRequest("Resource body required: 'port'", 'HTTPBadRequest');
    const p = body.port;
    unrecognized(p, ['network_id', 'name', 'description', 'fixed_ips', 'security_groups', 'admin_state_up', 'device_id', 'device_owner', 'port_security_enabled', 'tenant_id', 'project_id', 'binding:vnic_type', 'tags']);
    if (typeof p.network_id !== 'string') throw badRequest("Failed to parse request. Required attribute 'network_id' not specified", 'HTTPBadRequest');
    const network = store.networks.get(p.network_id);
    if (!network || !net.canSeeNetwork(ctx.who, network)) throw notFound(`Network ${p.network_id} could not be found.`, 'NetworkNotFound');
    let fixedIps: { subnetId?: string; ipAddress?: string }[] | undefined;
    if (p.fixed_ips !== undefined) {
      if (!Array.isArray(p.fixed_ips) || !p.fixed_ips.every(isPlainObject)) throw badRequest(`Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '${JSON.stringify(p.fixed_ips)}'.`, 'HTTPBadRequest');
      fixedIps = (p.fixed_ips as Record<string, unknown>[]).map((f) => {
        if (f.ip_address !== undefined && !isIpv4(f.ip_address)) throw badRequest(`Invalid input for ip_address. Reason: '${String(f.ip_address)}' is not a valid IP address.`, 'HTTPBadRequest');
        return { subnetId: f.subnet_id as string | undefined, ipAddress: f.ip_address as string | undefined };
      });
    }
    let projectId = ctx.who.projectId;
    const requestedProject = (p.project_id ?? p.tenant_id) as string | undefined;
    if (requestedProject && requestedProject !== projectId) {
      if (!ctx.who.isAdmin) throw badRequest('Specifying \'project_id\' or \'tenant_id\' other than the authenticated project in request requires admin privileges', 'HTTPBadRequest');
      projectId = requestedProject;
    }
    let securityGroupIds: string[] | undefined;
    if (p.security_groups !== undefined) {
      if (!Array.isArray(p.security_groups) || !p.security_groups.every((g) => typeof g === 'string')) throw badRequest('Invalid input for security_groups.', 'HTTPBadRequest');
      securityGroupIds = net.resolveSecurityGroups(projectId, p.security_groups as string[]);
    }
    const port = net.createPort(projectId, {
      networkId: network.id,
      name: typeof p.name === 'string' ? p.name : undefined,
      description: typeof p.description === 'string' ? p.description : undefined,
      fixedIps,
      securityGroupIds,
      adminStateUp: typeof p.admin_state_up === 'boolean' ? p.admin_state_up : undefined,
      deviceId: typeof p.device_id === 'string' ? p.device_id : undefined,
      deviceOwner: typeof p.device_owner === 'string' ? p.device_owner : undefined,
    });
    ctx.send(201, { port: renderPort(ctx.who, port) });
  });
  r.put('/v2.0/ports/:id', async (ctx) => {
    const port = ownPort(ctx);
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.port)) throw badRequest("Resource body required: 'port'", 'HTTPBadRequest');
    const p = body.port;
    unrecognized(p, ['name', 'description', 'security_groups', 'admin_state_up', 'device_id', 'device_owner', 'port_security_enabled', 'binding:vnic_type', 'tags']);
    if (typeof p.name === 'string') port.name = p.name;
    if (typeof p.description === 'string') port.description = p.description;
    if (typeof p.admin_state_up === 'boolean') port.adminStateUp = p.admin_state_up;
    if (typeof p.device_id === 'string') port.deviceId = p.device_id;
    if (typeof p.device_owner === 'string') port.deviceOwner = p.device_owner;
    if (p.security_groups !== undefined) {
      if (!Array.isArray(p.security_groups) || !p.security_groups.every((g) => typeof g === 'string')) throw badRequest('Invalid input for security_groups.', 'HTTPBadRequest');
      port.securityGroupIds = net.resolveSecurityGroups(port.projectId, p.security_groups as string[]);
    }
    port.updatedAt = Date.now();
    port.revision++;
    store.changed();
    ctx.send(200, { port: renderPort(ctx.who, port) });
  });
  r.delete('/v2.0/ports/:id', (ctx) => {
    const port = ownPort(ctx);
    if (port.deviceOwner === ROUTER_INTERFACE || port.deviceOwner === ROUTER_GATEWAY) {
      throw new ApiError(409, `Port ${port.id} cannot be deleted directly via the port API: has device owner ${port.deviceOwner}.`, { type: 'L3PortInUse' });
    }
    net.deletePort(port.id);
    ctx.send(204);
  });

  // ---- floating IPs ----
  const ownFip = (ctx: Ctx): FloatingIp => {
    const f = store.floatingIps.get(ctx.params.id);
    if (!f || !net.canSeeOwned(ctx.who, f)) throw notFound(`Floating IP ${ctx.params.id} could not be found`, 'FloatingIPNotFound');
    return f;
  };
  r.get('/v2.0/floatingips', (ctx) => listResponse(ctx, 'floatingips', [...store.floatingIps.values()].filter((f) => net.canSeeOwned(ctx.who, f)).map(renderFip)));
  r.get('/v2.0/floatingips/:id', (ctx) => ctx.send(200, { floatingip: renderFip(ownFip(ctx)) }));
  r.post('/v2.0/floatingips', async (ctx) => {
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.floatingip)) throw badRequest("Resource body required: 'floatingip'", 'HTTPBadRequest');
    const f = body.floatingip;
    unrecognized(f, ['floating_network_id', 'port_id', 'fixed_ip_address', 'floating_ip_address', 'description', 'subnet_id', 'tenant_id', 'project_id', 'dns_name', 'dns_domain', 'qos_policy_id']);
    if (typeof f.floating_network_id !== 'string') throw badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified", 'HTTPBadRequest');
    if (f.floating_ip_address !== undefined && !isIpv4(f.floating_ip_address)) throw badRequest(`Invalid input for floating_ip_address. Reason: '${String(f.floating_ip_address)}' is not a valid IP address.`, 'HTTPBadRequest');
    if (f.floating_ip_address !== undefined && !ctx.who.isAdmin) throw badRequest('Only admins may choose the floating IP address in this cloud.', 'HTTPBadRequest');
    const fip = net.createFloatingIp(ctx.who.projectId, {
      floatingNetworkId: f.floating_network_id,
      portId: (f.port_id as string | null | undefined) ?? null,
      fixedIpAddress: (f.fixed_ip_address as string | null | undefined) ?? null,
      floatingIpAddress: f.floating_ip_address as string | undefined,
      description: typeof f.description === 'string' ? f.description : undefined,
    });
    ctx.send(201, { floatingip: renderFip(fip) });
  });
  r.put('/v2.0/floatingips/:id', async (ctx) => {
    const fip = ownFip(ctx);
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.floatingip)) throw badRequest("Resource body required: 'floatingip'", 'HTTPBadRequest');
    const f = body.floatingip;
    unrecognized(f, ['port_id', 'fixed_ip_address', 'description', 'qos_policy_id']);
    if ('port_id' in f) {
      if (f.port_id === null) net.setFloatingPort(fip, null);
      else if (typeof f.port_id === 'string') {
        const fixed = typeof f.fixed_ip_address === 'string' ? f.fixed_ip_address : undefined;
        net.checkAssociation(fip, f.port_id, fixed);
        net.setFloatingPort(fip, f.port_id, fixed);
      } else throw badRequest('Invalid input for port_id.', 'HTTPBadRequest');
    }
    if (typeof f.description === 'string') {
      fip.description = f.description;
      fip.updatedAt = Date.now();
      fip.revision++;
      store.changed();
    }
    ctx.send(200, { floatingip: renderFip(fip) });
  });
  r.delete('/v2.0/floatingips/:id', (ctx) => {
    net.deleteFloatingIp(ownFip(ctx).id);
    ctx.send(204);
  });

  // ---- security groups (read) ----
  const visibleGroups = (who: AuthContext) => {
    net.defaultSecurityGroup(who.projectId);
    return [...store.securityGroups.values()].filter((g) => who.isAdmin || g.projectId === who.projectId);
  };
  r.get('/v2.0/security-groups', (ctx) => listResponse(ctx, 'security_groups', visibleGroups(ctx.who).map(renderSg)));
  r.get('/v2.0/security-groups/:id', (ctx) => {
    const g = visibleGroups(ctx.who).find((x) => x.id === ctx.params.id);
    if (!g) throw notFound(`Security group ${ctx.params.id} does not exist`, 'SecurityGroupNotFound');
    ctx.send(200, { security_group: renderSg(g) });
  });
  r.get('/v2.0/security-group-rules', (ctx) => listResponse(ctx, 'security_group_rules', visibleGroups(ctx.who).flatMap((g) => renderSg(g).security_group_rules)));

  // ---- quotas and availability zones ----
  /** `{project}` of a quota path (neutronclient may add `.json`); another project's needs admin. */
  const quotaProject = (ctx: Ctx): string => {
    const id = ctx.params.project.replace(/\.json$/, '');
    if (!ctx.who.isAdmin && id !== ctx.who.projectId) throw policy('get_quota');
    return id;
  };
  r.get('/v2.0/quotas', (ctx) => {
    if (!ctx.who.isAdmin) throw policy('get_quota');
    ctx.send(200, { quotas: [...net.quotas.keys()].map((id) => ({ ...net.quota(id), project_id: id, tenant_id: id })) });
  });
  r.get('/v2.0/quotas/:project', (ctx) => ctx.send(200, { quota: net.quota(quotaProject(ctx)) }));
  r.get('/v2.0/quotas/:project/default', (ctx) => {
    quotaProject(ctx);
    ctx.send(200, { quota: net.quota('') });
  });
  r.get('/v2.0/quotas/:project/details', (ctx) => {
    const id = quotaProject(ctx);
    const limit = net.quota(id);
    const used = net.usage(id);
    ctx.send(200, { quota: Object.fromEntries(NETWORK_QUOTA_KEYS.map((k) => [k, { limit: limit[k], used: used[k], reserved: 0 }])) });
  });
  r.put('/v2.0/quotas/:project', async (ctx) => {
    if (!ctx.who.isAdmin) throw policy('update_quota');
    const id = ctx.params.project.replace(/\.json$/, '');
    const b = envelope(await ctx.json(), 'quota');
    unrecognized(b, [...NETWORK_QUOTA_KEYS]);
    const patch: Partial<NetworkQuota> = {};
    for (const [k, v] of Object.entries(b)) {
      const n = typeof v === 'string' ? Number(v) : v;
      if (!Number.isInteger(n) || (n as number) < -1) throw badRequest(`Invalid input for ${k}. Reason: '${String(v)}' is too small - must be at least '-1'.`, 'HTTPBadRequest');
      patch[k as keyof NetworkQuota] = n as number;
    }
    net.quotas.set(id, { ...(net.quotas.get(id) ?? {}), ...patch });
    ctx.send(200, { quota: net.quota(id) });
  });
  r.delete('/v2.0/quotas/:project', (ctx) => {
    if (!ctx.who.isAdmin) throw policy('delete_quota');
    net.quotas.delete(ctx.params.project.replace(/\.json$/, ''));
    ctx.send(204);
  });
  r.get('/v2.0/availability_zones', (ctx) =>
    listResponse(ctx, 'availability_zones', [
      { name: 'nova', resource: 'network', state: 'available' },
      { name: 'nova', resource: 'router', state: 'available' },
    ]),
  );

  return r;
}
