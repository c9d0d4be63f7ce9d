/**
 * The end-of-soak leak check. For every VM the soak made, the resources named after it
 * (`vmflow-<vmId>…`) in both clouds and the image store (`vms/<vmId>/…`) must be exactly what
 * keeps it running and recoverable:
 *   - a deleted VM: nothing at all;
 *   - a live VM: Nova servers = its placement (when in OpenStack) + base standbys named by its
 *     unretired backup records + (away from its stack) its home stack's server, fenced (SHUTOFF); Glance images = the images of unretired backups; Heat stacks = at
 *     most one, the placement's (or its home stack, while it runs in CloudStack or on a promoted
 *     standby that no stack owns); CloudStack VMs =
 *     its placement (when in CloudStack) + backup-cloud standbys of unretired backups; templates =
 *     those of unretired backups; store objects = `vms/<vmId>/<backupId>.qcow2` of unretired
 *     backups; no drill copy anywhere; unretired backups with an image ≤ retention + 1 (the +1 is
 *     a failback image or the newest pre-failover backup).
 * Resources named after a VM id the soak never made are leaks too.
 */
import { backupStoreKey } from '../../src/contracts/backup';
import type { ApiAnswer } from '../harness/http';
import { isDrillName, resourcesOf, vmIdsInClouds, type CloudsView } from './observe';
import type { TrackedVm } from './soak';
import type { SoakSystem } from './system';

type Json = any;

export interface Leak {
  kind: string;
  vmId?: string;
  message: string;
  state?: unknown;
}

const RETENTION = 2;

export async function checkLeaks(o: {
  sys: SoakSystem;
  view: CloudsView;
  vms: Map<string, Json>;
  tracked: Map<string, TrackedVm>;
  api: (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<ApiAnswer | undefined>;
}): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const storeKeys = (await o.sys.storeClient.list('vms/')).map((m) => m.key as string);
  const keysOf = (vmId: string) => storeKeys.filter((k) => k.startsWith(`vms/${vmId}/`));

  for (const id of vmIdsInClouds(o.view)) {
    if (!o.tracked.has(id)) leaks.push({ kind: 'unknown', vmId: id, message: `resources named after a VM the soak never made`, state: resourcesOf(o.view, id) });
  }

  for (const t of o.tracked.values()) {
    const vm = o.vms.get(t.vmId);
    const res = resourcesOf(o.view, t.vmId);
    const keys = keysOf(t.vmId);
    const name = (x: { name?: string; id: string }) => `${x.name ?? ''}(${x.id})`;
    if (!vm || t.deleting || vm.state === 'deleted' || vm.state === 'deleting') {
      const left = [
        ...res.servers.map((x) => `server ${name(x)} ${x.status}`),
        ...res.images.map((x) => `image ${name(x)} ${x.status}`),
        ...res.stacks.map((x) => `stack ${name(x)} ${x.status}`),
        ...res.csVms.map((x) => `CloudStack VM ${name(x)} ${x.state}`),
        ...res.templates.map((x) => `template ${name(x)} ${x.status}`),
        ...keys.map((k) => `store ${k}`),
      ];
      if (left.length) leaks.push({ kind: 'deleted-vm', vmId: t.vmId, message: `VM ${t.name} is ${vm?.state ?? 'gone'} but leaves ${left.length} resource(s): ${left.join('; ')}` });
      continue;
    }
    const backups = ((await o.api('GET', `/api/v1/vms/${t.vmId}/backups`, undefined, 15_000))?.body?.backups ?? []) as Json[];
    const kept = backups.filter((b) => !b.retiredAt);
    const p = vm.placement as Json | undefined;
    const allowedServers = new Set<string>(kept.map((b) => b.baseStandby?.serverId).filter(Boolean));
    if (p?.cloud === 'openstack') allowedServers.add(p.serverId);
    const allowedCsVms = new Set<string>(kept.map((b) => b.backupCloudStandby?.csVmId).filter(Boolean));
    if (p?.cloud === 'cloudstack') allowedCsVms.add(p.serverId);
    // Away from its stack (in CloudStack, or on a promoted standby), the VM keeps its home stack's
    // server fenced (SHUTOFF): the stack is where restore and failback bring it back, and the old
    // primary's disk may hold newer data than the last backup. One such server, never running.
    if (p && !(p.cloud === 'openstack' && p.stackId)) {
      const fencedHome = res.servers.find((x) => x.name === t.name && x.status === 'SHUTOFF');
      if (fencedHome) allowedServers.add(fencedHome.id);
    }
    const allowedImages = new Set<string>(kept.map((b) => b.image?.id).filter(Boolean));
    const allowedTemplates = new Set<string>(kept.map((b) => b.template?.id).filter(Boolean));
    const allowedKeys = new Set<string>(kept.filter((b) => b.store).map((b) => backupStoreKey(t.vmId, b.id)));
    const found: string[] = [];
    for (const x of res.servers) if (isDrillName(x.name) || !allowedServers.has(x.id)) found.push(`server ${name(x)} ${x.status}`);
    for (const x of res.csVms) if (isDrillName(x.name) || !allowedCsVms.has(x.id)) found.push(`CloudStack VM ${name(x)} ${x.state}`);
    for (const x of res.images) if (!allowedImages.has(x.id)) found.push(`image ${name(x)} ${x.status}`);
    for (const x of res.templates) if (!allowedTemplates.has(x.id)) found.push(`template ${name(x)} ${x.status}`);
    for (const k of keys) if (!allowedKeys.has(k)) found.push(`store ${k}`);
    const stacks = res.stacks;
    if (p?.cloud === 'openstack') {
      // Running on a promoted standby (no stack), the VM keeps its one home stack for restore and resize.
      const allowed = (x: { id: string }) => (p.stackId ? x.id === p.stackId : stacks.length === 1);
      for (const x of stacks) if (!allowed(x)) found.push(`stack ${name(x)} ${x.status} (placement ${p.stackId ? `stack ${p.stackId}` : 'has no stack'})`);
    } else if (stacks.length > 1) found.push(`${stacks.length} stacks: ${stacks.map((x) => name(x)).join(', ')}`);
    const good = kept.filter((b) => b.image && (b.status === 'succeeded' || b.status === 'partial'));
    if (good.length > RETENTION + 1) found.push(`${good.length} unretired backups with an image (retention ${RETENTION})`);
    if (found.length) {
      leaks.push({
        kind: 'live-vm',
        vmId: t.vmId,
        message: `VM ${t.name} (${vm.state}, placement ${p ? `${p.cloud}:${p.serverId}` : 'none'}) has ${found.length} resource(s) no placement or unretired backup keeps: ${found.join('; ')}`,
        state: { backups: kept.map((b) => ({ id: b.id, status: b.status, image: b.image?.id, template: b.template?.id, baseStandby: b.baseStandby?.serverId, csStandby: b.backupCloudStandby?.csVmId })), resources: res, storeKeys: keys },
      });
    }
  }
  return leaks;
}
