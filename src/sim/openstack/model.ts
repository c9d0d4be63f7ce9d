/**
 * The simulator's records. They are plain JSON-able objects so the whole cloud can be written to
 * and read from the state file; the HTTP layers render them into each service's wire shape.
 */

export type ServiceName = 'identity' | 'compute' | 'image' | 'orchestration' | 'network';
export const SERVICE_NAMES: ServiceName[] = ['identity', 'compute', 'image', 'orchestration', 'network'];

export interface Domain {
  id: string;
  name: string;
}

export interface Project {
  id: string;
  name: string;
  domainId: string;
}

export interface User {
  id: string;
  name: string;
  password: string;
  domainId: string;
  /** The project the user is a member of (the simulator gives each user one project). */
  projectId: string;
  roles: string[];
}

export interface Token {
  id: string;
  userId: string;
  /** Undefined for an unscoped token. */
  projectId?: string;
  roles: string[];
  methods: string[];
  issuedAt: number;
  expiresAt: number;
  auditId: string;
  revoked?: boolean;
}

/** What a handler knows about the caller once X-Auth-Token was validated. */
export interface AuthContext {
  tokenId: string;
  userId: string;
  userName: string;
  projectId: string;
  projectName: string;
  domainId: string;
  roles: string[];
  isAdmin: boolean;
}

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  swap: number;
  ephemeral: number;
  isPublic: boolean;
  description: string | null;
}

export interface ServerFault {
  code: number;
  message: string;
  details?: string;
  created: string;
}

export type VmState = 'building' | 'active' | 'stopped' | 'error' | 'resized';

export interface Server {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  flavorId: string;
  imageId: string;
  keyName: string | null;
  metadata: Record<string, string>;
  /** base64 as sent by the client. */
  userData: string | null;
  description: string | null;
  tags: string[];
  securityGroups: string[];
  availabilityZone: string;
  vmState: VmState;
  taskState: string | null;
  powerState: number;
  progress: number;
  createdAt: number;
  updatedAt: number;
  launchedAt: number | null;
  /** Ports attached, in boot order. */
  portIds: string[];
  /** Ports Nova made for this server (deleted with it); the rest are only unbound. */
  ownedPortIds: string[];
  fault?: ServerFault;
  resize?: { oldFlavorId: string; priorVmState: VmState };
  /** Set once DELETE was accepted; the record disappears when the deleting phase ends. */
  deleting?: boolean;
  /** Bumped whenever a transition starts, so a stale timer never overwrites a newer state. */
  generation: number;
}

/** Bytes of an image: a file in the data dir, or a deterministic stream made on demand. */
export type ImageData = { kind: 'file'; path: string } | { kind: 'generated'; key: string; size: number };

export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deactivated' | 'pending_delete' | 'deleted';

export interface ImageTask {
  id: string;
  type: 'api_image_import';
  status: 'pending' | 'processing' | 'success' | 'failure';
  method: string;
  uri?: string;
  message: string;
  createdAt: number;
  updatedAt: number;
}

export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: 'public' | 'private' | 'shared' | 'community';
  protected: boolean;
  containerFormat: string | null;
  diskFormat: string | null;
  size: number | null;
  virtualSize: number | null;
  checksum: string | null;
  osHashValue: string | null;
  minDisk: number;
  minRam: number;
  owner: string;
  tags: string[];
  hidden: boolean;
  createdAt: number;
  updatedAt: number;
  /** Custom properties, rendered as top-level string fields. */
  properties: Record<string, string>;
  data?: ImageData;
  tasks: ImageTask[];
}

export interface Network {
  id: string;
  name: string;
  projectId: string;
  shared: boolean;
  external: boolean;
  mtu: number;
  subnetIds: string[];
  /** Absent on records written before networks could be created (then ''/true). */
  description?: string;
  adminStateUp?: boolean;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

export interface Subnet {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  cidr: string;
  /** null: the subnet has no gateway (it cannot be a router interface). */
  gatewayIp: string | null;
  allocationPools: { start: string; end: string }[];
  dnsNameservers: string[];
  enableDhcp?: boolean;
  description?: string;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

export interface FixedIp {
  subnetId: string;
  ipAddress: string;
}

export interface Port {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  macAddress: string;
  fixedIps: FixedIp[];
  deviceId: string;
  deviceOwner: string;
  status: 'ACTIVE' | 'DOWN' | 'BUILD';
  securityGroupIds: string[];
  adminStateUp: boolean;
  description: string;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

export interface FloatingIp {
  id: string;
  projectId: string;
  floatingNetworkId: string;
  floatingIpAddress: string;
  portId: string | null;
  fixedIpAddress: string | null;
  routerId: string | null;
  description: string;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

/**
 * A Neutron router. Its interfaces are ports (device_owner `network:router_interface`, device_id
 * the router) holding the subnet's gateway address; its external gateway is a port on the
 * external network (device_owner `network:router_gateway`).
 */
export interface Router {
  id: string;
  name: string;
  projectId: string;
  description: string;
  adminStateUp: boolean;
  externalGateway: { networkId: string; enableSnat: boolean; portId: string } | null;
  createdAt: number;
  updatedAt: number;
  revision: number;
}

export interface SecurityGroupRule {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  portRangeMin: number | null;
  portRangeMax: number | null;
  remoteIpPrefix: string | null;
  remoteGroupId: string | null;
}

export interface SecurityGroup {
  id: string;
  name: string;
  projectId: string;
  description: string;
  rules: SecurityGroupRule[];
  createdAt: number;
  updatedAt: number;
}

export interface Keypair {
  id: number;
  name: string;
  userId: string;
  publicKey: string;
  fingerprint: string;
  type: 'ssh' | 'x509';
  createdAt: number;
}

export type StackAction = 'INIT' | 'CREATE' | 'UPDATE' | 'DELETE' | 'ROLLBACK';
export type StackStatusPart = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface StackResource {
  name: string;
  type: string;
  physicalId: string;
  action: StackAction;
  status: StackStatusPart;
  statusReason: string;
  /** Properties as resolved when the resource was last created or updated. */
  properties: Record<string, unknown>;
  /** Plugin-private data (generated private key, rendered config…). */
  data: Record<string, unknown>;
  createdAt: number;
  updatedAt: number | null;
}

export interface StackEvent {
  id: string;
  time: number;
  resourceName: string;
  physicalId: string;
  resourceType: string;
  status: string;
  reason: string;
}

export interface Stack {
  id: string;
  name: string;
  projectId: string;
  userId: string;
  /** The template as parsed (YAML strings become objects). */
  template: Record<string, unknown>;
  files: Record<string, string>;
  environment: Record<string, unknown>;
  /** Parameters as the user supplied them (PATCH merges into these). */
  userParameters: Record<string, unknown>;
  timeoutMins: number | null;
  disableRollback: boolean;
  tags: string[];
  action: StackAction;
  status: StackStatusPart;
  statusReason: string;
  createdAt: number;
  updatedAt: number | null;
  deletedAt: number | null;
  resources: Record<string, StackResource>;
  /**
   * Heat's backup stack: resources an update was replacing when it failed (the old server, say).
   * They stay the stack's: deleted by the next update that completes, or with the stack.
   */
  replacedResources?: StackResource[];
  /** Stack- and resource-level events, oldest first. */
  events: StackEvent[];
}
