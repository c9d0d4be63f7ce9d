/**
 * What the soak sees of the clouds: every resource named `vmflow-<vmId>…` in the simulators'
 * /_sim/state (the admin API is never faulted and answers during an outage), and which of them
 * are running copies of a VM.
 */
import type { SoakSystem } from './system';
import { simAdmin } from './system';

type Json = any;
export type CloudKind = 'openstack' | 'cloudstack';

/** Nova statuses in which the guest runs (a resize or reboot of a running server is still it). */
const OS_RUNNING = new Set(['ACTIVE', 'REBOOT', 'HARD_REBOOT', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);
const CS_RUNNING = new Set(['Running']);
export const CS_GONE = new Set(['Destroyed', 'Expunging', 'Expunged']);
const OS_SERVER_GONE = new Set(['DELETED', 'SOFT_DELETED']);
const OS_IMAGE_GONE = new Set(['deleted', 'killed', 'pending_delete']);

export interface Copy {
  cloud: CloudKind;
  id: string;
  name: string;
  status: string;
}

export interface CloudsView {
  at: number;
  os: Json;
  cs: Json;
}

export async function readClouds(sys: SoakSystem): Promise<CloudsView> {
  const [os, cs] = await Promise.all([simAdmin(sys.openstack.url, 'GET', '/state'), simAdmin(sys.cloudstack.url, 'GET', '/state')]);
  return { at: Date.now(), os, cs };
}

/**
 * The name the member gave each VM: the server its Heat stack makes carries that name (standbys,
 * promoted standbys and everything else vmflow makes are named `vmflow-<vmId>…`).
 */
const memberNames = new Map<string, string>();
export function registerVmName(vmId: string, name: string): void {
  memberNames.set(vmId, name);
}

const ownedBy = (name: unknown, vmId: string): boolean =>
  typeof name === 'string' && (name === `vmflow-${vmId}` || name.startsWith(`vmflow-${vmId}-`) || (memberNames.has(vmId) && name === memberNames.get(vmId)));
export const isDrillName = (name: string): boolean => /-drill-/.test(name);

/** The VM id in a resource name, when the name is one vmflow gives. */
export function vmIdOfName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const m = /^vmflow-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-|$)/.exec(name);
  return m?.[1];
}

/** Running copies of the VM, drill copies excluded; copies in a cloud in `down` are not counted. */
export function runningCopies(view: CloudsView, vmId: string, down: ReadonlySet<CloudKind>): Copy[] {
  const out: Copy[] = [];
  if (!down.has('openstack')) {
    for (const s of view.os.servers.items as Json[]) {
      if (ownedBy(s.name, vmId) && !isDrillName(s.name) && OS_RUNNING.has(s.status)) out.push({ cloud: 'openstack', id: s.id, name: s.name, status: s.status });
    }
  }
  if (!down.has('cloudstack')) {
    for (const v of view.cs.vms.items as Json[]) {
      if (ownedBy(v.name, vmId) && !isDrillName(v.name) && CS_RUNNING.has(v.state)) out.push({ cloud: 'cloudstack', id: v.id, name: v.name, status: v.state });
    }
  }
  return out;
}

/** Is there a stopped standby in CloudStack a failover could start? */
export function hasBackupCloudStandby(view: CloudsView, vmId: string): boolean {
  return (view.cs.vms.items as Json[]).some((v) => v.name === `vmflow-${vmId}-standby` && v.state === 'Stopped');
}

export interface Resources {
  servers: Json[];
  images: Json[];
  stacks: Json[];
  csVms: Json[];
  templates: Json[];
}

/** Every live resource of the VM in both clouds (gone ones left out), for reports and leak checks. */
export function resourcesOf(view: CloudsView, vmId: string): Resources {
  return {
    servers: (view.os.servers.items as Json[]).filter((s) => ownedBy(s.name, vmId) && !OS_SERVER_GONE.has(s.status)).map((s) => ({ id: s.id, name: s.name, status: s.status, taskState: s.taskState })),
    images: (view.os.images.items as Json[]).filter((i) => ownedBy(i.name, vmId) && !OS_IMAGE_GONE.has(i.status)).map((i) => ({ id: i.id, name: i.name, status: i.status })),
    stacks: (view.os.stacks.items as Json[]).filter((x) => ownedBy(x.name, vmId) && x.status !== 'DELETE_COMPLETE').map((x) => ({ id: x.id, name: x.name, status: x.status })),
    csVms: (view.cs.vms.items as Json[]).filter((v) => ownedBy(v.name, vmId) && !CS_GONE.has(v.state)).map((v) => ({ id: v.id, name: v.name, state: v.state })),
    templates: (view.cs.templates.items as Json[]).filter((t) => ownedBy(t.name, vmId)).map((t) => ({ id: t.id, name: t.name, status: t.status })),
  };
}

/** Every VM id that some live vmflow resource in either cloud is named after. */
export function vmIdsInClouds(view: CloudsView): Set<string> {
  const ids = new Set<string>();
  const add = (name: unknown) => {
    const id = vmIdOfName(name);
    if (id) ids.add(id);
  };
  for (const s of view.os.servers.items as Json[]) if (!OS_SERVER_GONE.has(s.status)) add(s.name);
  for (const i of view.os.images.items as Json[]) if (!OS_IMAGE_GONE.has(i.status)) add(i.name);
  for (const x of view.os.stacks.items as Json[]) if (x.status !== 'DELETE_COMPLETE') add(x.name);
  for (const v of view.cs.vms.items as Json[]) if (!CS_GONE.has(v.state)) add(v.name);
  for (const t of view.cs.templates.items as Json[]) add(t.name);
  return ids;
}
