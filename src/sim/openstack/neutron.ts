/**
 * Neutron v2.0 under `/networking` (minimal): version documents, extensions, networks and
 * subnets (read), ports and floating IPs (full CRUD), security groups (read). Lists take
 * Neutron's attribute filters (`?name=private`, `?port_id=…`), `fields`, and limit/marker.
 */
import type { Cloud } from './cloud';
import { badRequest, notFound } from './errors';
import { Router, type Ctx } from './http';
import type { AuthContext, FloatingIp, Network, Port, SecurityGroup, Subnet } from './model';
import { isIpv4 } from './network';
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
    admin_state_up: true,
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
    description: '',
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
    enable_dhcp: true,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    segment_id: null,
    service_types: [],
    description: '',
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
      resources: ['subnet', 'network', 'port', 'floatingip', 'security_group'].map((name) => ({
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
    net.deletePort(ownPort(ctx).id);
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

  return r;
}
