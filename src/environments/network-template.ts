/**
 * The Heat template of an environment's private network on OpenStack: a Neutron net, a subnet on
 * it, a router to the external network and the router's interface on the subnet — one stack, so
 * a stack delete removes them all. Pure: no I/O.
 */
import { HEAT_TEMPLATE_VERSION } from '../templates/heat';

/**
 * A /24 in 10.64.0.0/10 picked from the environment id, so two environments of a project rarely
 * share addresses (Neutron allows it: each network is its own space).
 */
export function environmentCidr(envId: string): string {
  let h = 2166136261;
  for (let i = 0; i < envId.length; i++) h = Math.imul(h ^ envId.charCodeAt(i), 16777619) >>> 0;
  return `10.${64 + (h % 64)}.${(h >>> 8) % 256}.0/24`;
}

export function environmentNetworkTemplate(name: string, opts: { cidr: string; externalNetwork?: string }): Record<string, unknown> {
  return {
    heat_template_version: HEAT_TEMPLATE_VERSION,
    description: `vmflow environment network ${name}`,
    resources: {
      net: { type: 'OS::Neutron::Net', properties: { name } },
      subnet: { type: 'OS::Neutron::Subnet', properties: { name: `${name}-subnet`, network: { get_resource: 'net' }, cidr: opts.cidr, ip_version: 4 } },
      ...(opts.externalNetwork
        ? {
            router: { type: 'OS::Neutron::Router', properties: { name: `${name}-router`, external_gateway_info: { network: opts.externalNetwork } } },
            iface: { type: 'OS::Neutron::RouterInterface', properties: { router: { get_resource: 'router' }, subnet: { get_resource: 'subnet' } } },
          }
        : {}),
    },
    outputs: {
      network_id: { description: 'Neutron network id', value: { get_resource: 'net' } },
      subnet_id: { description: 'Neutron subnet id', value: { get_resource: 'subnet' } },
    },
  };
}
