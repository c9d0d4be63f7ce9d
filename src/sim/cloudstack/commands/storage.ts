/** Volumes and volume snapshots. A snapshot keeps its own link to the volume's bytes. */
import crypto from 'node:crypto';
import { invalidParameter } from '../api-error';
import type { Snapshot } from '../model';
import { renderSnapshot, renderVolume } from '../render';
import { fields, LISTALL, listResponse, matchesKeyword, PAGING, type CommandDef } from './types';

export const listVolumes: CommandDef = {
  name: 'listVolumes',
  description: 'Lists all volumes.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'the ID of the disk volume', related: 'listVolumes' },
    { name: 'virtualmachineid', type: 'uuid', description: 'the ID of the virtual machine', related: 'listVirtualMachines' },
    { name: 'type', type: 'string', description: 'the type of disk volume (ROOT or DATADISK)' },
    { name: 'name', type: 'string', description: 'the name of the disk volume' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the availability zone', related: 'listZones' },
    LISTALL,
    ...PAGING,
  ],
  response: fields(
    'id:string:ID of the disk volume',
    'name:string:name of the disk volume',
    'type:string:type of the disk volume (ROOT or DATADISK)',
    'virtualmachineid:string:id of the virtual machine',
    'vmstate:string:state of the virtual machine',
    'size:long:size of the disk volume',
    'state:string:the state of the disk volume',
    'zoneid:string:ID of the availability zone',
    'created:date:the date the disk volume was created',
  ),
  handle({ engine, account, params }) {
    const all = account.admin && params.bool('listall', false);
    const id = params.str('id');
    const vmId = params.str('virtualmachineid');
    const type = params.str('type')?.toUpperCase();
    const name = params.str('name')?.toLowerCase();
    const zoneid = params.str('zoneid');
    const items = [...engine.volumes.values()]
      .filter((v) => (all || v.accountId === account.id) && (!id || v.id === id) && (!vmId || v.vmId === vmId))
      .filter((v) => (!type || v.type === type) && (!name || v.name.toLowerCase() === name) && (!zoneid || v.zoneId === zoneid))
      .filter((v) => matchesKeyword(params.str('keyword'), v.name))
      .sort((a, b) => a.created - b.created)
      .map((v) => renderVolume(engine, v));
    return listResponse('volume', items, params);
  },
};

const SNAPSHOT_FIELDS = fields(
  'id:string:ID of the snapshot',
  'name:string:name of the snapshot',
  'volumeid:string:ID of the disk volume',
  'volumename:string:name of the disk volume',
  'volumetype:string:type of the disk volume',
  'state:state:the state of the snapshot. BackedUp means that snapshot is ready to be used; Creating - the snapshot is being allocated on the primary storage; BackingUp - the snapshot is being backed up on secondary storage',
  'snapshottype:string:the type of the snapshot',
  'created:date:the date the snapshot was created',
  'virtualsize:long:virtual size of backedup snapshot on image store',
);

function formatStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export const createSnapshot: CommandDef = {
  name: 'createSnapshot',
  description: 'Creates an instant snapshot of a volume.',
  isasync: true,
  params: [
    { name: 'volumeid', type: 'uuid', required: true, description: 'The ID of the disk volume', related: 'listVolumes' },
    { name: 'name', type: 'string', description: 'the name of the snapshot' },
  ],
  response: SNAPSHOT_FIELDS,
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const volumeId = params.str('volumeid')!;
    const v = engine.ownedOrThrow(account, engine.volumes.get(volumeId), lower, 'volumeid', volumeId, 'Volume');
    const vm = v.vmId ? engine.vm(v.vmId) : undefined;
    const now = Date.now();
    const id = crypto.randomUUID();
    const file = `snapshots/${id}.qcow2`;
    // The snapshot is point-in-time: its bytes are linked now, before the job finishes.
    engine.linkFile(v.file, file);
    const s: Snapshot = {
      id,
      name: params.str('name') ?? `${vm?.name ?? 'detached'}_${v.name}_${formatStamp(now)}`,
      accountId: account.id,
      zoneId: v.zoneId,
      volumeId: v.id,
      volumeName: v.name,
      volumeType: v.type,
      templateId: v.templateId,
      state: 'Creating',
      size: v.size,
      physicalsize: engine.fileSize(file),
      created: now,
      file,
    };
    engine.snapshots.set(id, s);
    engine.markDirty();
    const job = engine.startJob(account, ctx.command, 'Snapshot', id, {
      delayMs: engine.timings.snapshotMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (!engine.snapshots.has(id)) throw invalidParameter(`Snapshot ${id} was deleted while it was being created`);
        s.state = 'BackedUp';
        engine.markDirty();
        return { snapshot: renderSnapshot(engine, s) };
      },
      onFail: () => {
        s.state = 'Error';
        engine.removeFile(s.file);
        s.file = undefined;
        engine.markDirty();
      },
    });
    return { id, jobid: job.id };
  },
};

export const listSnapshots: CommandDef = {
  name: 'listSnapshots',
  description: 'Lists all available snapshots for the account.',
  isasync: false,
  params: [
    { name: 'id', type: 'uuid', description: 'lists snapshot by snapshot ID', related: 'listSnapshots' },
    { name: 'volumeid', type: 'uuid', description: 'the ID of the disk volume', related: 'listVolumes' },
    { name: 'name', type: 'string', description: 'lists snapshot by snapshot name' },
    LISTALL,
    ...PAGING,
  ],
  response: SNAPSHOT_FIELDS,
  handle({ engine, account, params }) {
    const all = account.admin && params.bool('listall', false);
    const id = params.str('id');
    const volumeId = params.str('volumeid');
    const name = params.str('name')?.toLowerCase();
    const items = [...engine.snapshots.values()]
      .filter((s) => s.state !== 'Destroyed' && (all || s.accountId === account.id))
      .filter((s) => (!id || s.id === id) && (!volumeId || s.volumeId === volumeId) && (!name || s.name.toLowerCase() === name))
      .filter((s) => matchesKeyword(params.str('keyword'), s.name))
      .sort((a, b) => a.created - b.created)
      .map((s) => renderSnapshot(engine, s));
    return listResponse('snapshot', items, params);
  },
};

export const deleteSnapshot: CommandDef = {
  name: 'deleteSnapshot',
  description: 'Deletes a snapshot of a disk volume.',
  isasync: true,
  params: [{ name: 'id', type: 'uuid', required: true, description: 'The ID of the snapshot', related: 'listSnapshots' }],
  response: fields('success:boolean:true if operation is executed successfully', 'displaytext:string:any text associated with the success or failure'),
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const id = params.str('id')!;
    const s = engine.ownedOrThrow(account, engine.snapshots.get(id), lower, 'id', id, 'Snapshot');
    const job = engine.startJob(account, ctx.command, 'Snapshot', id, {
      delayMs: engine.timings.deleteMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (s.state !== 'BackedUp' && s.state !== 'Error') {
          throw invalidParameter(`Can't delete snapshotshot ${id} due to it is in ${s.state} Status`);
        }
        engine.snapshots.delete(id);
        engine.removeFile(s.file);
        engine.markDirty();
        return { success: true };
      },
    });
    return { jobid: job.id };
  },
};
