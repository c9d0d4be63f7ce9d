/** Read-only infrastructure: zones, service offerings, OS types, guest networks. */
import { renderNetwork, renderOffering, renderOsType, renderZone } from '../render';
import { fields, LISTALL, listResponse, matchesKeyword, PAGING, type CommandDef } from './types';

const ZONE_FIELDS = fields(
  'id:string:the ID of the zone',
  'name:string:the name of the zone',
  'networktype:string:the network type of the zone (Advanced)',
  'allocationstate:string:the allocation state of the zone',
  'securitygroupsenabled:boolean:true if security groups are enabled',
  'dns1:string:the first DNS for the zone',
  'localstorageenabled:boolean:true if local storage offering is enabled',
);

export const listZones: CommandDef = {
  name: 'listZones',
  description: 'Lists zones',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the zone', related: 'listZones' },
    { name: 'name', type: 'string', description: 'the name of the zone' },
    { name: 'available', type: 'boolean', description: 'true to list zones the caller can deploy in' },
    ...PAGING,
  ],
  response: ZONE_FIELDS,
  handle({ engine, params }) {
    const z = engine.zone;
    const ok =
      (!params.str('id') || params.str('id') === z.id) &&
      (!params.str('name') || params.str('name')!.toLowerCase() === z.name.toLowerCase()) &&
      matchesKeyword(params.str('keyword'), z.name);
    return listResponse('zone', ok ? [renderZone(z)] : [], params);
  },
};

export const listServiceOfferings: CommandDef = {
  name: 'listServiceOfferings',
  description: 'Lists all available service offerings',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'ID of the service offering', related: 'listServiceOfferings' },
    { name: 'name', type: 'string', description: 'name of the service offering' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the zone', related: 'listZones' },
    ...PAGING,
  ],
  response: fields(
    'id:string:the id of the service offering',
    'name:string:the name of the service offering',
    'displaytext:string:an alternate display text of the service offering',
    'cpunumber:integer:the number of CPU',
    'cpuspeed:integer:the clock rate CPU speed in Mhz',
    'memory:integer:the memory in MB',
    'created:date:the date this service offering was created',
  ),
  handle({ engine, params }) {
    const id = params.str('id');
    const name = params.str('name')?.toLowerCase();
    const items = engine.infra.offerings
      .filter((o) => (!id || o.id === id) && (!name || o.name.toLowerCase() === name) && matchesKeyword(params.str('keyword'), o.name, o.displaytext))
      .map(renderOffering);
    return listResponse('serviceoffering', items, params);
  },
};

export const listOsTypes: CommandDef = {
  name: 'listOsTypes',
  description: 'Lists all supported OS types for this cloud.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'list by Os type Id', related: 'listOsTypes' },
    { name: 'description', type: 'string', description: 'list os by description' },
    ...PAGING,
  ],
  response: fields('id:string:the ID of the OS type', 'description:string:the name/description of the OS type', 'oscategoryid:string:the ID of the OS category'),
  handle({ engine, params }) {
    const id = params.str('id');
    const description = params.str('description')?.toLowerCase();
    const items = engine.infra.osTypes
      .filter((o) => (!id || o.id === id) && (!description || o.description.toLowerCase() === description) && matchesKeyword(params.str('keyword'), o.description))
      .map(renderOsType);
    return listResponse('ostype', items, params);
  },
};

export const NETWORK_FIELDS = fields(
  'id:string:the id of the network',
  'name:string:the name of the network',
  'displaytext:string:the displaytext of the network',
  'zoneid:string:zone id of the network',
  'cidr:string:Cloudstack managed address space',
  "gateway:string:the network's gateway",
  'netmask:string:the network\'s netmask',
  'state:string:state of the network',
  'type:string:the type of the network',
  'networkofferingid:string:network offering id the network is created from',
  'isdefault:boolean:true if network is default, false otherwise',
  'account:string:the owner of the network',
);

export const listNetworks: CommandDef = {
  name: 'listNetworks',
  description: 'Lists all available networks.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'list networks by ID', related: 'listNetworks' },
    { name: 'zoneid', type: 'uuid', description: 'the zone ID of the network', related: 'listZones' },
    { name: 'name', type: 'string', description: 'list networks by name' },
    LISTALL,
    ...PAGING,
  ],
  response: NETWORK_FIELDS,
  handle({ engine, account, params }) {
    const all = account.admin && params.bool('listall', false);
    const id = params.str('id');
    const zoneid = params.str('zoneid');
    const name = params.str('name')?.toLowerCase();
    const items = engine
      .allNetworks()
      .filter((n) => (all || n.accountId === account.id) && (!id || n.id === id) && (!zoneid || n.zoneId === zoneid))
      .filter((n) => (!name || n.name.toLowerCase() === name) && matchesKeyword(params.str('keyword'), n.name))
      .map((n) => renderNetwork(engine, n));
    return listResponse('network', items, params);
  },
};
