/**
 * The clouds' own quotas, read before a create (issue 14, New VM): what an account may still hold
 * — OpenStack from Nova's `GET /limits` (absolute maxTotalInstances/totalInstancesUsed, cores,
 * RAM), CloudStack from `listResourceLimits` (instance, CPU and memory maxima) with the account's
 * counts from `listAccounts` (vmtotal, cputotal, memorytotal). A create that cannot fit — its
 * server, plus the standbys its backup policy makes (a stopped server in OpenStack and a stopped
 * VM in CloudStack, each of the VM's size) — is refused before anything starts, saying why.
 *
 * It is a pre-check: the clouds still enforce their quotas (a create that races another past the
 * check fails in its workflow and is compensated). A reading is kept for READING_TTL_MS per
 * account, with the creates admitted since counted against it, so a burst of creates costs one
 * cloud call per account and a couple of seconds, not one each; a refusal is always decided on a
 * reading taken for it, and GET /quotas always reads anew.
 */
import { findSize, type Catalog } from '../catalog';
import type { CloudKind } from '../contracts/vm';
import type { CloudQuotaView, CloudUsage } from '../contracts/api/quotas';
import { AppError } from '../errors';
import type { CloudAccountResolver } from '../cloud-accounts/resolver';

const READING_TTL_MS = 2_000;

/** What a new VM takes from each account it touches. */
export interface QuotaNeed {
  accountId: string;
  cloud: CloudKind;
  /** The VM itself (1 or 0) and its standbys in this account. */
  servers: number;
  standbys: number;
  cores: number;
  ramMiB: number;
}

interface Reading {
  view: Extract<CloudQuotaView, { instances: CloudUsage }>;
  at: number;
  /** Admitted since the reading: counted as used. */
  admitted: { instances: number; cores: number; ramMiB: number };
}

const unlimited = (n: number | string | undefined): number | null => {
  if (n === undefined || n === 'Unlimited') return null;
  const v = Number(n);
  return Number.isFinite(v) && v >= 0 ? v : null;
};

const CLOUD_NAMES: Record<CloudKind, string> = { openstack: 'OpenStack project', cloudstack: 'CloudStack account' };

export class CloudQuotas {
  private readonly readings = new Map<string, Reading>();
  /** Reads under way (creates arriving together share one). */
  private readonly reading = new Map<string, Promise<CloudQuotaView>>();

  constructor(
    private readonly d: {
      resolver: Pick<CloudAccountResolver, 'openstack' | 'cloudstack'>;
      catalog: () => Catalog;
      timeoutMs?: number;
    },
  ) {}

  /**
   * One account's quota, read from its cloud now (never throws: a cloud that does not answer within
   * the timeout, Keystone included, says so — a create never waits longer than that for it).
   */
  async read(cloud: CloudKind, accountId: string): Promise<CloudQuotaView> {
    const timeoutMs = this.d.timeoutMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the cloud did not answer in time')), timeoutMs);
    });
    try {
      return await Promise.race([this.readNow(cloud, accountId, timeoutMs), late]);
    } catch {
      // The cloud's text is not echoed (a member's account could point anywhere).
      return { cloud, accountId, error: 'the cloud did not answer with its limits' };
    } finally {
      clearTimeout(timer);
    }
  }

  private async readNow(cloud: CloudKind, accountId: string, timeoutMs: number): Promise<CloudQuotaView> {
    let view: Reading['view'];
    if (cloud === 'openstack') {
      const os = await this.d.resolver.openstack(accountId);
      const l = await os.compute.getAbsoluteLimits({ signal: AbortSignal.timeout(timeoutMs) });
      view = {
        cloud,
        accountId,
        instances: { used: l.totalInstancesUsed, max: unlimited(l.maxTotalInstances) },
        cores: { used: l.totalCoresUsed, max: unlimited(l.maxTotalCores) },
        ramMiB: { used: l.totalRAMUsed, max: unlimited(l.maxTotalRAMSize) },
      };
    } else {
      const cs = await this.d.resolver.cloudstack(accountId);
      const [limits, account] = await Promise.all([cs.listResourceLimits({}, { timeoutMs }), cs.ownAccount({ timeoutMs })]);
      const max = (type: number) => unlimited(limits.find((r) => Number(r.resourcetype) === type)?.max);
      view = {
        cloud,
        accountId,
        instances: { used: Number(account?.vmtotal ?? 0), max: max(0) },
        cores: { used: Number(account?.cputotal ?? 0), max: max(8) },
        ramMiB: { used: Number(account?.memorytotal ?? 0), max: max(9) },
      };
    }
    this.readings.set(accountId, { view, at: Date.now(), admitted: { instances: 0, cores: 0, ramMiB: 0 } });
    return view;
  }

  /** What a VM of these requirements takes: its server, and the standbys its backup policy makes. */
  need(o: { cloud: CloudKind; accountId: string; size: string; backup?: { baseStandby: boolean; backupCloudStandby: boolean; backupAccountId: string } }): QuotaNeed[] {
    const size = findSize(this.d.catalog(), o.size);
    const per = { cores: size?.vcpus ?? 0, ramMiB: size?.ramMiB ?? 0 };
    const needs: QuotaNeed[] = [{ accountId: o.accountId, cloud: o.cloud, servers: 1, standbys: o.backup?.baseStandby && o.cloud === 'openstack' ? 1 : 0, cores: 0, ramMiB: 0 }];
    if (o.backup?.backupCloudStandby && o.cloud === 'openstack') {
      if (o.backup.backupAccountId === o.accountId) needs[0].standbys += 1;
      else needs.push({ accountId: o.backup.backupAccountId, cloud: 'cloudstack', servers: 0, standbys: 1, cores: 0, ramMiB: 0 });
    }
    for (const n of needs) {
      n.cores = (n.servers + n.standbys) * per.cores;
      n.ramMiB = (n.servers + n.standbys) * per.ramMiB;
    }
    return needs;
  }

  /**
   * Refuses (409 cloud_quota_exceeded, naming the cloud, the limit, the use and the need) a create
   * that does not fit every account it needs; admits it otherwise. A kept reading may admit, but
   * never refuses: a refusal is decided on a reading taken for it (the quota may have grown, or
   * VMs gone, since). A cloud that cannot be read does not refuse (its own quota still holds).
   */
  async check(needs: QuotaNeed[]): Promise<void> {
    const problems: string[] = [];
    const admitted: Array<[QuotaNeed, Reading]> = [];
    for (const n of needs) {
      let r = await this.readingFor(n, false);
      let problem = r && this.problem(n, r);
      if (problem && !r!.fresh) {
        r = await this.readingFor(n, true);
        problem = r && this.problem(n, r);
      }
      if (!r) continue;
      if (problem) problems.push(problem);
      else admitted.push([n, r]);
    }
    if (problems.length) {
      throw new AppError(409, 'cloud_quota_exceeded', `the VM does not fit the cloud's quota: ${problems.join('; ')}`, [{ field: 'cloud', message: problems.join('; ') }]);
    }
    for (const [n, r] of admitted) {
      r.admitted.instances += n.servers + n.standbys;
      r.admitted.cores += n.cores;
      r.admitted.ramMiB += n.ramMiB;
    }
  }

  /** The account's reading: the kept one while young enough (unless `fresh`), else one taken now (shared by creates arriving together). */
  private async readingFor(n: QuotaNeed, fresh: boolean): Promise<(Reading & { fresh: boolean }) | undefined> {
    const kept = this.readings.get(n.accountId);
    if (kept && !fresh && Date.now() - kept.at <= READING_TTL_MS) return Object.assign(kept, { fresh: false });
    let p = this.reading.get(n.accountId);
    if (!p) {
      p = this.read(n.cloud, n.accountId).finally(() => this.reading.delete(n.accountId));
      this.reading.set(n.accountId, p);
    }
    await p;
    const r = this.readings.get(n.accountId);
    // Unreadable now: an older reading would say what is no longer true.
    if (!r || Date.now() - r.at > READING_TTL_MS) return undefined;
    return Object.assign(r, { fresh: true });
  }

  /** Why `n` does not fit reading `r`, or undefined when it does. */
  private problem(n: QuotaNeed, r: Reading): string | undefined {
    const instances = n.servers + n.standbys;
    const what = `this VM needs ${[n.servers ? `${n.servers}` : '', n.standbys ? `${n.standbys} standby` : ''].filter(Boolean).join(' + ')}`;
    const over = (u: CloudUsage, admitted: number, want: number) => u.max !== null && u.used + admitted + want > u.max;
    const name = CLOUD_NAMES[n.cloud];
    if (over(r.view.instances, r.admitted.instances, instances)) return `${name} allows ${r.view.instances.max} instances, ${r.view.instances.used + r.admitted.instances} in use; ${what}`;
    if (over(r.view.cores, r.admitted.cores, n.cores)) return `${name} allows ${r.view.cores.max} cores, ${r.view.cores.used + r.admitted.cores} in use; ${what} (${n.cores} cores)`;
    if (over(r.view.ramMiB, r.admitted.ramMiB, n.ramMiB)) return `${name} allows ${r.view.ramMiB.max} MiB of RAM, ${r.view.ramMiB.used + r.admitted.ramMiB} MiB in use; ${what} (${n.ramMiB} MiB)`;
    return undefined;
  }
}
