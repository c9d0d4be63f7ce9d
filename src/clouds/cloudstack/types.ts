/**
 * Shapes of the CloudStack API objects vmflow reads (the fields it relies on; servers send more,
 * kept through the index signature). Names follow the API reference's response tables.
 */

export type CsVmState = 'Starting' | 'Running' | 'Stopping' | 'Stopped' | 'Destroyed' | 'Expunging' | 'Migrating' | 'Error' | 'Unknown' | 'Shutdowned';

export type TemplateFilter = 'featured' | 'self' | 'selfexecutable' | 'sharedexecutable' | 'executable' | 'community' | 'all';

interface Extra {
  [field: string]: unknown;
}

/** listResourceLimits: one resource type's limit for the caller (max -1 = unlimited). */
export interface CsResourceLimit extends Extra {
  resourcetype: string;
  resourcetypename?: string;
  max: number;
}

/** listAccounts: the account with its counts (limits as strings, "Unlimited" when none). */
export interface CsAccount extends Extra {
  id: string;
  name: string;
  vmtotal?: number;
  cputotal?: number;
  memorytotal?: number;
  vmlimit?: string;
  cpulimit?: string;
  memorylimit?: string;
}

export interface CsZone extends Extra {
  id: string;
  name: string;
  networktype: 'Basic' | 'Advanced';
  allocationstate: string;
}

export interface CsServiceOffering extends Extra {
  id: string;
  name: string;
  displaytext: string;
  cpunumber: number;
  cpuspeed: number;
  /** MiB. */
  memory: number;
}

export interface CsOsType extends Extra {
  id: string;
  description: string;
  oscategoryid: string;
}

export interface CsNetwork extends Extra {
  id: string;
  name: string;
  displaytext?: string;
  zoneid: string;
  /** Allocated (no VM yet), Implemented, Setup, Shutdown, Destroy. */
  state: string;
  /** Isolated, Shared, L2. */
  type: string;
  cidr?: string;
  gateway?: string;
  netmask?: string;
  networkofferingid?: string;
  /** The account's default network. */
  isdefault?: boolean;
  account?: string;
}

export interface CsNetworkOffering extends Extra {
  id: string;
  name: string;
  displaytext: string;
  /** Isolated, Shared or L2. */
  guestiptype: string;
  isdefault: boolean;
  state: string;
  specifyvlan: boolean;
  forvpc?: boolean;
  service?: Array<{ name: string; provider?: Array<{ name: string }> }>;
}

export interface CreateNetworkParams {
  name: string;
  displaytext?: string;
  networkofferingid: string;
  zoneid: string;
  /** With netmask: the network's addresses (otherwise the cloud picks them). */
  gateway?: string;
  netmask?: string;
  [param: string]: ParamValue;
}

/** ensureNetwork's input: createNetwork's, the offering optional (default: the zone's default Isolated one). */
export interface EnsureNetworkParams {
  name: string;
  zoneid: string;
  displaytext?: string;
  networkofferingid?: string;
  gateway?: string;
  netmask?: string;
}

export interface CsTemplate extends Extra {
  id: string;
  name: string;
  displaytext: string;
  isready: boolean;
  /** "N% Downloaded", "Installing Template", "Download Complete", or an error text. */
  status?: string;
  /** Virtual size in bytes, once known. */
  size?: number;
  format: string;
  hypervisor: string;
  ostypeid: string;
  zoneid: string;
  ispublic: boolean;
  isfeatured: boolean;
  isextractable: boolean;
  templatetype: string;
  account: string;
  created: string;
  checksum?: string;
}

export interface CsNic extends Extra {
  id: string;
  networkid: string;
  ipaddress?: string;
  macaddress?: string;
  isdefault: boolean;
}

export interface CsVirtualMachine extends Extra {
  id: string;
  name: string;
  displayname: string;
  state: CsVmState;
  zoneid: string;
  templateid: string;
  serviceofferingid: string;
  cpunumber: number;
  memory: number;
  nic: CsNic[];
  created: string;
  account: string;
  keypair?: string;
}

export interface CsVolume extends Extra {
  id: string;
  name: string;
  type: 'ROOT' | 'DATADISK';
  virtualmachineid?: string;
  size: number;
  state: string;
  templateid?: string;
}

export interface CsSnapshot extends Extra {
  id: string;
  name: string;
  volumeid: string;
  /** BackedUp when usable. */
  state: string;
  created: string;
}

export interface CsExtract extends Extra {
  id: string;
  name: string;
  extractId: string;
  state: string;
  extractMode: 'HTTP_DOWNLOAD' | 'FTP_UPLOAD';
  url: string;
  zoneid: string;
}

export interface CsAsyncJob<R = Record<string, unknown>> extends Extra {
  jobid: string;
  cmd: string;
  /** 0 pending, 1 succeeded, 2 failed. */
  jobstatus: 0 | 1 | 2;
  jobprocstatus?: number;
  jobresultcode: number;
  jobresulttype?: string;
  jobresult?: R | { errorcode: number; errortext: string };
  jobinstancetype?: string;
  jobinstanceid?: string;
  created: string;
  completed?: string;
}

export interface CsApi extends Extra {
  name: string;
  description: string;
  isasync: boolean;
  params: Array<{ name: string; type: string; required: boolean; description: string }>;
  response: Array<{ name: string }>;
}

/** What an async command answers: the job, and for create commands the new object's id. */
export interface AsyncJobRef {
  jobid: string;
  id?: string;
}

/** jobresult shapes of the async commands vmflow uses. */
export interface VmJobResult {
  virtualmachine: CsVirtualMachine;
}
export interface TemplateJobResult {
  template: CsTemplate;
}
export interface SnapshotJobResult {
  snapshot: CsSnapshot;
}
export interface ExtractJobResult {
  template: CsExtract;
}
export interface SuccessJobResult {
  success: boolean | string;
  displaytext?: string;
}

/** Parameter values accepted by request(): arrays become comma-separated lists, undefined is dropped. */
export type ParamValue = string | number | boolean | string[] | undefined;
export type CsParams = Record<string, ParamValue>;

export interface ListParams {
  id?: string;
  keyword?: string;
  page?: number;
  pagesize?: number;
  listall?: boolean;
  [param: string]: ParamValue;
}

export interface DeployVirtualMachineParams {
  serviceofferingid: string;
  templateid: string;
  zoneid: string;
  name?: string;
  displayname?: string;
  startvm?: boolean;
  /** Base64 of the user data; the client POSTs when it is large. */
  userdata?: string;
  keypair?: string;
  networkids?: string[];
  [param: string]: ParamValue;
}

export interface RegisterTemplateParams {
  name: string;
  displaytext?: string;
  format: 'QCOW2' | 'RAW' | 'VHD' | 'VHDX' | 'OVA' | string;
  hypervisor: string;
  url: string;
  ostypeid: string;
  zoneid?: string;
  zoneids?: string[];
  isextractable?: boolean;
  ispublic?: boolean;
  isfeatured?: boolean;
  passwordenabled?: boolean;
  /** `{SHA-256}hex`, `{MD5}hex`, … or bare MD5 hex. */
  checksum?: string;
  [param: string]: ParamValue;
}

export interface CreateTemplateParams {
  name: string;
  displaytext?: string;
  ostypeid: string;
  volumeid?: string;
  snapshotid?: string;
  ispublic?: boolean;
  passwordenabled?: boolean;
  [param: string]: ParamValue;
}
