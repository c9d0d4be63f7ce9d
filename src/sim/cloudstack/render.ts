/**
 * Turns records into the JSON objects a management server returns (field names as in the
 * CloudStack API reference's response tables; dates as `2021-10-04T09:24:38+0000`).
 */
import type { Account, AsyncJob, ExtractLink, Network, NetworkOffering, Nic, OsType, ServiceOffering, Snapshot, Template, VirtualMachine, Volume, Zone } from './model';

/** CloudStack's date format: UTC, seconds, `+0000`. */
export function csDate(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

/** What render needs to resolve names of related records. */
export interface RenderLookup {
  domainId: string;
  zone: Zone;
  account(id: string): Account | undefined;
  accountName(id: string): string;
  offering(id: string): ServiceOffering | undefined;
  osType(id: string): OsType | undefined;
  network(id: string): Network | undefined;
  networkOffering(id: string): NetworkOffering | undefined;
  template(id: string): Template | undefined;
  vm(id: string): VirtualMachine | undefined;
  hostFor(vm: VirtualMachine): { id: string; name: string } | undefined;
}

function owner(l: RenderLookup, accountId: string) {
  return { account: l.accountName(accountId), domainid: l.domainId, domain: 'ROOT' };
}

export function renderZone(z: Zone) {
  return {
    id: z.id,
    name: z.name,
    description: 'Simulated KVM zone',
    dns1: '8.8.8.8',
    internaldns1: '10.0.0.2',
    guestcidraddress: '10.1.0.0/16',
    networktype: 'Advanced',
    securitygroupsenabled: false,
    allocationstate: 'Enabled',
    zonetoken: z.id.replace(/-/g, '').slice(0, 22),
    dhcpprovider: 'VirtualRouter',
    localstorageenabled: false,
    hasannotations: false,
    tags: [],
  };
}

export function renderOffering(o: ServiceOffering) {
  return {
    id: o.id,
    name: o.name,
    displaytext: o.displaytext,
    cpunumber: o.cpunumber,
    cpuspeed: o.cpuspeed,
    memory: o.memory,
    created: csDate(o.created),
    storagetype: 'shared',
    provisioningtype: 'thin',
    offerha: false,
    limitcpuuse: false,
    isvolatile: false,
    issystem: false,
    defaultuse: false,
    iscustomized: false,
    hasannotations: false,
  };
}

export function renderOsType(o: OsType) {
  return { id: o.id, description: o.description, name: o.description, oscategoryid: o.oscategoryid, oscategoryname: 'Linux', isuserdefined: false, fordisplay: true };
}

export function renderNetworkOffering(o: NetworkOffering) {
  return {
    id: o.id,
    name: o.name,
    displaytext: o.displaytext,
    traffictype: 'Guest',
    guestiptype: o.guestiptype,
    isdefault: o.isdefault,
    specifyvlan: o.specifyvlan,
    specifyipranges: o.specifyipranges,
    conservemode: true,
    availability: o.guestiptype === 'Isolated' ? 'Required' : 'Optional',
    state: 'Enabled',
    networkrate: 200,
    forvpc: false,
    forTungsten: false,
    ispersistent: false,
    egressdefaultpolicy: true,
    supportsstrechedl2subnet: false,
    supportspublicaccess: false,
    fordisplay: true,
    service: o.services.map((svc) => ({ name: svc.name, provider: [{ name: svc.provider }] })),
    created: csDate(o.created),
    hasannotations: false,
  };
}

export function renderNetwork(l: RenderLookup, n: Network) {
  const offering = n.networkOfferingId ? l.networkOffering(n.networkOfferingId) : undefined;
  return {
    id: n.id,
    name: n.name,
    displaytext: n.displaytext ?? n.name,
    zoneid: l.zone.id,
    zonename: l.zone.name,
    traffictype: 'Guest',
    type: 'Isolated',
    state: n.state ?? 'Implemented',
    cidr: `${n.prefix}.0/24`,
    gateway: n.gateway ?? `${n.prefix}.1`,
    netmask: '255.255.255.0',
    broadcastdomaintype: 'Vlan',
    networkdomain: 'cs.sim.internal',
    ...(offering ? { networkofferingid: offering.id, networkofferingname: offering.name, networkofferingdisplaytext: offering.displaytext, networkofferingavailability: 'Required' } : {}),
    // The account's default network (the seeded one), as `isdefault` reports it.
    isdefault: !n.networkOfferingId,
    ispersistent: false,
    canusefordeploy: true,
    restartrequired: false,
    specifyipranges: false,
    acltype: 'Account',
    ...owner(l, n.accountId),
    tags: [],
  };
}

export function renderTemplate(l: RenderLookup, t: Template) {
  const os = l.osType(t.ostypeId);
  return {
    id: t.id,
    name: t.name,
    displaytext: t.displaytext,
    ispublic: t.ispublic,
    isfeatured: t.isfeatured,
    isextractable: t.isextractable,
    isready: t.isready,
    passwordenabled: t.passwordenabled,
    sshkeyenabled: false,
    crossZones: false,
    format: t.format,
    hypervisor: t.hypervisor,
    ostypeid: t.ostypeId,
    ostypename: os?.description ?? 'Other (64-bit)',
    zoneid: l.zone.id,
    zonename: l.zone.name,
    status: t.status,
    ...(t.size !== undefined ? { size: t.size } : {}),
    ...(t.physicalsize !== undefined ? { physicalsize: t.physicalsize } : {}),
    ...(t.checksum ? { checksum: t.checksum } : {}),
    ...(t.url ? { url: t.url } : {}),
    ...(t.sourceTemplateId ? { sourcetemplateid: t.sourceTemplateId } : {}),
    templatetype: t.templatetype,
    created: csDate(t.created),
    bootable: true,
    directdownload: false,
    deployasis: false,
    requireshvm: true,
    isdynamicallyscalable: false,
    ...owner(l, t.accountId),
    details: {},
    tags: [],
  };
}

function renderNic(l: RenderLookup, nic: Nic, index: number) {
  const net = l.network(nic.networkId);
  const prefix = net?.prefix ?? '10.1.0';
  return {
    id: nic.id,
    networkid: nic.networkId,
    networkname: net?.name ?? '',
    netmask: '255.255.255.0',
    gateway: net?.gateway ?? `${prefix}.1`,
    ipaddress: nic.ipaddress,
    broadcasturi: 'vlan://untagged',
    traffictype: 'Guest',
    type: 'Isolated',
    isdefault: index === 0,
    macaddress: nic.macaddress,
    deviceid: String(index),
    extradhcpoption: [],
  };
}

export function renderVm(l: RenderLookup, vm: VirtualMachine) {
  const tpl = l.template(vm.templateId);
  const off = l.offering(vm.serviceOfferingId);
  const acct = l.account(vm.accountId);
  const host = l.hostFor(vm);
  const os = tpl ? l.osType(tpl.ostypeId) : undefined;
  return {
    id: vm.id,
    name: vm.name,
    displayname: vm.displayname,
    ...owner(l, vm.accountId),
    created: csDate(vm.created),
    state: vm.state,
    haenable: false,
    zoneid: l.zone.id,
    zonename: l.zone.name,
    ...(host ? { hostid: host.id, hostname: host.name } : {}),
    templateid: vm.templateId,
    templatename: tpl?.name ?? '',
    templatedisplaytext: tpl?.displaytext ?? '',
    passwordenabled: false,
    serviceofferingid: vm.serviceOfferingId,
    serviceofferingname: off?.name ?? '',
    cpunumber: off?.cpunumber ?? 1,
    cpuspeed: off?.cpuspeed ?? 1000,
    memory: off?.memory ?? 1024,
    guestosid: tpl?.ostypeId ?? '',
    ostypeid: tpl?.ostypeId ?? '',
    osdisplayname: os?.description ?? '',
    rootdeviceid: 0,
    rootdevicetype: 'ROOT',
    hypervisor: 'KVM',
    instancename: `i-${acct?.index ?? 0}-${vm.seq}-VM`,
    ...(vm.keypair ? { keypair: vm.keypair, keypairs: vm.keypair } : {}),
    nic: vm.nics.map((n, i) => renderNic(l, n, i)),
    securitygroup: [],
    affinitygroup: [],
    isdynamicallyscalable: false,
    details: {},
    tags: [],
  };
}

export function renderVolume(l: RenderLookup, v: Volume) {
  const vm = v.vmId ? l.vm(v.vmId) : undefined;
  const tpl = v.templateId ? l.template(v.templateId) : undefined;
  return {
    id: v.id,
    name: v.name,
    zoneid: l.zone.id,
    zonename: l.zone.name,
    type: v.type,
    deviceid: v.type === 'ROOT' ? 0 : 1,
    ...(vm ? { virtualmachineid: vm.id, vmname: vm.name, vmdisplayname: vm.displayname, vmstate: vm.state } : {}),
    provisioningtype: 'thin',
    size: v.size,
    created: csDate(v.created),
    state: 'Ready',
    ...owner(l, v.accountId),
    storagetype: 'shared',
    hypervisor: 'KVM',
    ...(tpl ? { templateid: tpl.id, templatename: tpl.name, templatedisplaytext: tpl.displaytext, isextractable: tpl.isextractable } : {}),
    destroyed: false,
    isextractable: tpl?.isextractable ?? false,
    tags: [],
  };
}

export function renderSnapshot(l: RenderLookup, s: Snapshot) {
  return {
    id: s.id,
    name: s.name,
    ...owner(l, s.accountId),
    snapshottype: 'MANUAL',
    intervaltype: 'MANUAL',
    volumeid: s.volumeId,
    volumename: s.volumeName,
    volumetype: s.volumeType,
    created: csDate(s.created),
    state: s.state,
    zoneid: l.zone.id,
    zonename: l.zone.name,
    physicalsize: s.physicalsize,
    virtualsize: s.size,
    revertable: false,
    locationtype: 'Secondary',
    tags: [],
  };
}

/** The fields of queryAsyncJobResult / listAsyncJobs. */
export function renderJob(l: RenderLookup, j: AsyncJob) {
  return {
    accountid: j.accountId,
    account: l.accountName(j.accountId),
    userid: j.userId,
    cmd: j.cmd,
    jobstatus: j.status,
    jobprocstatus: 0,
    jobresultcode: j.resultcode,
    jobresulttype: 'object',
    ...(j.result !== undefined ? { jobresult: j.result } : {}),
    ...(j.instancetype ? { jobinstancetype: j.instancetype } : {}),
    ...(j.instanceid ? { jobinstanceid: j.instanceid } : {}),
    created: csDate(j.created),
    ...(j.completed !== undefined ? { completed: csDate(j.completed) } : {}),
    jobid: j.id,
  };
}

/** extractTemplate's job result object (ExtractResponse). */
export function renderExtract(l: RenderLookup, e: ExtractLink, t: Template, url: string) {
  return {
    id: t.id,
    name: t.name,
    extractId: e.extractId,
    accountid: e.accountId,
    state: 'DOWNLOAD_URL_CREATED',
    status: 'DOWNLOAD_URL_CREATED',
    uploadpercentage: 100,
    storagetype: 'Secondary',
    zoneid: l.zone.id,
    zonename: l.zone.name,
    extractMode: 'HTTP_DOWNLOAD',
    url,
    created: csDate(e.created),
  };
}
