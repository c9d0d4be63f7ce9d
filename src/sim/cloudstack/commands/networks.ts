/**
 * Guest networks an account makes and removes: listNetworkOfferings, createNetwork (synchronous,
 * isolated networks from an offering; the network stays Allocated until a VM is deployed on it)
 * and deleteNetwork (async; the job fails while a VM that is not yet expunged has a NIC on it, as
 * NetworkOrchestrator refuses: "Failed to delete network").
 */
import crypto from 'node:crypto';
import { ApiError, internalError, invalidParameter, invalidParamValue, permissionDenied } from '../api-error';
import type { Account, Network } from '../model';
import { renderNetwork, renderNetworkOffering } from '../render';
import { NETWORK_FIELDS } from './infra';
import { fields, listResponse, matchesKeyword, PAGING, type CommandDef } from './types';

/** max.account.networks on a default install. */
export const NETWORK_LIMIT = 20;

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function octets(ip: string): number[] | undefined {
  const m = IPV4_RE.exec(ip);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  return o.every((x) => x <= 255) ? o : undefined;
}

export const listNetworkOfferings: CommandDef = {
  name: 'listNetworkOfferings',
  description: 'Lists all available network offerings.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'list network offerings by ID', related: 'listNetworkOfferings' },
    { name: 'name', type: 'string', description: 'list network offerings by name' },
    { name: 'guestiptype', type: 'string', description: 'list network offerings by guest type: shared or isolated' },
    { name: 'isdefault', type: 'boolean', description: 'true if need to list only default network offerings' },
    { name: 'state', type: 'string', description: 'list network offerings by state' },
    { name: 'zoneid', type: 'uuid', description: 'list network offerings available for network creation in specific zone', related: 'listZones' },
    ...PAGING,
  ],
  response: fields(
    'id:string:the id of the network offering',
    'name:string:the name of the network offering',
    'displaytext:string:an alternate display text of the network offering',
    'guestiptype:string:guest type of the network offering, can be Shared or Isolated',
    'isdefault:boolean:true if network offering is default',
    'state:string:state of the network offering',
    'specifyvlan:boolean:true if network offering supports vlans, false otherwise',
    'service:list:the list of supported services',
  ),
  handle({ engine, params, lower }) {
    const zoneid = params.str('zoneid');
    if (zoneid && zoneid !== engine.zone.id) throw invalidParamValue(lower, 'zoneid', zoneid);
    const id = params.str('id');
    const name = params.str('name')?.toLowerCase();
    const type = params.str('guestiptype')?.toLowerCase();
    const state = params.str('state')?.toLowerCase();
    const items = engine.infra.networkOfferings
      .filter((o) => (!id || o.id === id) && (!name || o.name.toLowerCase() === name) && (!type || o.guestiptype.toLowerCase() === type))
      .filter((o) => (!params.has('isdefault') || o.isdefault === params.bool('isdefault', false)) && (!state || state === 'enabled'))
      .filter((o) => matchesKeyword(params.str('keyword'), o.name, o.displaytext))
      .map(renderNetworkOffering);
    return listResponse('networkoffering', items, params);
  },
};

export const createNetwork: CommandDef = {
  name: 'createNetwork',
  description: 'Creates a network',
  isasync: false,
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the network' },
    { name: 'displaytext', type: 'string', description: 'the display text of the network' },
    { name: 'networkofferingid', type: 'uuid', required: true, description: 'the network offering ID', related: 'listNetworkOfferings' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'the zone ID for the network', related: 'listZones' },
    { name: 'gateway', type: 'string', description: 'the gateway of the network (a /24 here: netmask 255.255.255.0)' },
    { name: 'netmask', type: 'string', description: 'the netmask of the network' },
    { name: 'account', type: 'string', description: 'account that will own the network (admins only)' },
    { name: 'domainid', type: 'uuid', description: 'domain ID of the account owning the network' },
    { name: 'networkdomain', type: 'string', description: 'network domain' },
  ],
  response: NETWORK_FIELDS,
  handle({ engine, account, params, lower }) {
    const zoneid = params.str('zoneid')!;
    if (zoneid !== engine.zone.id) throw invalidParamValue(lower, 'zoneid', zoneid);
    const offeringId = params.str('networkofferingid')!;
    const offering = engine.networkOffering(offeringId);
    if (!offering) throw invalidParamValue(lower, 'networkofferingid', offeringId);
    let owner: Account = account;
    const accountName = params.str('account');
    if (accountName && accountName !== account.name) {
      if (!account.admin) throw permissionDenied(`Account '${account.name}' does not have permission to create a network for account ${accountName}`);
      const other = engine.infra.accounts.find((a) => a.name === accountName);
      if (!other) throw invalidParameter(`Unable to find account ${accountName} in domain ${engine.domainId}`);
      owner = other;
    }
    if (offering.guestiptype === 'Shared') {
      if (!account.admin) throw permissionDenied('Only Admins can create network with guest type Shared');
      throw invalidParameter('This cloud serves isolated guest networks only; use an offering with guestiptype Isolated');
    }
    const gateway = params.str('gateway');
    const netmask = params.str('netmask');
    if ((gateway === undefined) !== (netmask === undefined)) throw invalidParameter('gateway and netmask should be defined together');
    let prefix: string;
    if (gateway !== undefined) {
      const g = octets(gateway);
      if (!g || g[3] === 0 || g[3] === 255) throw invalidParameter(`Please specify a valid gateway: ${gateway}`);
      if (netmask !== '255.255.255.0') throw invalidParameter(`This cloud serves /24 guest networks only (netmask 255.255.255.0), not ${netmask}`);
      prefix = g.slice(0, 3).join('.');
    } else {
      const used = new Set(engine.allNetworks().map((n) => n.prefix));
      let free: string | undefined;
      for (let b = 1; b < 255 && !free; b++) for (let c = 0; c < 256 && !free; c++) if (!used.has(`10.${b}.${c}`)) free = `10.${b}.${c}`;
      if (!free) throw new ApiError(533, 'Insufficient address capacity: no free guest CIDR in the zone', 4320);
      prefix = free;
    }
    const owned = engine.allNetworks().filter((n) => n.accountId === owner.id).length;
    if (!owner.admin && owned >= NETWORK_LIMIT) {
      throw new ApiError(532, `Maximum number of resources of type 'network' for account name=${owner.name} in domain id=1 has been exceeded.`);
    }
    const network: Network = {
      id: crypto.randomUUID(),
      name: params.str('name')!,
      displaytext: params.str('displaytext') ?? params.str('name')!,
      accountId: owner.id,
      zoneId: engine.zone.id,
      prefix,
      gateway: gateway ?? `${prefix}.1`,
      networkOfferingId: offering.id,
      state: 'Allocated',
      created: Date.now(),
    };
    engine.userNetworks.set(network.id, network);
    engine.markDirty();
    return { network: renderNetwork(engine, network) };
  },
};

export const deleteNetwork: CommandDef = {
  name: 'deleteNetwork',
  description: 'Deletes a network',
  isasync: true,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the network', related: 'listNetworks' },
    { name: 'forced', type: 'boolean', description: 'Force delete a network. Network will be marked as Destroyed even when some of its elements fail to shut down.' },
  ],
  response: fields('success:boolean:true if operation is executed successfully', 'displaytext:string:any text associated with the success or failure'),
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const id = params.str('id')!;
    const network = engine.ownedOrThrow(account, engine.network(id), lower, 'id', id, 'Network');
    if (!engine.userNetworks.has(network.id)) throw invalidParameter(`Network ${network.name} is the account's default guest network, which this cloud keeps`);
    const job = engine.startJob(account, ctx.command, 'Network', network.id, {
      delayMs: engine.timings.deleteMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (!engine.userNetworks.has(network.id)) throw internalError('Failed to delete network');
        // NetworkOrchestrator: "Can't delete the network, not all user vms are expunged".
        if (engine.vmsOnNetwork(network.id).length) throw internalError('Failed to delete network');
        engine.userNetworks.delete(network.id);
        engine.markDirty();
        return { success: true };
      },
    });
    return { jobid: job.id };
  },
};
