/**
 * What a VM list shows beside each VM without a request per row (issue 14, My VMs): its DR
 * summary (protected, the DR state drVm recorded and since when, last RPO/RTO, and the age of the
 * newest backup with an image — the RPO a disaster now would have) and when its next scheduled
 * backup comes (next-run.ts). One query per collection for the whole page, by _id / vmId `$in`,
 * scoped to the owner; never a Temporal call. Not kept with the cached list page: these change
 * without the member's list stamp changing (a failover, a backup).
 */
import type { Connection } from 'mongoose';
import { backupModel, backupPolicyModel } from '../backups/model';
import { nextBackup } from '../backups/next-run';
import type { VmDrSummary, VmView } from '../contracts/api/vms';
import { drProtectionModel, drStateModel } from '../dr/model';
import { environmentBackupPolicyModel } from '../environments/backup-model';

export async function withSummaries(db: Connection, ownerId: string, vms: readonly VmView[], now = new Date()): Promise<VmView[]> {
  const live = vms.filter((v) => v.state !== 'deleted').map((v) => v.id);
  if (live.length === 0) return [...vms];
  const ids = { $in: live };
  const envIds = [...new Set(vms.flatMap((v) => (v.state !== 'deleted' && v.environmentId ? [v.environmentId] : [])))];
  const [protections, states, backups, policies, groupPolicies] = await Promise.all([
    drProtectionModel(db).find({ ownerId, _id: ids, enabled: true }, { _id: 1 }).lean(),
    drStateModel(db).find({ ownerId, _id: ids }, { status: 1, since: 1 }).lean(),
    backupModel(db).find({ ownerId, vmId: ids, image: { $exists: true }, retiredAt: { $exists: false } }, { vmId: 1, startedAt: 1 }).lean(),
    backupPolicyModel(db).find({ ownerId, _id: ids }, { intervalSeconds: 1, cron: 1, paused: 1 }).lean(),
    // Members of an environment with a group policy are backed up by the group's schedule.
    envIds.length ? environmentBackupPolicyModel(db).find({ ownerId, _id: { $in: envIds } }, { intervalSeconds: 1, cron: 1, paused: 1 }).lean() : Promise.resolve([]),
  ]);
  const isProtected = new Set(protections.map((p) => p._id));
  const stateOf = new Map(states.map((s) => [s._id, s]));
  const newest = new Map<string, number>();
  for (const b of backups) {
    const t = new Date(b.startedAt).getTime();
    if (t > (newest.get(b.vmId) ?? -Infinity)) newest.set(b.vmId, t);
  }
  const policyOf = new Map(policies.map((p) => [p._id, p]));
  const groupPolicyOf = new Map(groupPolicies.map((p) => [p._id, p]));

  return vms.map((vm) => {
    if (vm.state === 'deleted') return vm;
    const prot = isProtected.has(vm.id);
    const rec = prot ? stateOf.get(vm.id) : undefined;
    const newestAt = newest.get(vm.id);
    const dr: VmDrSummary = {
      protected: prot,
      ...(rec ? { state: rec.status.state, since: new Date(rec.since).toISOString() } : {}),
      ...(rec?.status.target && rec.status.state === 'FailedOver' ? { target: rec.status.target } : {}),
      ...(rec?.status.lastRpoSeconds !== undefined ? { lastRpoSeconds: rec.status.lastRpoSeconds } : {}),
      ...(rec?.status.lastRtoSeconds !== undefined ? { lastRtoSeconds: rec.status.lastRtoSeconds } : {}),
      ...(newestAt !== undefined ? { rpoSecondsNow: Math.max(0, (now.getTime() - newestAt) / 1000), newestBackupAt: new Date(newestAt).toISOString() } : {}),
    };
    // Scheduled backups run while the VM runs in the base cloud (they pause after a failover to CloudStack).
    const policy = (vm.environmentId ? groupPolicyOf.get(vm.environmentId) : undefined) ?? policyOf.get(vm.id);
    const inBase = !vm.placement || vm.placement.cloud === 'openstack';
    const next = policy && inBase && vm.state !== 'failed' ? nextBackup(policy, now) : undefined;
    return { ...vm, dr, ...(next ? { nextBackupAt: next.at.toISOString(), nextBackupJitterSeconds: next.jitterSeconds } : {}) };
  });
}
