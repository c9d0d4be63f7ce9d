/**
 * The simulator's records. They hold what the responses are rendered from (see render.ts); dates
 * are epoch milliseconds, file paths are relative to the data directory so a state file can move
 * with its directory.
 */

export interface SimAccountSpec {
  /** Account name (also the user name). */
  name: string;
  apiKey: string;
  secretKey: string;
  /** Root admin: may use templatefilter=all, listall=true and see every account's resources. */
  admin?: boolean;
  /** max.account.user.vms: deploying more live VMs fails with 532. Default 20 for users, none for admins. */
  vmLimit?: number;
}

export interface Account {
  id: string;
  userId: string;
  name: string;
  admin: boolean;
  apiKey: string;
  secretKey: string;
  vmLimit?: number;
  /** Index used to derive the account's guest network (10.1.<n>.0/24). */
  index: number;
}

export interface Zone {
  id: string;
  name: string;
}

export interface ServiceOffering {
  id: string;
  name: string;
  displaytext: string;
  cpunumber: number;
  cpuspeed: number;
  memory: number;
  created: number;
}

export interface OsType {
  id: string;
  description: string;
  oscategoryid: string;
}

export interface Network {
  id: string;
  name: string;
  accountId: string;
  zoneId: string;
  /** First three octets, e.g. "10.1.1" (guest networks are /24). */
  prefix: string;
  created: number;
  /** Set on networks made by createNetwork (absent on each account's seeded default network). */
  displaytext?: string;
  networkOfferingId?: string;
  /** Allocated until the first VM is deployed on it, then Implemented (seeded ones: Implemented). */
  state?: 'Allocated' | 'Implemented';
  /** Gateway address; default `<prefix>.1`. */
  gateway?: string;
}

/** A network offering (listNetworkOfferings): what kind of guest network createNetwork makes. */
export interface NetworkOffering {
  id: string;
  name: string;
  displaytext: string;
  guestiptype: 'Isolated' | 'Shared';
  isdefault: boolean;
  specifyvlan: boolean;
  specifyipranges: boolean;
  services: Array<{ name: string; provider: string }>;
  created: number;
}

export type TemplateOrigin = 'seed' | 'registered' | 'volume' | 'snapshot';

export interface Template {
  id: string;
  name: string;
  displaytext: string;
  accountId: string;
  zoneId: string;
  ostypeId: string;
  format: string;
  hypervisor: string;
  ispublic: boolean;
  isfeatured: boolean;
  isextractable: boolean;
  passwordenabled: boolean;
  isready: boolean;
  status: string;
  /** Virtual size in bytes (qcow2 header) once known. */
  size?: number;
  physicalsize?: number;
  checksum?: string;
  url?: string;
  templatetype: 'BUILTIN' | 'USER';
  origin: TemplateOrigin;
  sourceTemplateId?: string;
  created: number;
  /** Relative path of the image bytes once they exist. */
  file?: string;
}

export type VmState = 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Destroyed' | 'Expunging' | 'Error';

export interface Nic {
  id: string;
  networkId: string;
  ipaddress: string;
  macaddress: string;
}

export interface VirtualMachine {
  id: string;
  name: string;
  displayname: string;
  accountId: string;
  zoneId: string;
  templateId: string;
  serviceOfferingId: string;
  state: VmState;
  created: number;
  /** When it last reached Running (the admin /state shows it: the order copies came up in). */
  startedAt?: number;
  /** Base64 user data as given. */
  userdata?: string;
  keypair?: string;
  nics: Nic[];
  /** Sequence number for instancename i-<account>-<n>-VM. */
  seq: number;
}

export interface Volume {
  id: string;
  name: string;
  type: 'ROOT' | 'DATADISK';
  accountId: string;
  zoneId: string;
  vmId?: string;
  templateId?: string;
  size: number;
  created: number;
  file: string;
}

export type SnapshotState = 'Allocated' | 'Creating' | 'BackedUp' | 'Error' | 'Destroyed';

export interface Snapshot {
  id: string;
  name: string;
  accountId: string;
  zoneId: string;
  volumeId: string;
  volumeName: string;
  volumeType: 'ROOT' | 'DATADISK';
  /** Template the volume was created from, so a template made from this snapshot knows its lineage. */
  templateId?: string;
  state: SnapshotState;
  size: number;
  physicalsize: number;
  created: number;
  file?: string;
}

export type JobStatus = 0 | 1 | 2;

export interface AsyncJob {
  id: string;
  accountId: string;
  userId: string;
  command: string;
  /** Java class name of the command, as `cmd` reports it. */
  cmd: string;
  status: JobStatus;
  resultcode: number;
  instancetype?: string;
  instanceid?: string;
  created: number;
  completed?: number;
  result?: Record<string, unknown>;
}

export interface ExtractLink {
  token: string;
  extractId: string;
  templateId: string;
  accountId: string;
  /** Relative path of the bytes (a link of the template's file, so deleting the template later does not break a download). */
  file: string;
  fileName: string;
  expiresAt: number;
  created: number;
}

/** Everything that changes at run time and is written to the state file. */
export interface SimData {
  templates: Template[];
  vms: VirtualMachine[];
  volumes: Volume[];
  snapshots: Snapshot[];
  jobs: AsyncJob[];
  extracts: ExtractLink[];
  vmSeq: number;
  /** Networks made by createNetwork (absent in state files written before they existed). */
  networks?: Network[];
}
