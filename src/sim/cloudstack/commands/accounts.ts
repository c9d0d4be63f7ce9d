/**
 * The caller's account and its resource limits, as a member sees them before deploying:
 * `listResourceLimits` (the most of each resource type the account may hold; -1 = unlimited) and
 * `listAccounts` (the account with its counts: vmtotal, cputotal, memorytotal, beside the limits
 * as strings, "Unlimited" when there is none). Here only instances have a limit (the account's
 * `vmLimit`, max.account.user.vms); CPU and memory are unlimited. Counts are of live VMs (not
 * Destroyed or Expunging), stopped ones included, as CloudStack counts them.
 */
import type { Account } from '../model';
import type { CloudStackEngine } from '../engine';
import { fields, listResponse, PAGING, type CommandDef } from './types';

/** CloudStack's resource types (Resource.ResourceType): number and name. */
const RESOURCE_TYPES = [
  { type: 0, name: 'user_vm' },
  { type: 1, name: 'public_ip' },
  { type: 2, name: 'volume' },
  { type: 3, name: 'snapshot' },
  { type: 4, name: 'template' },
  { type: 5, name: 'project' },
  { type: 6, name: 'network' },
  { type: 7, name: 'vpc' },
  { type: 8, name: 'cpu' },
  { type: 9, name: 'memory' },
  { type: 10, name: 'primary_storage' },
  { type: 11, name: 'secondary_storage' },
] as const;

function usage(engine: CloudStackEngine, account: Account): { vms: number; cpu: number; memory: number } {
  let vms = 0;
  let cpu = 0;
  let memory = 0;
  for (const vm of engine.vms.values()) {
    if (vm.accountId !== account.id || vm.state === 'Destroyed' || vm.state === 'Expunging') continue;
    const o = engine.offering(vm.serviceOfferingId);
    vms++;
    cpu += o?.cpunumber ?? 0;
    memory += o?.memory ?? 0;
  }
  return { vms, cpu, memory };
}

const maxOf = (account: Account, type: number): number => (type === 0 && account.vmLimit !== undefined ? account.vmLimit : -1);

export const listResourceLimits: CommandDef = {
  name: 'listResourceLimits',
  description: 'Lists resource limits.',
  isasync: false,
  params: [
    { name: 'resourcetype', type: 'integer', description: 'Type of resource: 0 instance, 1 public IP, 2 volume, 3 snapshot, 4 template, 5 project, 6 network, 7 VPC, 8 CPU, 9 memory, 10 primary storage, 11 secondary storage' },
    { name: 'resourcetypename', type: 'string', description: 'Type of resource by name (user_vm, cpu, memory, …)' },
    ...PAGING,
  ],
  response: fields(
    'account:string:the account of the resource limit',
    'domainid:string:the domain ID of the resource limit',
    'domain:string:the domain name of the resource limit',
    'resourcetype:string:resource type (a number, as a string)',
    'resourcetypename:string:resource type name',
    'max:long:the maximum number of the resource; -1 means unlimited',
  ),
  handle({ engine, account, params }) {
    const type = params.int('resourcetype');
    const name = params.str('resourcetypename');
    const items = RESOURCE_TYPES.filter((r) => (type === undefined || r.type === type) && (!name || r.name === name)).map((r) => ({
      account: account.name,
      domainid: engine.domainId,
      domain: 'ROOT',
      resourcetype: String(r.type),
      resourcetypename: r.name,
      max: maxOf(account, r.type),
    }));
    return listResponse('resourcelimit', items, params);
  },
};

export const listAccounts: CommandDef = {
  name: 'listAccounts',
  description: 'Lists accounts and provides detailed account information for listed accounts',
  isasync: false,
  params: [{ name: 'name', type: 'string', description: 'name of the account' }, ...PAGING],
  response: fields(
    'id:string:the id of the account',
    'name:string:the name of the account',
    'accounttype:integer:account type (admin, domain-admin, user)',
    'domainid:string:id of the Domain the account belongs to',
    'domain:string:name of the Domain the account belongs to',
    'state:string:the state of the account',
    'vmtotal:long:the total number of virtual machines deployed by this account',
    'vmlimit:string:the total number of virtual machines that can be deployed by this account',
    'vmavailable:string:the total number of virtual machines available for this account to acquire',
    'cputotal:long:the total number of cpu cores owned by account',
    'cpulimit:string:the total number of cpu cores the account can own',
    'cpuavailable:string:the total number of cpu cores available to be created for this account',
    'memorytotal:long:the total memory (in MB) owned by account',
    'memorylimit:string:the total memory (in MB) the account can own',
    'memoryavailable:string:the total memory (in MB) available to be created for this account',
  ),
  handle({ engine, account, params }) {
    // A caller sees its own account (an admin's listall is not simulated).
    const name = params.str('name');
    const u = usage(engine, account);
    const limit = (type: number) => maxOf(account, type);
    const str = (n: number) => (n < 0 ? 'Unlimited' : String(n));
    const avail = (type: number, used: number) => (limit(type) < 0 ? 'Unlimited' : String(Math.max(0, limit(type) - used)));
    const item = {
      id: account.id,
      name: account.name,
      accounttype: account.admin ? 1 : 0,
      domainid: engine.domainId,
      domain: 'ROOT',
      state: 'enabled',
      vmtotal: u.vms,
      vmlimit: str(limit(0)),
      vmavailable: avail(0, u.vms),
      cputotal: u.cpu,
      cpulimit: str(limit(8)),
      cpuavailable: avail(8, u.cpu),
      memorytotal: u.memory,
      memorylimit: str(limit(9)),
      memoryavailable: avail(9, u.memory),
    };
    return listResponse('account', !name || name.toLowerCase() === account.name.toLowerCase() ? [item] : [], params);
  },
};
