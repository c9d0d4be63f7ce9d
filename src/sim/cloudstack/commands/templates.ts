/**
 * Templates: listing with CloudStack's templatefilter semantics, registration from a URL (sync,
 * answered as a one-element list, then downloaded for real), creation from a stopped VM's ROOT
 * volume or a snapshot, extraction to a time-limited download URL, deletion.
 */
import crypto from 'node:crypto';
import { internalError, invalidParameter, invalidParamValue, permissionDenied } from '../api-error';
import { extensionFor, parseChecksum } from '../downloads';
import type { Account, Template } from '../model';
import { renderTemplate } from '../render';
import { fields, LISTALL, listResponse, matchesKeyword, PAGING, type CommandContext, type CommandDef } from './types';

const TEMPLATE_FIELDS = fields(
  'id:string:the template ID',
  'name:string:the template name',
  'displaytext:string:the template display text',
  'isready:boolean:true if the template is ready to be deployed from, false otherwise.',
  'status:string:the status of the template',
  'size:long:the size of the template',
  'format:imageformat:the format of the template.',
  'hypervisor:string:the hypervisor on which the template runs',
  'ostypeid:string:the ID of the OS type for this template.',
  'zoneid:string:the ID of the zone for this template',
  'ispublic:boolean:true if this template is a public template, false otherwise',
  'isfeatured:boolean:true if this template is a featured template, false otherwise',
  'isextractable:boolean:true if the template is extractable, false otherwise',
  'templatetype:string:the type of the template',
  'account:string:the account name to which the template belongs',
  'created:date:the date this template was created',
  'checksum:string:checksum of the template',
);

const FILTERS = ['featured', 'self', 'selfexecutable', 'sharedexecutable', 'executable', 'community', 'all'] as const;
type Filter = (typeof FILTERS)[number];
const FORMATS = ['QCOW2', 'RAW', 'VHD', 'VHDX', 'OVA', 'ISO'];
const HYPERVISORS = ['KVM', 'XenServer', 'VMware', 'Hyperv', 'LXC', 'Ovm3', 'Simulator'];

function filterMatches(filter: Filter, account: Account, t: Template): boolean {
  const own = t.accountId === account.id;
  switch (filter) {
    case 'featured':
      return t.isfeatured;
    case 'self':
      return own;
    case 'selfexecutable':
      return own && t.isready;
    case 'sharedexecutable':
      return false; // no template permissions are shared in the simulator
    case 'executable':
      return t.isready && (own || t.ispublic || t.isfeatured);
    case 'community':
      return t.ispublic && !t.isfeatured;
    case 'all':
      return true;
  }
}

export const listTemplates: CommandDef = {
  name: 'listTemplates',
  description: 'List all public, private, and privileged templates.',
  isasync: false,
  params: [
    {
      name: 'templatefilter',
      type: 'string',
      required: true,
      description:
        'possible values are "featured", "self", "selfexecutable", "sharedexecutable", "executable", and "community". featured: templates marked as featured and public; self: templates registered or created by the caller; selfexecutable: the caller\'s templates that are ready to deploy; executable: all templates the caller can deploy from; community: public templates that are not featured; all (admin only): every template.',
    },
    { name: 'id', type: 'uuid', description: 'the template ID', related: 'listTemplates' },
    { name: 'ids', type: 'list', of: 'uuid', description: 'the IDs of the templates, mutually exclusive with id' },
    { name: 'name', type: 'string', description: 'the template name' },
    { name: 'zoneid', type: 'uuid', description: 'list templates by zoneId', related: 'listZones' },
    { name: 'hypervisor', type: 'string', description: 'the hypervisor for which to restrict the search' },
    LISTALL,
    ...PAGING,
  ],
  response: TEMPLATE_FIELDS,
  handle({ engine, account, params }) {
    const filter = params.str('templatefilter')!.toLowerCase() as Filter;
    if (!FILTERS.includes(filter)) throw invalidParameter(`Please specify a valid template filter: ${FILTERS.join(', ')}`);
    if (filter === 'all' && !account.admin) throw invalidParameter('Filter all can be specified by admin only');
    const id = params.str('id');
    const ids = params.list('ids');
    const name = params.str('name')?.toLowerCase();
    const zoneid = params.str('zoneid');
    const hypervisor = params.str('hypervisor')?.toLowerCase();
    const items = [...engine.templates.values()]
      .filter((t) => filterMatches(filter, account, t) && (filter === 'all' || engine.canSeeTemplate(account, t)))
      .filter((t) => (!id || t.id === id) && (!ids || ids.includes(t.id)) && (!name || t.name.toLowerCase() === name))
      .filter((t) => (!zoneid || t.zoneId === zoneid) && (!hypervisor || t.hypervisor.toLowerCase() === hypervisor))
      .filter((t) => matchesKeyword(params.str('keyword'), t.name, t.displaytext))
      .sort((a, b) => a.created - b.created)
      .map((t) => renderTemplate(engine, t));
    return listResponse('template', items, params);
  },
};

export const registerTemplate: CommandDef = {
  name: 'registerTemplate',
  description: 'Registers an existing template into the CloudStack cloud. The template is downloaded from url; poll listTemplates until isready is true.',
  isasync: false,
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the template' },
    { name: 'displaytext', type: 'string', description: 'The display text of the template, defaults to the name' },
    { name: 'format', type: 'string', required: true, description: 'the format for the template. Possible values include QCOW2, RAW, VHD and OVA.' },
    { name: 'hypervisor', type: 'string', required: true, description: 'the target hypervisor for the template' },
    { name: 'url', type: 'string', required: true, description: 'the URL of where the template is hosted (http or https)' },
    { name: 'ostypeid', type: 'uuid', required: true, description: 'the ID of the OS Type that best represents the OS of this template.', related: 'listOsTypes' },
    { name: 'zoneid', type: 'uuid', allowMinusOne: true, description: 'the ID of the zone the template is to be hosted on; -1 for all zones', related: 'listZones' },
    { name: 'zoneids', type: 'list', of: 'uuid', description: 'A list of zone ids where the template will be hosted.', related: 'listZones' },
    { name: 'isextractable', type: 'boolean', description: 'true if the template or its derivatives are extractable; default is false' },
    { name: 'ispublic', type: 'boolean', description: 'true if the template is available to all accounts; default is false' },
    { name: 'isfeatured', type: 'boolean', description: 'true if this template is a featured template (admin only); default is false' },
    { name: 'passwordenabled', type: 'boolean', description: 'true if the template supports the password reset feature; default is false' },
    { name: 'checksum', type: 'string', description: 'the checksum value of this template, {ALGORITHM}hex or a bare MD5 hex' },
  ],
  response: TEMPLATE_FIELDS,
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const zoneid = params.str('zoneid');
    const zoneids = params.list('zoneids');
    if (!zoneid && !zoneids?.length) throw invalidParameter('Either zoneid or zoneids parameters have to be specified');
    for (const z of zoneid && zoneid !== '-1' ? [zoneid] : (zoneids ?? [])) {
      if (z !== engine.zone.id) throw invalidParamValue(lower, zoneid ? 'zoneid' : 'zoneids', z);
    }
    const format = params.str('format')!.toUpperCase();
    if (!FORMATS.includes(format)) throw invalidParameter(`Image format is incorrect ${params.str('format')}. Supported formats are ${FORMATS.join(', ')}`);
    const hypervisor = HYPERVISORS.find((h) => h.toLowerCase() === params.str('hypervisor')!.toLowerCase());
    if (!hypervisor) throw invalidParameter(`Hypervisor ${params.str('hypervisor')} is not supported`);
    const url = params.str('url')!;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidParameter(`Please specify a valid URL. URL:${url} is an invalid for the reason: no protocol`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalidParameter(`Unsupported scheme for url: ${url}`);
    const ostypeId = params.str('ostypeid')!;
    if (!engine.osType(ostypeId)) throw invalidParamValue(lower, 'ostypeid', ostypeId);
    const checksum = params.str('checksum');
    if (checksum !== undefined && !parseChecksum(checksum)) throw invalidParameter(`Checksum ${checksum} is not a valid checksum`);

    const name = params.str('name')!;
    const t: Template = {
      id: crypto.randomUUID(),
      name,
      displaytext: params.str('displaytext') ?? name,
      accountId: account.id,
      zoneId: engine.zone.id,
      ostypeId,
      format,
      hypervisor,
      ispublic: params.bool('ispublic', false),
      // Only a root admin may feature a template; a user's request is quietly ignored.
      isfeatured: account.admin && params.bool('isfeatured', false),
      isextractable: params.bool('isextractable', false),
      passwordenabled: params.bool('passwordenabled', false),
      isready: false,
      status: '0% Downloaded',
      checksum,
      url,
      templatetype: 'USER',
      origin: 'registered',
      created: Date.now(),
    };
    engine.templates.set(t.id, t);
    engine.markDirty();
    const response = { count: 1, template: [renderTemplate(engine, t)] };
    engine.downloader.start(t, ctx.failDownload);
    return response;
  },
};

/** The template named by `id`, which the caller must own (or be admin). */
function ownedTemplate(ctx: CommandContext, param = 'id'): Template {
  const id = ctx.params.str(param)!;
  return ctx.engine.ownedOrThrow(ctx.account, ctx.engine.template(id), ctx.lower, param, id, 'Template');
}

export const deleteTemplate: CommandDef = {
  name: 'deleteTemplate',
  description: 'Deletes a template from the system. All virtual machines using the deleted template will not be affected.',
  isasync: true,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the template', related: 'listTemplates' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of zone of the template', related: 'listZones' },
    { name: 'forced', type: 'boolean', description: 'Force delete a template even if VMs use it. Default false.' },
  ],
  response: fields('success:boolean:true if operation is executed successfully', 'displaytext:string:any text associated with the success or failure'),
  handle(ctx) {
    const { engine } = ctx;
    const t = ownedTemplate(ctx);
    const forced = ctx.params.bool('forced', false);
    const job = engine.startJob(ctx.account, ctx.command, 'Template', t.id, {
      delayMs: engine.timings.deleteMs,
      failWith: ctx.failJobWith,
      run: () => {
        const users = [...engine.vms.values()].filter((vm) => vm.templateId === t.id);
        if (users.length && !forced) {
          throw invalidParameter(`Unable to delete template with id: ${t.id} because VM instances: [${users.map((v) => v.name).join(', ')}] are using it.`);
        }
        engine.downloads.get(t.id)?.abort();
        engine.templates.delete(t.id);
        engine.removeFile(t.file);
        engine.markDirty();
        return { success: true };
      },
    });
    return { jobid: job.id };
  },
};

export const createTemplate: CommandDef = {
  name: 'createTemplate',
  description:
    'Creates a template of a virtual machine. The virtual machine must be in a STOPPED state. A template created from this command is automatically designated as a private template visible to the account that created it.',
  isasync: true,
  params: [
    { name: 'name', type: 'string', required: true, description: 'the name of the template' },
    { name: 'displaytext', type: 'string', description: 'The display text of the template, defaults to the name' },
    { name: 'ostypeid', type: 'uuid', required: true, description: 'the ID of the OS Type that best represents the OS of this template.', related: 'listOsTypes' },
    { name: 'volumeid', type: 'uuid', description: 'the ID of the disk volume the template is being created from. Either this parameter, or snapshotId has to be passed in', related: 'listVolumes' },
    { name: 'snapshotid', type: 'uuid', description: 'the ID of the snapshot the template is being created from. Either this parameter, or volumeId has to be passed in', related: 'listSnapshots' },
    { name: 'ispublic', type: 'boolean', description: 'true if this template is a public template, false otherwise' },
    { name: 'isfeatured', type: 'boolean', description: 'true if this template is a featured template (admin only), false otherwise' },
    { name: 'passwordenabled', type: 'boolean', description: 'true if the template supports the password reset feature; default is false' },
  ],
  response: TEMPLATE_FIELDS,
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const volumeId = params.str('volumeid');
    const snapshotId = params.str('snapshotid');
    if (!volumeId && !snapshotId) throw invalidParameter('Failed to create private template record, need to specify snapshotId or volumeId');
    const ostypeId = params.str('ostypeid')!;
    if (!engine.osType(ostypeId)) throw invalidParamValue(lower, 'ostypeid', ostypeId);

    let sourceFile: string | undefined;
    let sourceTemplateId: string | undefined;
    let size = 0;
    let origin: Template['origin'];
    if (snapshotId) {
      const s = engine.ownedOrThrow(account, engine.snapshots.get(snapshotId), lower, 'snapshotid', snapshotId, 'Snapshot');
      if (s.state !== 'BackedUp' || !s.file) {
        throw invalidParameter(`Snapshot id=${s.id} is not in BackedUp state yet and can't be used for template creation`);
      }
      sourceFile = s.file;
      sourceTemplateId = s.templateId;
      size = s.size;
      origin = 'snapshot';
    } else {
      const v = engine.ownedOrThrow(account, engine.volumes.get(volumeId!), lower, 'volumeid', volumeId!, 'Volume');
      const vm = v.vmId ? engine.vm(v.vmId) : undefined;
      if (vm && vm.state !== 'Stopped') {
        throw internalError(
          `Unable to create private template for volume: ${v.name}; volume is attached to a non-stopped VM, please stop the VM first`,
        );
      }
      sourceFile = v.file;
      sourceTemplateId = v.templateId;
      size = v.size;
      origin = 'volume';
    }
    const source = sourceTemplateId ? engine.template(sourceTemplateId) : undefined;
    const name = params.str('name')!;
    const id = crypto.randomUUID();
    const file = `templates/${id}.qcow2`;
    engine.linkFile(sourceFile, file);
    const t: Template = {
      id,
      name,
      displaytext: params.str('displaytext') ?? name,
      accountId: account.id,
      zoneId: engine.zone.id,
      ostypeId,
      format: 'QCOW2',
      hypervisor: 'KVM',
      ispublic: params.bool('ispublic', false),
      isfeatured: account.admin && params.bool('isfeatured', false),
      // A derived template is extractable only when the template it came from was.
      isextractable: source?.isextractable ?? false,
      passwordenabled: params.bool('passwordenabled', false),
      isready: false,
      status: 'Creating',
      size,
      templatetype: 'USER',
      origin,
      sourceTemplateId,
      created: Date.now(),
      file,
    };
    engine.templates.set(id, t);
    engine.markDirty();
    const job = engine.startJob(account, ctx.command, 'Template', id, {
      delayMs: engine.timings.createTemplateMs,
      failWith: ctx.failJobWith,
      run: () => {
        if (!engine.templates.has(id)) throw internalError(`Template ${id} was deleted while it was being created`);
        t.isready = true;
        t.status = 'Download Complete';
        t.physicalsize = engine.fileSize(file);
        engine.markDirty();
        return { template: renderTemplate(engine, t) };
      },
      onFail: () => {
        engine.templates.delete(id);
        engine.removeFile(file);
        engine.markDirty();
      },
    });
    return { id, jobid: job.id };
  },
};

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'template';
}

export const extractTemplate: CommandDef = {
  name: 'extractTemplate',
  description: 'Extracts a template: with mode=HTTP_DOWNLOAD the job result carries a time-limited URL to download it from.',
  isasync: true,
  params: [
    { name: 'id', type: 'uuid', required: true, description: 'the ID of the template', related: 'listTemplates' },
    { name: 'mode', type: 'string', required: true, description: 'the mode of extraction - HTTP_DOWNLOAD or FTP_UPLOAD' },
    { name: 'zoneid', type: 'uuid', description: 'the ID of the zone where the template is located', related: 'listZones' },
    { name: 'url', type: 'string', description: 'the url to which the template would be extracted (FTP_UPLOAD)' },
  ],
  response: fields(
    'id:string:the id of extracted object',
    'name:string:the name of the extracted object',
    'extractId:string:the upload id of extracted object',
    'state:string:the state of the extracted object',
    'extractMode:string:the mode of extraction - upload or download',
    'url:string:if mode = download the url from which the entity can be downloaded',
    'zoneid:string:zone ID the object was extracted from',
    'created:date:the time and date the object was created',
  ),
  handle(ctx) {
    const { engine, account, params, lower } = ctx;
    const mode = params.str('mode')!.toUpperCase();
    if (mode !== 'HTTP_DOWNLOAD' && mode !== 'FTP_UPLOAD') throw invalidParameter('Please specify a valid extract Mode');
    if (mode === 'FTP_UPLOAD') throw invalidParameter('FTP_UPLOAD is not supported by this simulator; use HTTP_DOWNLOAD');
    const id = params.str('id')!;
    const t = engine.template(id);
    if (!t) throw invalidParamValue(lower, 'id', id);
    const zoneid = params.str('zoneid');
    if (zoneid && zoneid !== engine.zone.id) throw invalidParamValue(lower, 'zoneid', zoneid);
    const job = engine.startJob(account, ctx.command, 'Template', t.id, {
      delayMs: engine.timings.extractMs,
      failWith: ctx.failJobWith,
      // As in TemplateManagerImpl.extract, these checks run inside the job.
      run: () => {
        if (!engine.templates.has(t.id)) throw invalidParameter(`Unable to find template id=${t.id}`);
        if (!engine.owns(account, t.accountId)) {
          throw permissionDenied(`Account '${account.name}' does not have permission to operate with resource Template ${t.id}`);
        }
        if (!t.isextractable) throw invalidParameter(`Unable to extract template id=${t.id} as it's not extractable`);
        if (!t.isready || !t.file) throw invalidParameter(`Unable to extract template id=${t.id} as it is not in ready state`);
        return { template: engine.createExtract(account, t, `${safeFileName(t.name)}.${extensionFor(t.format)}`) };
      },
    });
    return { jobid: job.id };
  },
};
