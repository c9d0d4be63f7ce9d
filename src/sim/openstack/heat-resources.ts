/**
 * Heat resource types the simulator implements, each driving the simulated Nova, Neutron and
 * key pairs directly (as Heat's engine drives the real services): OS::Nova::Server,
 * OS::Nova::KeyPair, OS::Neutron::Net, OS::Neutron::Subnet, OS::Neutron::Router,
 * OS::Neutron::RouterInterface, OS::Neutron::Port, OS::Neutron::FloatingIP,
 * OS::Neutron::FloatingIPAssociation, OS::Heat::CloudConfig and OS::Heat::SoftwareConfig.
 */
import type { Cloud } from './cloud';
import { serverStatus } from './compute';
import { ApiError } from './errors';
import { renderCloudConfig } from './heat-template';
import type { AuthContext, Server, Stack, StackResource, Subnet } from './model';
import { deepEqual, isPlainObject } from './util';

/** A resource action failed; `type` becomes the prefix of Heat's status reason. */
export class ResourceFailure extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResourceFailure';
  }
}

export interface PropertySchema {
  required?: boolean;
  /** Changing it updates the resource in place; otherwise the resource is replaced. */
  updateAllowed?: boolean;
  default?: unknown;
}

export interface ResourceContext {
  cloud: Cloud;
  stack: Stack;
  auth: AuthContext;
  resource: StackResource;
  signal: AbortSignal;
  /** Records the physical id as soon as it exists, so a failed or cancelled create is cleaned up. */
  created(physicalId: string, data?: Record<string, unknown>): void;
}

export interface ResourcePlugin {
  properties: Record<string, PropertySchema>;
  create(rc: ResourceContext, props: Record<string, unknown>): Promise<void>;
  update?(rc: ResourceContext, oldProps: Record<string, unknown>, newProps: Record<string, unknown>): Promise<void>;
  delete(rc: ResourceContext): Promise<void>;
  /** Before a replacement is created: free what the new resource must take over (Heat detaches ports). */
  prepareForReplace?(rc: ResourceContext): void;
  attribute(rc: Omit<ResourceContext, 'signal' | 'created'>, name: string): unknown;
}

/** Heat's wording for an error a client library raised: `<Class>: <message> (HTTP <code>)`. */
function fromApiError(err: unknown): never {
  if (err instanceof ApiError) {
    const cls = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 413: 'OverLimit' }[err.status] ?? 'ClientException';
    throw new ResourceFailure(cls, `${err.message} (HTTP ${err.status})`);
  }
  throw err;
}

function propError(rc: { resource: StackResource }, prop: string, value: unknown, why: string): ResourceFailure {
  return new ResourceFailure('StackValidationFailed', `Property error: ${rc.resource.name}.Properties.${prop}: Error validating value '${String(value)}': ${why}`);
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

// ---------------------------------------------------------------------------------------------
// OS::Nova::Server

function findImage(rc: ResourceContext, ref: string) {
  const store = rc.cloud.store;
  const byId = store.images.get(ref);
  if (byId && rc.cloud.images.canSee(rc.auth, byId)) return byId;
  const named = [...store.images.values()].filter((i) => i.name === ref && rc.cloud.images.canSee(rc.auth, i));
  if (named.length > 1) throw propError(rc, 'image', ref, `Multiple physical resources were found with name (${ref}).`);
  if (named.length === 0) throw propError(rc, 'image', ref, `No images matching {'name': '${ref}'}.`);
  return named[0];
}

function softwareConfig(cloud: Cloud, id: string): string | undefined {
  for (const stack of cloud.store.stacks.values()) {
    for (const r of Object.values(stack.resources)) {
      if ((r.type === 'OS::Heat::CloudConfig' || r.type === 'OS::Heat::SoftwareConfig') && r.physicalId === id && typeof r.data.config === 'string') return r.data.config;
    }
  }
  return undefined;
}

/** What Heat gives cloud-init: the config itself (RAW) or a MIME multipart (SOFTWARE_CONFIG / HEAT_CFNTOOLS). */
export function buildUserData(userData: string, format: string, boundary: string): string {
  if (format === 'RAW') return userData;
  const subtype = userData.startsWith('#cloud-config') ? 'cloud-config' : userData.startsWith('#!') ? 'x-shellscript' : 'x-cfninitdata';
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    `--${boundary}`,
    `Content-Type: text/${subtype}; charset="us-ascii"`,
    'MIME-Version: 1.0',
    'Content-Transfer-Encoding: 7bit',
    `Content-Disposition: attachment; filename="${subtype === 'cloud-config' ? 'cloud-config' : 'config'}"`,
    '',
    userData,
    `--${boundary}--`,
    '',
  ].join('\n');
}

function serverOf(rc: { cloud: Cloud; resource: StackResource }): Server | undefined {
  return rc.resource.physicalId ? rc.cloud.store.servers.get(rc.resource.physicalId) : undefined;
}

async function waitServer(rc: ResourceContext, id: string, want: 'ACTIVE' | 'VERIFY_RESIZE'): Promise<void> {
  const outcome = await rc.cloud.store.waitFor(() => {
    const s = rc.cloud.store.servers.get(id);
    if (!s) return 'gone';
    const status = serverStatus(s);
    if (status === 'ERROR') return 'error';
    if (status === want && !s.taskState) return 'ok';
    return undefined;
  }, rc.signal);
  if (outcome === 'gone') throw new ResourceFailure('NotFound', `Instance ${id} could not be found. (HTTP 404)`);
  if (outcome === 'error') {
    const fault = rc.cloud.store.servers.get(id)?.fault;
    throw new ResourceFailure('ResourceInError', `Went to status ERROR due to "Message: ${fault?.message ?? 'Unknown'}, Code: ${fault?.code ?? 500}"`);
  }
}

const server: ResourcePlugin = {
  properties: {
    name: { updateAllowed: true },
    image: { required: true },
    flavor: { required: true, updateAllowed: true },
    key_name: {},
    networks: {},
    user_data: { default: '' },
    user_data_format: { default: 'HEAT_CFNTOOLS' },
    user_data_update_policy: { updateAllowed: true },
    flavor_update_policy: { updateAllowed: true },
    image_update_policy: { updateAllowed: true },
    metadata: { updateAllowed: true },
    security_groups: {},
    availability_zone: {},
    config_drive: {},
    admin_pass: { updateAllowed: true },
    software_config_transport: { updateAllowed: true },
    tags: { updateAllowed: true },
    deployment_swift_data: { updateAllowed: true },
  },

  async create(rc, props) {
    const cloud = rc.cloud;
    const image = findImage(rc, String(props.image));
    const flavorRef = String(props.flavor);
    const flavor = cloud.compute.findFlavor(flavorRef);
    if (!flavor) throw propError(rc, 'flavor', flavorRef, `No Flavor matching {'name': '${flavorRef}'}.`);
    const keyName = str(props.key_name);
    if (keyName && !cloud.store.keypairs.has(`${rc.auth.userId}/${keyName}`)) throw propError(rc, 'key_name', keyName, `The Key (${keyName}) could not be found.`);

    const networks: { uuid?: string; port?: string; fixed_ip?: string }[] = [];
    if (props.networks !== undefined && props.networks !== null) {
      if (!Array.isArray(props.networks)) throw propError(rc, 'networks', JSON.stringify(props.networks), 'Value must be a list');
      for (const n of props.networks) {
        if (!isPlainObject(n)) throw propError(rc, 'networks', JSON.stringify(n), 'Value must be a map');
        const port = str(n.port);
        if (port) {
          networks.push({ port });
          continue;
        }
        const ref = str(n.network) ?? str(n.uuid);
        if (!ref) throw propError(rc, 'networks', JSON.stringify(n), 'One of the properties "network", "port" or "subnet" should be set for the specified network of server.');
        const net = cloud.network.findNetwork(rc.auth, ref);
        if (!net) throw propError(rc, 'networks', ref, `Unable to find network with name or id '${ref}'`);
        networks.push({ uuid: net.id, fixed_ip: str(n.fixed_ip) });
      }
    }

    let userData = str(props.user_data) ?? '';
    userData = softwareConfig(cloud, userData) ?? userData;
    const format = str(props.user_data_format) ?? 'HEAT_CFNTOOLS';
    if (!['RAW', 'SOFTWARE_CONFIG', 'HEAT_CFNTOOLS'].includes(format)) throw propError(rc, 'user_data_format', format, '"' + format + '" is not an allowed value [HEAT_CFNTOOLS, RAW, SOFTWARE_CONFIG]');
    const encoded = userData || format !== 'RAW' ? Buffer.from(buildUserData(userData, format, `===============${cloud.rng.hex(19)}==`)).toString('base64') : null;

    const metadata: Record<string, string> = {};
    if (isPlainObject(props.metadata)) for (const [k, v] of Object.entries(props.metadata)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
    const securityGroups = Array.isArray(props.security_groups) ? props.security_groups.map(String) : undefined;
    const name = str(props.name) ?? `${rc.stack.name}-${rc.resource.name}-${cloud.rng.hex(12)}`.toLowerCase();

    let created: Server;
    try {
      ({ server: created } = await cloud.compute.create(rc.auth, {
        name,
        flavorRef: flavor.id,
        imageRef: image.id,
        networks: networks.length ? networks : 'auto',
        keyName: keyName ?? null,
        userData: encoded,
        metadata,
        securityGroups,
        availabilityZone: str(props.availability_zone),
      }));
    } catch (err) {
      fromApiError(err);
    }
    rc.created(created.id);
    await waitServer(rc, created.id, 'ACTIVE');
  },

  async update(rc, oldProps, newProps) {
    const s = serverOf(rc);
    if (!s) throw new ResourceFailure('NotFound', `Instance ${rc.resource.physicalId} could not be found. (HTTP 404)`);
    if (!deepEqual(oldProps.name, newProps.name)) {
      s.name = str(newProps.name) ?? `${rc.stack.name}-${rc.resource.name}-${rc.cloud.rng.hex(12)}`.toLowerCase();
      s.updatedAt = Date.now();
    }
    if (!deepEqual(oldProps.metadata, newProps.metadata)) {
      const metadata: Record<string, string> = {};
      if (isPlainObject(newProps.metadata)) for (const [k, v] of Object.entries(newProps.metadata)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      s.metadata = metadata;
      s.updatedAt = Date.now();
    }
    if (!deepEqual(oldProps.tags, newProps.tags)) s.tags = Array.isArray(newProps.tags) ? newProps.tags.map(String) : [];
    rc.cloud.store.changed();
    if (!deepEqual(oldProps.flavor, newProps.flavor)) {
      const ref = String(newProps.flavor);
      const flavor = rc.cloud.compute.findFlavor(ref);
      if (!flavor) throw propError(rc, 'flavor', ref, `No Flavor matching {'name': '${ref}'}.`);
      if (flavor.id !== s.flavorId) {
        // Heat resizes, waits for VERIFY_RESIZE, confirms, and waits for the server to settle.
        try {
          rc.cloud.compute.resize(rc.auth, s.id, flavor.id);
        } catch (err) {
          fromApiError(err);
        }
        await waitServer(rc, s.id, 'VERIFY_RESIZE');
        try {
          rc.cloud.compute.confirmResize(rc.auth, s.id);
        } catch (err) {
          fromApiError(err);
        }
      }
    }
  },

  prepareForReplace(rc) {
    // Heat's Server.prepare_for_replace: ports from the template are detached from the old server
    // so the replacement can bind them; the ports Nova made itself go with the old server.
    const s = serverOf(rc);
    if (!s) return;
    for (const portId of [...s.portIds]) {
      if (s.ownedPortIds.includes(portId)) continue;
      const p = rc.cloud.store.ports.get(portId);
      if (p) rc.cloud.network.unbindPort(p);
      s.portIds = s.portIds.filter((x) => x !== portId);
    }
    rc.cloud.store.changed();
  },

  async delete(rc) {
    const id = rc.resource.physicalId;
    if (!id || !rc.cloud.store.servers.has(id)) return;
    try {
      rc.cloud.compute.delete(rc.auth, id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      fromApiError(err);
    }
    await rc.cloud.store.waitFor(() => (rc.cloud.store.servers.has(id) ? undefined : true), rc.signal);
  },

  attribute(rc, name) {
    const s = serverOf(rc);
    if (!s) return null;
    const addresses = rc.cloud.network.addressesForServer(s);
    switch (name) {
      case 'name':
        return s.name;
      case 'first_address': {
        for (const list of Object.values(addresses)) {
          const fixed = list.find((a) => a['OS-EXT-IPS:type'] === 'fixed' && a.version === 4);
          if (fixed) return fixed.addr;
        }
        return '';
      }
      case 'addresses': {
        const out: Record<string, unknown[]> = {};
        for (const portId of s.portIds) {
          const port = rc.cloud.store.ports.get(portId);
          if (!port) continue;
          const net = rc.cloud.store.networks.get(port.networkId);
          const key = net?.name ?? port.networkId;
          for (const a of addresses[key] ?? []) {
            if (a['OS-EXT-IPS-MAC:mac_addr'] === port.macAddress) (out[key] ??= []).push({ ...a, port: port.id });
          }
        }
        return out;
      }
      case 'networks': {
        const out: Record<string, string[]> = {};
        for (const portId of s.portIds) {
          const port = rc.cloud.store.ports.get(portId);
          if (!port) continue;
          const net = rc.cloud.store.networks.get(port.networkId);
          const ips = (addresses[net?.name ?? port.networkId] ?? []).map((a) => a.addr);
          if (net) {
            out[net.name] = [...new Set([...(out[net.name] ?? []), ...ips])];
            out[net.id] = [...new Set([...(out[net.id] ?? []), ...ips])];
          }
        }
        return out;
      }
      case 'accessIPv4':
      case 'accessIPv6':
        return '';
      case 'instance_name':
        return `instance-${s.id.slice(0, 8)}`;
      case 'console_urls':
      case 'os_collect_config':
        return {};
      case 'show':
        return { id: s.id, name: s.name, status: serverStatus(s), addresses, metadata: s.metadata, key_name: s.keyName, flavor: { id: s.flavorId }, image: { id: s.imageId } };
      default:
        return null;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// OS::Neutron::Port, OS::Neutron::FloatingIP, OS::Neutron::FloatingIPAssociation

const port: ResourcePlugin = {
  properties: {
    network: { required: true },
    name: { updateAllowed: true },
    fixed_ips: {},
    security_groups: { updateAllowed: true },
    admin_state_up: { updateAllowed: true, default: true },
    mac_address: {},
    port_security_enabled: { updateAllowed: true },
    allowed_address_pairs: { updateAllowed: true },
    value_specs: { updateAllowed: true },
    binding_vnic_type: {},
    device_id: { updateAllowed: true },
    device_owner: { updateAllowed: true },
    description: { updateAllowed: true },
    tags: { updateAllowed: true },
  },

  async create(rc, props) {
    const cloud = rc.cloud;
    const ref = String(props.network);
    const net = cloud.network.findNetwork(rc.auth, ref);
    if (!net) throw propError(rc, 'network', ref, `Unable to find network with name or id '${ref}'`);
    const fixedIps = Array.isArray(props.fixed_ips)
      ? props.fixed_ips.map((f) => {
          const m = isPlainObject(f) ? f : {};
          let subnetId = str(m.subnet) ?? str(m.subnet_id);
          if (subnetId && !cloud.store.subnets.has(subnetId)) {
            subnetId = [...cloud.store.subnets.values()].find((s) => s.name === subnetId && s.networkId === net.id)?.id ?? subnetId;
          }
          return { subnetId, ipAddress: str(m.ip_address) };
        })
      : undefined;
    try {
      const sgs = Array.isArray(props.security_groups) ? cloud.network.resolveSecurityGroups(rc.auth.projectId, props.security_groups.map(String)) : undefined;
      const p = cloud.network.createPort(rc.auth.projectId, {
        networkId: net.id,
        name: str(props.name) ?? `${rc.stack.name}-${rc.resource.name}-${cloud.rng.hex(12)}`.toLowerCase(),
        description: str(props.description),
        fixedIps,
        securityGroupIds: sgs,
        adminStateUp: props.admin_state_up === false ? false : true,
      });
      rc.created(p.id);
    } catch (err) {
      fromApiError(err);
    }
  },

  async update(rc, oldProps, newProps) {
    const p = rc.cloud.store.ports.get(rc.resource.physicalId);
    if (!p) throw new ResourceFailure('PortNotFound', `Port ${rc.resource.physicalId} could not be found. (HTTP 404)`);
    if (!deepEqual(oldProps.name, newProps.name)) p.name = str(newProps.name) ?? p.name;
    if (!deepEqual(oldProps.description, newProps.description)) p.description = str(newProps.description) ?? '';
    if (!deepEqual(oldProps.admin_state_up, newProps.admin_state_up)) p.adminStateUp = newProps.admin_state_up !== false;
    if (!deepEqual(oldProps.security_groups, newProps.security_groups)) {
      try {
        p.securityGroupIds = rc.cloud.network.resolveSecurityGroups(p.projectId, Array.isArray(newProps.security_groups) ? newProps.security_groups.map(String) : ['default']);
      } catch (err) {
        fromApiError(err);
      }
    }
    p.updatedAt = Date.now();
    p.revision++;
    rc.cloud.store.changed();
  },

  async delete(rc) {
    if (rc.resource.physicalId) rc.cloud.network.deletePort(rc.resource.physicalId);
  },

  attribute(rc, name) {
    const p = rc.cloud.store.ports.get(rc.resource.physicalId);
    if (!p) return null;
    const fixedIps = p.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress }));
    switch (name) {
      case 'fixed_ips':
        return fixedIps;
      case 'mac_address':
        return p.macAddress;
      case 'network_id':
        return p.networkId;
      case 'name':
        return p.name;
      case 'device_id':
        return p.deviceId;
      case 'device_owner':
        return p.deviceOwner;
      case 'status':
        return p.status;
      case 'security_groups':
        return [...p.securityGroupIds];
      case 'admin_state_up':
        return p.adminStateUp;
      case 'subnets':
        return p.fixedIps.map((f) => f.subnetId);
      case 'show':
        return { id: p.id, name: p.name, network_id: p.networkId, mac_address: p.macAddress, fixed_ips: fixedIps, device_id: p.deviceId, status: p.status };
      default:
        return null;
    }
  },
};

const floatingIp: ResourcePlugin = {
  properties: {
    floating_network: { required: true },
    port_id: { updateAllowed: true },
    fixed_ip_address: { updateAllowed: true },
    floating_ip_address: {},
    value_specs: {},
    dns_name: {},
    dns_domain: {},
  },

  async create(rc, props) {
    const ref = String(props.floating_network);
    const net = rc.cloud.network.findNetwork(rc.auth, ref);
    if (!net) throw propError(rc, 'floating_network', ref, `Unable to find network with name or id '${ref}'`);
    try {
      const fip = rc.cloud.network.createFloatingIp(rc.auth.projectId, {
        floatingNetworkId: net.id,
        portId: str(props.port_id) ?? null,
        fixedIpAddress: str(props.fixed_ip_address) ?? null,
        floatingIpAddress: str(props.floating_ip_address),
      });
      rc.created(fip.id);
    } catch (err) {
      fromApiError(err);
    }
  },

  async update(rc, _old, newProps) {
    const fip = rc.cloud.store.floatingIps.get(rc.resource.physicalId);
    if (!fip) throw new ResourceFailure('NotFound', `Floating IP ${rc.resource.physicalId} could not be found (HTTP 404)`);
    const portId = str(newProps.port_id);
    try {
      if (portId) rc.cloud.network.checkAssociation(fip, portId, str(newProps.fixed_ip_address));
    } catch (err) {
      fromApiError(err);
    }
    rc.cloud.network.setFloatingPort(fip, portId ?? null, str(newProps.fixed_ip_address));
  },

  async delete(rc) {
    if (rc.resource.physicalId) rc.cloud.network.deleteFloatingIp(rc.resource.physicalId);
  },

  attribute(rc, name) {
    const f = rc.cloud.store.floatingIps.get(rc.resource.physicalId);
    if (!f) return null;
    switch (name) {
      case 'floating_ip_address':
        return f.floatingIpAddress;
      case 'fixed_ip_address':
        return f.fixedIpAddress;
      case 'port_id':
        return f.portId;
      case 'floating_network_id':
        return f.floatingNetworkId;
      case 'router_id':
        return f.routerId;
      case 'show':
        return { id: f.id, floating_ip_address: f.floatingIpAddress, fixed_ip_address: f.fixedIpAddress, port_id: f.portId, floating_network_id: f.floatingNetworkId };
      default:
        return null;
    }
  },
};

const floatingIpAssociation: ResourcePlugin = {
  properties: {
    floatingip_id: { required: true, updateAllowed: true },
    port_id: { required: true, updateAllowed: true },
    fixed_ip_address: { updateAllowed: true },
  },

  async create(rc, props) {
    const fip = rc.cloud.store.floatingIps.get(String(props.floatingip_id));
    if (!fip || fip.projectId !== rc.auth.projectId) throw new ResourceFailure('NotFound', `Floating IP ${String(props.floatingip_id)} could not be found (HTTP 404)`);
    try {
      rc.cloud.network.checkAssociation(fip, String(props.port_id), str(props.fixed_ip_address));
    } catch (err) {
      fromApiError(err);
    }
    rc.cloud.network.setFloatingPort(fip, String(props.port_id), str(props.fixed_ip_address));
    rc.created(`${fip.id}:${String(props.port_id)}`, { floatingIpId: fip.id });
  },

  async update(rc, _old, newProps) {
    await floatingIpAssociation.delete(rc);
    await floatingIpAssociation.create(rc, newProps);
  },

  async delete(rc) {
    const fip = rc.cloud.store.floatingIps.get(String(rc.resource.data.floatingIpId ?? ''));
    const portId = rc.resource.physicalId.split(':')[1];
    if (fip && fip.portId === portId) rc.cloud.network.setFloatingPort(fip, null);
  },

  attribute() {
    return null;
  },
};

// ---------------------------------------------------------------------------------------------
// OS::Neutron::Net, OS::Neutron::Subnet, OS::Neutron::Router, OS::Neutron::RouterInterface

function findNetworkProp(rc: { cloud: Cloud; auth: AuthContext; resource: StackResource }, prop: string, ref: string) {
  const net = rc.cloud.network.findNetwork(rc.auth, ref);
  if (!net) throw propError(rc, prop, ref, `Unable to find network with name or id '${ref}'`);
  return net;
}

function findSubnetProp(rc: { cloud: Cloud; auth: AuthContext; resource: StackResource }, prop: string, ref: string): Subnet {
  const store = rc.cloud.store;
  const visible = (s: Subnet) => {
    const n = store.networks.get(s.networkId);
    return !!n && rc.cloud.network.canSeeNetwork(rc.auth, n);
  };
  const byId = store.subnets.get(ref);
  if (byId && visible(byId)) return byId;
  const named = [...store.subnets.values()].filter((s) => s.name === ref && visible(s));
  if (named.length !== 1) throw propError(rc, prop, ref, named.length ? `Multiple physical resources were found with name (${ref}).` : `Unable to find subnet with name or id '${ref}'`);
  return named[0];
}

const neutronNet: ResourcePlugin = {
  properties: {
    name: { updateAllowed: true },
    admin_state_up: { updateAllowed: true, default: true },
    shared: { updateAllowed: true },
    tenant_id: {},
    port_security_enabled: { updateAllowed: true },
    value_specs: { updateAllowed: true },
    dhcp_agent_ids: { updateAllowed: true },
    qos_policy: { updateAllowed: true },
    dns_domain: { updateAllowed: true },
    availability_zone_hints: {},
    tags: { updateAllowed: true },
    description: { updateAllowed: true },
  },

  async create(rc, props) {
    if (props.shared === true && !rc.auth.isAdmin) throw new ResourceFailure('Forbidden', '(rule:create_network:shared) is disallowed by policy (HTTP 403)');
    try {
      const n = rc.cloud.network.createNetwork(rc.auth.projectId, {
        name: str(props.name) ?? `${rc.stack.name}-${rc.resource.name}-${rc.cloud.rng.hex(12)}`.toLowerCase(),
        description: str(props.description),
        adminStateUp: props.admin_state_up !== false,
        shared: props.shared === true,
      });
      rc.created(n.id);
    } catch (err) {
      fromApiError(err);
    }
  },

  async update(rc, oldProps, newProps) {
    const n = rc.cloud.store.networks.get(rc.resource.physicalId);
    if (!n) throw new ResourceFailure('NotFound', `Network ${rc.resource.physicalId} could not be found. (HTTP 404)`);
    if (!deepEqual(oldProps.name, newProps.name)) n.name = str(newProps.name) ?? n.name;
    if (!deepEqual(oldProps.description, newProps.description)) n.description = str(newProps.description) ?? '';
    if (!deepEqual(oldProps.admin_state_up, newProps.admin_state_up)) n.adminStateUp = newProps.admin_state_up !== false;
    n.updatedAt = Date.now();
    n.revision++;
    rc.cloud.store.changed();
  },

  async delete(rc) {
    if (!rc.resource.physicalId) return;
    try {
      rc.cloud.network.deleteNetwork(rc.resource.physicalId);
    } catch (err) {
      fromApiError(err);
    }
  },

  attribute(rc, name) {
    const n = rc.cloud.store.networks.get(rc.resource.physicalId);
    if (!n) return null;
    switch (name) {
      case 'name':
        return n.name;
      case 'subnets':
        return [...n.subnetIds];
      case 'status':
        return 'ACTIVE';
      case 'admin_state_up':
        return n.adminStateUp ?? true;
      case 'mtu':
        return n.mtu;
      case 'tenant_id':
        return n.projectId;
      case 'port_security_enabled':
        return true;
      case 'l2_adjacency':
        return true;
      case 'segments':
        return [];
      case 'show':
        return { id: n.id, name: n.name, subnets: [...n.subnetIds], status: 'ACTIVE', mtu: n.mtu, shared: n.shared, tenant_id: n.projectId, project_id: n.projectId };
      default:
        return null;
    }
  },
};

const neutronSubnet: ResourcePlugin = {
  properties: {
    network: {},
    network_id: {},
    cidr: {},
    ip_version: { default: 4 },
    gateway_ip: {},
    allocation_pools: {},
    dns_nameservers: { updateAllowed: true },
    enable_dhcp: { updateAllowed: true, default: true },
    name: { updateAllowed: true },
    tenant_id: {},
    host_routes: { updateAllowed: true },
    subnetpool: {},
    prefixlen: {},
    ipv6_address_mode: {},
    ipv6_ra_mode: {},
    value_specs: { updateAllowed: true },
    segment: { updateAllowed: true },
    tags: { updateAllowed: true },
    description: { updateAllowed: true },
  },

  async create(rc, props) {
    const ref = str(props.network) ?? str(props.network_id);
    if (!ref) throw new ResourceFailure('StackValidationFailed', `Property error: ${rc.resource.name}.Properties: One of the properties "network" or "network_id" should be set.`);
    const net = findNetworkProp(rc, 'network', ref);
    if (!rc.auth.isAdmin && net.projectId !== rc.auth.projectId) throw new ResourceFailure('Forbidden', '(rule:create_subnet and rule:create_subnet:network_id) is disallowed by policy (HTTP 403)');
    if (Number(props.ip_version ?? 4) !== 4) throw propError(rc, 'ip_version', props.ip_version, 'IPv6 subnets are not served by this cloud.');
    if (props.subnetpool !== undefined && props.subnetpool !== null) throw propError(rc, 'subnetpool', props.subnetpool, 'subnet pools are not served by this cloud; give a cidr.');
    // Heat: gateway_ip null, ~ or "" makes a subnet without a gateway; omitted lets Neutron pick the first address.
    const gatewayIp = !('gateway_ip' in props) || props.gateway_ip === undefined ? undefined : props.gateway_ip === null || props.gateway_ip === '' ? null : props.gateway_ip;
    try {
      const s = rc.cloud.network.createSubnet(rc.auth.projectId, {
        networkId: net.id,
        cidr: props.cidr,
        name: str(props.name) ?? `${rc.stack.name}-${rc.resource.name}-${rc.cloud.rng.hex(12)}`.toLowerCase(),
        description: str(props.description),
        gatewayIp,
        allocationPools: props.allocation_pools ?? undefined,
        dnsNameservers: props.dns_nameservers ?? undefined,
        enableDhcp: props.enable_dhcp !== false,
      });
      rc.created(s.id);
    } catch (err) {
      fromApiError(err);
    }
  },

  async update(rc, oldProps, newProps) {
    const s = rc.cloud.store.subnets.get(rc.resource.physicalId);
    if (!s) throw new ResourceFailure('NotFound', `Subnet ${rc.resource.physicalId} could not be found. (HTTP 404)`);
    if (!deepEqual(oldProps.name, newProps.name)) s.name = str(newProps.name) ?? s.name;
    if (!deepEqual(oldProps.description, newProps.description)) s.description = str(newProps.description) ?? '';
    if (!deepEqual(oldProps.enable_dhcp, newProps.enable_dhcp)) s.enableDhcp = newProps.enable_dhcp !== false;
    if (!deepEqual(oldProps.dns_nameservers, newProps.dns_nameservers)) {
      const dns = newProps.dns_nameservers ?? [];
      if (!Array.isArray(dns) || !dns.every((d) => typeof d === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(d))) throw propError(rc, 'dns_nameservers', JSON.stringify(dns), 'not a list of IP addresses');
      s.dnsNameservers = dns as string[];
    }
    s.updatedAt = Date.now();
    s.revision++;
    rc.cloud.store.changed();
  },

  async delete(rc) {
    if (!rc.resource.physicalId) return;
    try {
      rc.cloud.network.deleteSubnet(rc.resource.physicalId);
    } catch (err) {
      fromApiError(err);
    }
  },

  attribute(rc, name) {
    const s = rc.cloud.store.subnets.get(rc.resource.physicalId);
    if (!s) return null;
    switch (name) {
      case 'name':
        return s.name;
      case 'network_id':
        return s.networkId;
      case 'tenant_id':
        return s.projectId;
      case 'allocation_pools':
        return s.allocationPools.map((p) => ({ ...p }));
      case 'gateway_ip':
        return s.gatewayIp;
      case 'host_routes':
        return [];
      case 'ip_version':
        return 4;
      case 'cidr':
        return s.cidr;
      case 'dns_nameservers':
        return [...s.dnsNameservers];
      case 'enable_dhcp':
        return s.enableDhcp ?? true;
      case 'show':
        return { id: s.id, name: s.name, network_id: s.networkId, cidr: s.cidr, gateway_ip: s.gatewayIp, allocation_pools: s.allocationPools, ip_version: 4 };
      default:
        return null;
    }
  },
};

function routerGateway(rc: { cloud: Cloud; auth: AuthContext; resource: StackResource }, info: unknown): { networkId: string; enableSnat?: boolean } | null {
  if (info === undefined || info === null) return null;
  if (!isPlainObject(info)) throw propError(rc, 'external_gateway_info', JSON.stringify(info), 'Value must be a map');
  const ref = str(info.network) ?? str(info.network_id);
  if (!ref) throw propError(rc, 'external_gateway_info', JSON.stringify(info), 'Property network not assigned');
  if (Array.isArray(info.external_fixed_ips) && info.external_fixed_ips.length) throw propError(rc, 'external_gateway_info.external_fixed_ips', JSON.stringify(info.external_fixed_ips), 'choosing external fixed IPs is not served by this cloud.');
  return { networkId: findNetworkProp(rc, 'external_gateway_info.network', ref).id, enableSnat: typeof info.enable_snat === 'boolean' ? info.enable_snat : undefined };
}

const neutronRouter: ResourcePlugin = {
  properties: {
    name: { updateAllowed: true },
    external_gateway_info: { updateAllowed: true },
    admin_state_up: { updateAllowed: true, default: true },
    value_specs: { updateAllowed: true },
    distributed: {},
    ha: {},
    l3_agent_ids: { updateAllowed: true },
    availability_zone_hints: {},
    tags: { updateAllowed: true },
    description: { updateAllowed: true },
  },

  async create(rc, props) {
    if (props.distributed === true || props.ha === true) throw propError(rc, props.ha === true ? 'ha' : 'distributed', 'True', 'distributed and HA routers are not served by this cloud.');
    const externalGateway = routerGateway(rc, props.external_gateway_info);
    try {
      const router = rc.cloud.network.createRouter(rc.auth.projectId, {
        name: str(props.name) ?? `${rc.stack.name}-${rc.resource.name}-${rc.cloud.rng.hex(12)}`.toLowerCase(),
        description: str(props.description),
        adminStateUp: props.admin_state_up !== false,
        externalGateway,
      });
      rc.created(router.id);
    } catch (err) {
      fromApiError(err);
    }
  },

  async update(rc, oldProps, newProps) {
    const router = rc.cloud.store.routers.get(rc.resource.physicalId);
    if (!router) throw new ResourceFailure('NotFound', `Router ${rc.resource.physicalId} could not be found (HTTP 404)`);
    if (!deepEqual(oldProps.external_gateway_info, newProps.external_gateway_info)) {
      const gw = routerGateway(rc, newProps.external_gateway_info);
      try {
        rc.cloud.network.setRouterGateway(router, gw);
      } catch (err) {
        fromApiError(err);
      }
    }
    if (!deepEqual(oldProps.name, newProps.name)) router.name = str(newProps.name) ?? router.name;
    if (!deepEqual(oldProps.description, newProps.description)) router.description = str(newProps.description) ?? '';
    if (!deepEqual(oldProps.admin_state_up, newProps.admin_state_up)) router.adminStateUp = newProps.admin_state_up !== false;
    router.updatedAt = Date.now();
    router.revision++;
    rc.cloud.store.changed();
  },

  async delete(rc) {
    if (!rc.resource.physicalId) return;
    try {
      rc.cloud.network.deleteRouter(rc.resource.physicalId);
    } catch (err) {
      fromApiError(err);
    }
  },

  attribute(rc, name) {
    const router = rc.cloud.store.routers.get(rc.resource.physicalId);
    if (!router) return null;
    const gw = router.externalGateway;
    const gwPort = gw ? rc.cloud.store.ports.get(gw.portId) : undefined;
    const info = gw ? { network_id: gw.networkId, enable_snat: gw.enableSnat, external_fixed_ips: (gwPort?.fixedIps ?? []).map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })) } : null;
    switch (name) {
      case 'name':
        return router.name;
      case 'status':
        return 'ACTIVE';
      case 'external_gateway_info':
        return info;
      case 'admin_state_up':
        return router.adminStateUp;
      case 'tenant_id':
        return router.projectId;
      case 'show':
        return { id: router.id, name: router.name, status: 'ACTIVE', external_gateway_info: info, admin_state_up: router.adminStateUp, tenant_id: router.projectId };
      default:
        return null;
    }
  },
};

const routerInterface: ResourcePlugin = {
  properties: { router: {}, router_id: {}, subnet: {}, subnet_id: {}, port: {}, port_id: {} },

  async create(rc, props) {
    const routerRef = str(props.router) ?? str(props.router_id);
    if (!routerRef) throw new ResourceFailure('StackValidationFailed', `Property error: ${rc.resource.name}.Properties: Property router not assigned`);
    const subnetRef = str(props.subnet) ?? str(props.subnet_id);
    const portRef = str(props.port) ?? str(props.port_id);
    if (!!subnetRef === !!portRef) throw new ResourceFailure('StackValidationFailed', `Property error: ${rc.resource.name}.Properties: Exactly one of "subnet" or "port" should be set for the router interface.`);
    const store = rc.cloud.store;
    const router = store.routers.get(routerRef) ?? [...store.routers.values()].find((r) => r.name === routerRef && r.projectId === rc.auth.projectId);
    if (!router || !rc.cloud.network.canSeeOwned(rc.auth, router)) throw propError(rc, 'router', routerRef, `Unable to find router with name or id '${routerRef}'`);
    const subnetId = subnetRef ? findSubnetProp(rc, 'subnet', subnetRef).id : undefined;
    try {
      const info = rc.cloud.network.addRouterInterface(rc.auth, router, { subnetId, portId: portRef });
      rc.created(subnetId ? `${router.id}:subnet_id=${subnetId}` : `${router.id}:port_id=${info.port_id}`);
    } catch (err) {
      fromApiError(err);
    }
  },

  async delete(rc) {
    const [routerId, spec] = rc.resource.physicalId.split(':');
    const router = routerId ? rc.cloud.store.routers.get(routerId) : undefined;
    if (!router || !spec) return;
    const [key, value] = spec.split('=');
    try {
      rc.cloud.network.removeRouterInterface(router, key === 'port_id' ? { portId: value } : { subnetId: value });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      fromApiError(err);
    }
  },

  attribute() {
    return null;
  },
};

// ---------------------------------------------------------------------------------------------
// OS::Nova::KeyPair

const keyPair: ResourcePlugin = {
  properties: {
    name: { required: true },
    public_key: {},
    save_private_key: { default: false },
    type: {},
    user: {},
  },

  async create(rc, props) {
    const name = String(props.name);
    try {
      const { keypair, privateKey } = await rc.cloud.compute.createKeypair(rc.auth.userId, name, str(props.public_key), str(props.type), true);
      rc.created(keypair.name, props.save_private_key === true && privateKey ? { privateKey } : {});
    } catch (err) {
      fromApiError(err);
    }
  },

  async delete(rc) {
    const name = rc.resource.physicalId;
    if (name && rc.cloud.store.keypairs.has(`${rc.auth.userId}/${name}`)) rc.cloud.compute.deleteKeypair(rc.auth.userId, name);
  },

  attribute(rc, name) {
    const k = rc.cloud.store.keypairs.get(`${rc.auth.userId}/${rc.resource.physicalId}`);
    switch (name) {
      case 'public_key':
        return k?.publicKey ?? null;
      case 'private_key':
        return (rc.resource.data.privateKey as string | undefined) ?? '';
      case 'show':
        return k ? { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, type: k.type } : null;
      default:
        return null;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// OS::Heat::CloudConfig and OS::Heat::SoftwareConfig (immutable software configs)

const cloudConfig: ResourcePlugin = {
  properties: { cloud_config: {} },
  async create(rc, props) {
    rc.created(rc.cloud.rng.uuid(), { config: renderCloudConfig(props.cloud_config ?? {}) });
  },
  async delete() {
    // A software config has nothing to clean up in other services.
  },
  attribute(rc, name) {
    return name === 'config' ? ((rc.resource.data.config as string | undefined) ?? null) : null;
  },
};

const softwareConfigResource: ResourcePlugin = {
  properties: { config: {}, group: { default: 'Heat::Ungrouped' }, inputs: {}, outputs: {}, options: {} },
  async create(rc, props) {
    rc.created(rc.cloud.rng.uuid(), { config: str(props.config) ?? '' });
  },
  async delete() {
    // Nothing outside Heat.
  },
  attribute(rc, name) {
    return name === 'config' ? ((rc.resource.data.config as string | undefined) ?? null) : null;
  },
};

export const RESOURCE_TYPES: Record<string, ResourcePlugin> = {
  'OS::Nova::Server': server,
  'OS::Nova::KeyPair': keyPair,
  'OS::Neutron::Port': port,
  'OS::Neutron::FloatingIP': floatingIp,
  'OS::Neutron::FloatingIPAssociation': floatingIpAssociation,
  'OS::Neutron::Net': neutronNet,
  'OS::Neutron::Subnet': neutronSubnet,
  'OS::Neutron::Router': neutronRouter,
  'OS::Neutron::RouterInterface': routerInterface,
  'OS::Heat::CloudConfig': cloudConfig,
  'OS::Heat::SoftwareConfig': softwareConfigResource,
};
