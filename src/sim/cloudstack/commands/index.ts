/**
 * Every command the simulator serves, by its case-sensitive name (as the management server
 * looks commands up), plus listApis describing them all in the shape CloudMonkey's `sync` caches:
 * {name, description, isasync, related, params:[{name, type, required, description, length,
 * related}], response:[{name, type, description}]}.
 */
import { listAccounts, listResourceLimits } from './accounts';
import { listNetworks, listOsTypes, listServiceOfferings, listZones } from './infra';
import { listAsyncJobs, queryAsyncJobResult } from './jobs';
import { createNetwork, deleteNetwork, listNetworkOfferings } from './networks';
import { createSnapshot, deleteSnapshot, listSnapshots, listVolumes } from './storage';
import { createTemplate, deleteTemplate, extractTemplate, listTemplates, registerTemplate } from './templates';
import { fields, listResponse, type CommandDef } from './types';
import {
  changeServiceForVirtualMachine,
  deployVirtualMachine,
  destroyVirtualMachine,
  listVirtualMachines,
  rebootVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine,
  updateVirtualMachine,
} from './vms';

function describe(def: CommandDef) {
  return {
    name: def.name,
    description: def.description,
    isasync: def.isasync,
    related: '',
    since: '4.0.0',
    type: '',
    params: def.params.map((p) => ({
      name: p.name,
      description: p.description,
      type: p.type,
      length: 255,
      required: !!p.required,
      related: p.related ?? '',
    })),
    response: def.response.map((r) => ({ name: r.name, description: r.description, type: r.type })),
  };
}

export const listApis: CommandDef = {
  name: 'listApis',
  description: 'lists all available apis on the server, provided by the Api Discovery plugin',
  isasync: false,
  params: [{ name: 'name', type: 'string', description: 'API name' }],
  response: fields(
    'name:string:the name of the api command',
    'description:string:description of the api',
    'isasync:boolean:true if api is asynchronous',
    'params:set:the list params the api accepts',
    'response:set:api response fields',
    'related:string:comma separated related apis',
  ),
  handle({ params }) {
    const name = params.str('name');
    const defs = [...COMMANDS.values()].filter((d) => !name || d.name === name);
    return listResponse('api', defs.map(describe), params);
  },
};

export const COMMANDS: ReadonlyMap<string, CommandDef> = new Map(
  [
    listApis,
    listZones,
    listServiceOfferings,
    listOsTypes,
    listNetworks,
    listNetworkOfferings,
    createNetwork,
    deleteNetwork,
    listAccounts,
    listResourceLimits,
    listTemplates,
    registerTemplate,
    deleteTemplate,
    createTemplate,
    extractTemplate,
    deployVirtualMachine,
    startVirtualMachine,
    stopVirtualMachine,
    rebootVirtualMachine,
    destroyVirtualMachine,
    listVirtualMachines,
    changeServiceForVirtualMachine,
    updateVirtualMachine,
    listVolumes,
    createSnapshot,
    listSnapshots,
    deleteSnapshot,
    queryAsyncJobResult,
    listAsyncJobs,
  ].map((d) => [d.name, d]),
);
