/**
 * Virtual machine lifecycle. deployVirtualMachine validates synchronously (as the create phase of
 * a BaseAsyncCreateCmd does) and answers {id, jobid}; state changes happen in the async job:
 * Starting → Running (or Stopped with startvm=false), Stopping → Stopped, Destroyed → Expunging → gone.
 */
import crypto from 'node:crypto';
import { ApiError, internalError, invalidParameter, invalidParamValue, permissionDenied } from '../api-error';
import type { Account, VirtualMachine } from '../model';
import { renderVm } from '../render';
import { fields, LISTALL, listResponse, matchesKeyword, PAGING, type CommandContext, type CommandDef, type ResponseField } from './types';

export const VM_FIELDS: ResponseField[] = fields(
  'id:string:the ID of the virtual machine',
  'name:string:the name of the virtual machine',
  'displayname:string:user generated name. The name of the virtual machine is returned if no displayname exists.',
  'state:string:the state of the virtual machine',
  'account:string:the account associated with the virtual machine',
  'zoneid:string:the ID of the availability zone for the virtual machine',
  'templateid:string:the ID of the template for the virtual machine',
  'serviceofferingid:string:the ID of the service offering of the virtual machine',
  'cpunumber:integer:the number of vCPUs this virtual machine is using',
  'memory:integer:the memory allocated for the virtual machine',
  'nic:set:the list of nics associated with vm',
  'keypair:string:ssh key-pair',
  'created:date:the date when this virtual machine was created',
  'hostid:string:the ID of the host for the virtual machine',
  'instancename:string:instance name of the user vm',
);

const HOSTNAME_RE = /^(?![0-9])[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const MAX_USERDATA_BYTES = 1024 * 1024;

function vmResult(ctx: CommandContext, vm: VirtualMachine) {
  return { virtualmachine: renderVm(ctx.engine, vm) };
}

/** The VM named by `id`, checked for ownership. */
function findVm(ctx: CommandContext, param = 'id'): VirtualMachine {
  const id = ctx.params.str(param)!;
  return ctx.engine.ownedOrThrow(ctx.account, ctx.engine.vm(id), ctx.lower, param, id, 'VM instance');
}

function macFor(id: string): string {
  const h = crypto.createHash('sha1').update(id).digest();
  return ['02', '00', ...[...h.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

function validateUserdata(userdata: string): void {
  const compact = userdata.replace(/\s+/g, '');
  if (!BASE64_RE.test(compact)) throw invalidParameter('User data is not base64 encoded');
  if (Buffer.from(compact, 'base64').length > MAX_USERDATA_BYTES) {
    throw invalidParameter(`User data is too long. The maximum length is ${MAX_USERDATA_BYTES} bytes`);
  }
}

function quotaExceeded(account: Account): ApiError {
  return new ApiError(
    532,
    `Maximum number of resources of type 'user_vm' for account name=${account.name} in domain id=1 has been exceeded.`,
  );
}

export const deployVirtualMachine: CommandDef = {
  name: 'deployVirtualMachine',
  description: 'Creates and automatically starts a virtual machine based on a service offering, disk offering, and template.',
  isasync: true,
  params: [
    { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the ID of the service offering for the virtual machine', related: 'listServiceOfferings' },
    { name: 'templateid', type: 'uuid', required: true, description: 'the ID of the template for the virtual machine', related: 'listTemplates' },
    { name: 'zoneid', type: 'uuid', required: true, description: 'availability zone for the virtual machine', related: 'listZones' },
    { name: 'name', type: 'string', description: 'host name for the virtual machine' },
    { name: 'displayname', type: 'string', description: 'an optional user generated name for the virtual machine' },
    { name: 'startvm', type: 'boolean', description: 'true by default; false creates the VM Stopped' },
    { name: 'userdata', type: 'string', description: 'base64 encoded user data (POST for more than 2 KB)' },
    { name: 'keypair', type: 'string', description: 'name of the ssh key pair used to login to the virtual machine' },
    { name: 'networkids', type: 'list', of: 'uuid', description: 'list of network ids used by virtual machine', related: 'listNetworks' },
  ],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const zoneid = params.str('zoneid')!;
    if (zoneid !== engine.zone.id) throw invalidParamValue(lower, 'zoneid', zoneid);
    const offeringId = params.str('serviceofferingid')!;
    if (!engine.offering(offeringId)) throw invalidParamValue(lower, 'serviceofferingid', offeringId);
    const templateId = params.str('templateid')!;
    const template = engine.template(templateId);
    if (!template) throw invalidParamValue(lower, 'templateid', templateId);
    if (!engine.canSeeTemplate(account, template)) {
      throw permissionDenied(`Account '${account.name}' does not have permission to operate with resource Template ${templateId}`);
    }
    if (!template.isready || !template.file) {
      throw invalidParameter(`Template ${template.name} (${template.id}) has not been completely downloaded to zone ${engine.zone.id}`);
    }

    const networks = (params.list('networkids') ?? []).map((id) => {
      const n = engine.network(id);
      if (!n) throw invalidParamValue(lower, 'networkids', id);
      if (!engine.owns(account, n.accountId)) throw permissionDenied(`Account '${account.name}' does not have permission to operate with resource Network ${id}`);
      return n;
    });
    if (new Set(networks.map((n) => n.id)).size !== networks.length) throw invalidParameter('Network ids must be unique: a VM has one NIC per network');
    // One NIC per network, the first the default; without networkids the account's default network.
    const nicNetworks = networks.length ? networks : [engine.defaultNetwork(account)];

    const id = crypto.randomUUID();
    const name = params.str('name') ?? `VM-${id}`;
    if (!HOSTNAME_RE.test(name)) {
      throw invalidParameter(
        'Invalid name. Vm name can contain ASCII letters \'a\' through \'z\', the digits \'0\' through \'9\', and the hyphen (\'-\'), must be between 1 and 63 characters long, and can\'t start or end with "-" and can\'t start with digit',
      );
    }
    for (const other of engine.vms.values()) {
      const shared = nicNetworks.find((net) => other.nics.some((n) => n.networkId === net.id));
      if (other.name.toLowerCase() === name.toLowerCase() && shared) {
        throw invalidParameter(`The vm with hostName ${name} already exists in the network domain: cs.sim.internal; network=${shared.name}`);
      }
    }
    const userdata = params.str('userdata');
    if (userdata !== undefined) validateUserdata(userdata);
    if (account.vmLimit !== undefined && engine.liveVmCount(account) >= account.vmLimit) throw quotaExceeded(account);
    const addresses = nicNetworks.map((network) => {
      const ip = engine.allocateIp(network);
      if (!ip) throw new ApiError(533, `Insufficient address capacity in network ${network.name}`, 4320);
      return ip;
    });

    const startvm = params.bool('startvm', true);
    engine.vmSeq += 1;
    const vm: VirtualMachine = {
      id,
      name,
      displayname: params.str('displayname') ?? name,
      accountId: account.id,
      zoneId: engine.zone.id,
      templateId,
      serviceOfferingId: offeringId,
      state: startvm ? 'Starting' : 'Stopped',
      created: Date.now(),
      userdata,
      keypair: params.str('keypair'),
      nics: nicNetworks.map((network, i) => ({ id: crypto.randomUUID(), networkId: network.id, ipaddress: addresses[i], macaddress: macFor(i === 0 ? id : `${id}:${i}`) })),
      seq: engine.vmSeq,
    };
    engine.vms.set(id, vm);
    // An isolated network is implemented (its virtual router started) by its first VM.
    for (const network of nicNetworks) network.state = 'Implemented';
    const volumeId = crypto.randomUUID();
    const file = `volumes/${volumeId}.img`;
    engine.linkFile(template.file, file);
    engine.volumes.set(volumeId, {
      id: volumeId,
      name: `ROOT-${vm.seq}`,
      type: 'ROOT',
      accountId: account.id,
      zoneId: engine.zone.id,
      vmId: id,
      templateId,
      size: template.size ?? template.physicalsize ?? 0,
      created: Date.now(),
      file,
    });
    engine.markDirty();

    const job = engine.startJob(account, ctx.command, 'VirtualMachine', id, {
      delayMs: startvm ? engine.timings.deployMs : Math.min(engine.timings.deployMs, engine.timings.stopMs),
      failWith: ctx.failJobWith,
      run: () => {
        if (vm.state === 'Starting') {
          vm.state = 'Running';
          vm.startedAt = Date.now();
        }
        engine.markDirty();
        return vmResult(ctx, vm);
      },
      onFail: () => {
        if (engine.vms.has(vm.id) && (vm.state === 'Starting' || vm.state === 'Stopped')) vm.state = 'Error';
        engine.markDirty();
      },
    });
    return { id, jobid: job.id };
  },
};

const idParam = { name: 'id', type: 'uuid' as const, required: true, description: 'The ID of the virtual machine', related: 'listVirtualMachines' };

export const startVirtualMachine: CommandDef = {
  name: 'startVirtualMachine',
  description: 'Starts a virtual machine.',
  isasync: true,
  params: [idParam],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine } = ctx;
    const vm = findVm(ctx);
    const from = vm.state;
    if (from === 'Stopped') vm.state = 'Starting';
    engine.markDirty();
    const job = engine.startJob(ctx.account, ctx.command, 'VirtualMachine', vm.id, {
      delayMs: from === 'Stopped' ? engine.timings.startMs : 0,
      failWith: ctx.failJobWith,
      run: () => {
        if (vm.state === 'Starting') {
          vm.state = 'Running';
          vm.startedAt = Date.now();
        } else if (vm.state !== 'Running') throw internalError(`Unable to start VM instance ${vm.name} in state ${vm.state}`);
        engine.markDirty();
        return vmResult(ctx, vm);
      },
      onFail: () => {
        if (vm.state === 'Starting') vm.state = 'Stopped';
        engine.markDirty();
      },
    });
    return { jobid: job.id };
  },
};

export const stopVirtualMachine: CommandDef = {
  name: 'stopVirtualMachine',
  description: 'Stops a virtual machine.',
  isasync: true,
  params: [idParam, { name: 'forced', type: 'boolean', description: 'Force stop the VM (vm is marked as Stopped even when command fails to be send to the backend)' }],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine } = ctx;
    const vm = findVm(ctx);
    const from = vm.state;
    if (from === 'Running') vm.state = 'Stopping';
    engine.markDirty();
    const job = engine.startJob(ctx.account, ctx.command, 'VirtualMachine', vm.id, {
      delayMs: from === 'Running' ? (ctx.params.bool('forced', false) ? Math.min(engine.timings.stopMs, 10) : engine.timings.stopMs) : 0,
      failWith: ctx.failJobWith,
      run: () => {
        if (vm.state === 'Stopping' || vm.state === 'Error') vm.state = 'Stopped';
        else if (vm.state !== 'Stopped') throw internalError(`Unable to stop VM instance ${vm.name} in state ${vm.state}`);
        engine.markDirty();
        return vmResult(ctx, vm);
      },
      onFail: () => {
        if (vm.state === 'Stopping') vm.state = 'Running';
        engine.markDirty();
      },
    });
    return { jobid: job.id };
  },
};

export const rebootVirtualMachine: CommandDef = {
  name: 'rebootVirtualMachine',
  description: 'Reboots a virtual machine.',
  isasync: true,
  params: [idParam],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine } = ctx;
    const vm = findVm(ctx);
    const job = engine.startJob(ctx.account, ctx.command, 'VirtualMachine', vm.id, {
      delayMs: engine.timings.rebootMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (vm.state !== 'Running') throw internalError(`Unable to reboot VM instance ${vm.name}: it is not in Running state (${vm.state})`);
        return vmResult(ctx, vm);
      },
    });
    return { jobid: job.id };
  },
};

export const destroyVirtualMachine: CommandDef = {
  name: 'destroyVirtualMachine',
  description: 'Destroys a virtual machine. Once destroyed, only the administrator can recover it.',
  isasync: true,
  params: [idParam, { name: 'expunge', type: 'boolean', description: 'If true, the VM is expunged immediately. False by default.' }],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine } = ctx;
    const vm = findVm(ctx);
    const expunge = ctx.params.bool('expunge', false);
    const job = engine.startJob(ctx.account, ctx.command, 'VirtualMachine', vm.id, {
      delayMs: engine.timings.destroyMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (!engine.vms.has(vm.id)) throw internalError(`Unable to destroy VM instance ${vm.name}: it no longer exists`);
        if (vm.state === 'Expunging') return vmResult(ctx, vm);
        if (expunge) {
          engine.expunge(vm);
        } else if (vm.state !== 'Destroyed') {
          vm.state = 'Destroyed';
          engine.scheduleExpunge(vm, engine.timings.expungeDelayMs);
        }
        engine.markDirty();
        return vmResult(ctx, vm);
      },
    });
    return { jobid: job.id };
  },
};

export const listVirtualMachines: CommandDef = {
  name: 'listVirtualMachines',
  description: 'List the virtual machines owned by the account.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the virtual machine', related: 'listVirtualMachines' },
    { name: 'ids', type: 'list', of: 'uuid', description: 'the IDs of the virtual machines, mutually exclusive with id' },
    { name: 'name', type: 'string', description: 'name of the virtual machine (a substring match, as on a real server)' },
    { name: 'state', type: 'string', description: 'state of the virtual machine' },
    { name: 'zoneid', type: 'uuid', description: 'the availability zone ID', related: 'listZones' },
    { name: 'templateid', type: 'uuid', description: 'list vms by template', related: 'listTemplates' },
    LISTALL,
    ...PAGING,
  ],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine, account, params } = ctx;
    const all = account.admin && params.bool('listall', false);
    const id = params.str('id');
    const ids = params.list('ids');
    const name = params.str('name')?.toLowerCase();
    const state = params.str('state')?.toLowerCase();
    const zoneid = params.str('zoneid');
    const templateid = params.str('templateid');
    const items = [...engine.vms.values()]
      .filter((vm) => (all ? true : vm.accountId === account.id))
      // allow.user.view.destroyed.vm defaults to false: users do not see Destroyed/Expunging VMs.
      .filter((vm) => account.admin || engine.userSeesDestroyedVms || (vm.state !== 'Destroyed' && vm.state !== 'Expunging'))
      .filter((vm) => (!id || vm.id === id) && (!ids || ids.includes(vm.id)))
      .filter((vm) => (!name || vm.name.toLowerCase().includes(name)) && (!state || vm.state.toLowerCase() === state))
      .filter((vm) => (!zoneid || vm.zoneId === zoneid) && (!templateid || vm.templateId === templateid))
      .filter((vm) => matchesKeyword(params.str('keyword'), vm.name, vm.displayname, vm.state))
      .sort((a, b) => a.created - b.created)
      .map((vm) => renderVm(engine, vm));
    return listResponse('virtualmachine', items, params);
  },
};

export const changeServiceForVirtualMachine: CommandDef = {
  name: 'changeServiceForVirtualMachine',
  description: 'Changes the service offering for a virtual machine. The virtual machine must be in a "Stopped" state for this command to take effect.',
  isasync: false,
  params: [idParam, { name: 'serviceofferingid', type: 'uuid', required: true, description: 'the service offering ID to apply to the virtual machine', related: 'listServiceOfferings' }],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine, params, lower } = ctx;
    const vm = findVm(ctx);
    const offeringId = params.str('serviceofferingid')!;
    if (!engine.offering(offeringId)) throw invalidParamValue(lower, 'serviceofferingid', offeringId);
    if (vm.serviceOfferingId === offeringId) {
      throw invalidParameter(`Not upgrading vm ${vm.name} since it already has the requested service offering (${offeringId})`);
    }
    if (vm.state !== 'Stopped') {
      throw invalidParameter(`Unable to upgrade virtual machine ${vm.name} in state ${vm.state}; make sure the virtual machine is stopped`);
    }
    vm.serviceOfferingId = offeringId;
    engine.markDirty();
    return vmResult(ctx, vm);
  },
};

export const updateVirtualMachine: CommandDef = {
  name: 'updateVirtualMachine',
  description: 'Updates properties of a virtual machine. User data takes effect at the next start (config drive / metadata).',
  isasync: false,
  params: [
    idParam,
    { name: 'displayname', type: 'string', description: 'user generated name' },
    { name: 'userdata', type: 'string', description: 'base64 encoded user data (POST for more than 2 KB)' },
  ],
  response: VM_FIELDS,
  handle(ctx) {
    const { engine, params } = ctx;
    const vm = findVm(ctx);
    const userdata = params.str('userdata');
    if (userdata !== undefined) {
      validateUserdata(userdata);
      vm.userdata = userdata;
    }
    const displayname = params.str('displayname');
    if (displayname !== undefined) vm.displayname = displayname;
    engine.markDirty();
    return vmResult(ctx, vm);
  },
};
