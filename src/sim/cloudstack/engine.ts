/**
 * The simulated management server's state and machinery: records, async jobs, timers, the
 * expunge sweeper, faults, persistence and the summary behind GET /_sim/state. Commands (in
 * commands/) call into it; the HTTP layer (server.ts) never touches records directly.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../logger';
import { ApiError, internalError, invalidParamValue, permissionDenied } from './api-error';
import { FaultSet, type Fault } from './faults';
import type {
  Account,
  AsyncJob,
  ExtractLink,
  Network,
  NetworkOffering,
  OsType,
  ServiceOffering,
  SimAccountSpec,
  SimData,
  Snapshot,
  Template,
  VirtualMachine,
  Volume,
  Zone,
} from './model';
import { TemplateDownloader } from './downloads';
import { renderExtract, type RenderLookup } from './render';
import { buildInfra, seededUuid, seedTemplates, type SeedInfra } from './seed';
import type { CloudStackTimings } from './timings';

export interface EngineOptions {
  dataDir: string;
  stateFile?: string;
  timings: CloudStackTimings;
  accounts: SimAccountSpec[];
  seed: number;
  logger: Logger;
  /** allow.user.view.destroyed.vm: whether non-admin accounts list their Destroyed/Expunging VMs (false on a default install). */
  userSeesDestroyedVms?: boolean;
  /** Base URL clients reach this simulator at (for download URLs). */
  publicUrl: () => string;
}

export interface JobSpec {
  delayMs: number;
  /** Builds the jobresult once the delay has passed; throw an ApiError to fail the job. */
  run: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Puts records back into a consistent state when the job fails (injected or thrown). */
  onFail?: (err: ApiError) => void;
  /** Set by an asyncJobFail fault: the job fails with this error instead of running. */
  failWith?: ApiError;
}

export interface SimStateSummary {
  vms: { total: number; byState: Record<string, number>; items: Array<{ id: string; name: string; state: string; account: string; templateid: string; startedAt?: string }> };
  templates: {
    total: number;
    ready: number;
    notReady: number;
    byStatus: Record<string, number>;
    items: Array<{ id: string; name: string; status: string; isready: boolean; account: string; isfeatured: boolean; isextractable: boolean }>;
  };
  volumes: { total: number };
  networks: { total: number; items: Array<{ id: string; name: string; account: string; cidr: string; state: string; vms: number }> };
  snapshots: { total: number; byState: Record<string, number>; items: Array<{ id: string; name: string; state: string; volumeid: string }> };
  jobs: {
    total: number;
    byStatus: { pending: number; succeeded: number; failed: number };
    items: Array<{ jobid: string; command: string; jobstatus: number; account: string; instanceid?: string }>;
  };
  downloads: { active: number; extractUrls: number };
  requests: { total: number; byCommand: Record<string, number> };
  faults: Fault[];
  outage: '503' | 'refuse' | null;
}

const MAX_FINISHED_JOBS = 1000;
const STATE_VERSION = 1;

const JOB_CLASS: Record<string, string> = {
  deployVirtualMachine: 'org.apache.cloudstack.api.command.user.vm.DeployVMCmd',
  startVirtualMachine: 'org.apache.cloudstack.api.command.user.vm.StartVMCmd',
  stopVirtualMachine: 'org.apache.cloudstack.api.command.user.vm.StopVMCmd',
  rebootVirtualMachine: 'org.apache.cloudstack.api.command.user.vm.RebootVMCmd',
  destroyVirtualMachine: 'org.apache.cloudstack.api.command.user.vm.DestroyVMCmd',
  createSnapshot: 'org.apache.cloudstack.api.command.user.snapshot.CreateSnapshotCmd',
  deleteSnapshot: 'org.apache.cloudstack.api.command.user.snapshot.DeleteSnapshotCmd',
  createTemplate: 'org.apache.cloudstack.api.command.user.template.CreateTemplateCmd',
  extractTemplate: 'org.apache.cloudstack.api.command.user.template.ExtractTemplateCmd',
  deleteTemplate: 'org.apache.cloudstack.api.command.user.template.DeleteTemplateCmd',
  deleteNetwork: 'org.apache.cloudstack.api.command.user.network.DeleteNetworkCmd',
};

export class CloudStackEngine implements RenderLookup {
  timings: CloudStackTimings;
  readonly infra: SeedInfra;
  readonly dataDir: string;
  readonly faults: FaultSet;
  readonly log: Logger;
  outage: '503' | 'refuse' | null = null;
  readonly userSeesDestroyedVms: boolean;

  templates = new Map<string, Template>();
  vms = new Map<string, VirtualMachine>();
  volumes = new Map<string, Volume>();
  snapshots = new Map<string, Snapshot>();
  jobs = new Map<string, AsyncJob>();
  extracts = new Map<string, ExtractLink>();
  /** Networks made by createNetwork (the seeded per-account ones live in infra). */
  userNetworks = new Map<string, Network>();
  vmSeq = 0;
  readonly requests = new Map<string, number>();

  /** Aborts running registerTemplate downloads, by template id. */
  readonly downloads = new Map<string, AbortController>();
  readonly downloader: TemplateDownloader;
  private readonly publicUrl: () => string;

  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly stateFile?: string;
  private readonly seed: number;
  private persistTimer?: NodeJS.Timeout;
  private dirty = false;
  private stopped = false;
  private readonly apiKeys = new Map<string, Account>();
  private readonly host: { id: string; name: string };

  constructor(opts: EngineOptions) {
    this.timings = opts.timings;
    this.dataDir = opts.dataDir;
    this.stateFile = opts.stateFile;
    this.seed = opts.seed;
    this.log = opts.logger;
    this.userSeesDestroyedVms = !!opts.userSeesDestroyedVms;
    this.publicUrl = opts.publicUrl;
    this.downloader = new TemplateDownloader(this);
    this.infra = buildInfra(opts.seed, opts.accounts);
    for (const a of this.infra.accounts) this.apiKeys.set(a.apiKey, a);
    this.faults = new FaultSet(opts.seed);
    this.host = { id: seededUuid(opts.seed, 'host:1'), name: 'sim-kvm-host-1' };
    fs.mkdirSync(this.dataDir, { recursive: true });
    for (const t of seedTemplates(this.seed, this.infra, this.dataDir)) this.templates.set(t.id, t);
    if (this.stateFile && fs.existsSync(this.stateFile)) this.restore();
  }

  // ---- lookups (RenderLookup) --------------------------------------------------------------

  get domainId(): string {
    return this.infra.domainId;
  }
  get zone(): Zone {
    return this.infra.zone;
  }
  accountByApiKey(apiKey: string): Account | undefined {
    return this.apiKeys.get(apiKey);
  }
  account(id: string): Account | undefined {
    return this.infra.accounts.find((a) => a.id === id);
  }
  accountName(id: string): string {
    if (id === this.infra.systemAccountId) return 'system';
    return this.account(id)?.name ?? 'unknown';
  }
  offering(id: string): ServiceOffering | undefined {
    return this.infra.offerings.find((o) => o.id === id);
  }
  osType(id: string): OsType | undefined {
    return this.infra.osTypes.find((o) => o.id === id);
  }
  network(id: string): Network | undefined {
    return this.infra.networks.find((n) => n.id === id) ?? this.userNetworks.get(id);
  }
  /** Every guest network: each account's seeded default one, then those createNetwork made. */
  allNetworks(): Network[] {
    return [...this.infra.networks, ...this.userNetworks.values()];
  }
  networkOffering(id: string): NetworkOffering | undefined {
    return this.infra.networkOfferings.find((o) => o.id === id);
  }
  /** Whether any VM not yet expunged has a NIC on the network (CloudStack refuses to delete it then). */
  vmsOnNetwork(networkId: string): VirtualMachine[] {
    return [...this.vms.values()].filter((vm) => vm.nics.some((n) => n.networkId === networkId));
  }
  template(id: string): Template | undefined {
    return this.templates.get(id);
  }
  vm(id: string): VirtualMachine | undefined {
    return this.vms.get(id);
  }
  hostFor(vm: VirtualMachine): { id: string; name: string } | undefined {
    return vm.state === 'Running' || vm.state === 'Stopping' || vm.state === 'Starting' ? this.host : undefined;
  }

  /** The account's default guest network. */
  defaultNetwork(account: Account): Network {
    return this.infra.networks.find((n) => n.accountId === account.id)!;
  }

  // ---- access checks ----------------------------------------------------------------------

  /** Owner or root admin. */
  owns(account: Account, ownerId: string): boolean {
    return account.admin || account.id === ownerId;
  }

  canSeeTemplate(account: Account, t: Template): boolean {
    return this.owns(account, t.accountId) || t.ispublic || t.isfeatured;
  }

  /** A record by id for `param`: 431 when it does not exist, 531 when it belongs to someone else. */
  ownedOrThrow<T extends { accountId: string }>(
    account: Account,
    record: T | undefined,
    commandLower: string,
    param: string,
    value: string,
    what: string,
  ): T {
    if (!record) throw invalidParamValue(commandLower, param, value);
    if (!this.owns(account, record.accountId)) {
      throw permissionDenied(`Account '${account.name}' does not have permission to operate with resource ${what} ${value}`);
    }
    return record;
  }

  liveVmCount(account: Account): number {
    let n = 0;
    for (const vm of this.vms.values()) if (vm.accountId === account.id && vm.state !== 'Destroyed' && vm.state !== 'Expunging') n++;
    return n;
  }

  // ---- files ------------------------------------------------------------------------------

  abs(rel: string): string {
    return path.join(this.dataDir, rel);
  }

  /** A second name for the same bytes (hard link; a copy where links are not possible). */
  linkFile(srcRel: string, dstRel: string): void {
    const src = this.abs(srcRel);
    const dst = this.abs(dstRel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.rmSync(dst, { force: true });
    try {
      fs.linkSync(src, dst);
    } catch {
      fs.copyFileSync(src, dst);
    }
  }

  removeFile(rel: string | undefined): void {
    if (rel) fs.rmSync(this.abs(rel), { force: true });
  }

  fileSize(rel: string): number {
    return fs.statSync(this.abs(rel)).size;
  }

  /**
   * A time-limited download URL for a template's bytes. The bytes get their own link, so the URL
   * keeps working for its lifetime even if the template is deleted meanwhile.
   */
  createExtract(account: Account, t: Template, fileName: string): Record<string, unknown> {
    const token = crypto.randomBytes(24).toString('base64url');
    const link: ExtractLink = {
      token,
      extractId: crypto.randomUUID(),
      templateId: t.id,
      accountId: account.id,
      file: path.join('extracts', token),
      fileName,
      expiresAt: Date.now() + this.timings.downloadUrlTtlMs,
      created: Date.now(),
    };
    this.linkFile(t.file!, link.file);
    this.extracts.set(token, link);
    this.markDirty();
    this.after(this.timings.downloadUrlTtlMs, () => this.expireExtract(token));
    return renderExtract(this, link, t, `${this.publicUrl()}/download/${token}/${encodeURIComponent(fileName)}`);
  }

  /** The live extract link for a token (expired ones are removed on sight). */
  extractFor(token: string): ExtractLink | undefined {
    const e = this.extracts.get(token);
    if (e && e.expiresAt <= Date.now()) {
      this.expireExtract(token);
      return undefined;
    }
    return e;
  }

  private expireExtract(token: string): void {
    const e = this.extracts.get(token);
    if (!e) return;
    this.extracts.delete(token);
    this.removeFile(e.file);
    this.markDirty();
  }

  // ---- timers and jobs --------------------------------------------------------------------

  /** Runs fn after ms unless the simulator is reset or stopped first. */
  after(ms: number, fn: () => void | Promise<void>): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      Promise.resolve()
        .then(fn)
        .catch((err) => this.log.error({ err }, 'simulator timer failed'));
    }, ms);
    this.timers.add(t);
  }

  startJob(account: Account, command: string, instancetype: string | undefined, instanceid: string | undefined, spec: JobSpec): AsyncJob {
    const job: AsyncJob = {
      id: crypto.randomUUID(),
      accountId: account.id,
      userId: account.userId,
      command,
      cmd: JOB_CLASS[command] ?? command,
      status: 0,
      resultcode: 0,
      instancetype,
      instanceid,
      created: Date.now(),
    };
    this.jobs.set(job.id, job);
    this.markDirty();
    this.after(spec.delayMs, async () => {
      if (spec.failWith) {
        spec.onFail?.(spec.failWith);
        this.finishJob(job, spec.failWith);
        return;
      }
      try {
        this.finishJob(job, await spec.run());
      } catch (e) {
        const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e));
        if (!(e instanceof ApiError)) this.log.error({ err: e, command }, 'simulated job threw');
        spec.onFail?.(err);
        this.finishJob(job, err);
      }
    });
    return job;
  }

  private finishJob(job: AsyncJob, outcome: Record<string, unknown> | ApiError): void {
    job.completed = Date.now();
    if (outcome instanceof ApiError) {
      job.status = 2;
      // As AsyncJobManager does: the job's result code is 530; the cause is in jobresult.
      job.resultcode = 530;
      job.result = { errorcode: outcome.errorcode, errortext: outcome.errortext };
    } else {
      job.status = 1;
      job.resultcode = 0;
      job.result = outcome;
    }
    this.trimJobs();
    this.markDirty();
  }

  private trimJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => j.status !== 0);
    for (const j of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_JOBS))) this.jobs.delete(j.id);
  }

  // ---- VM lifecycle helpers shared by commands and the admin API ----------------------------

  /** Destroyed → (expungeDelayMs) → Expunging → (expungeMs) → gone. */
  scheduleExpunge(vm: VirtualMachine, delayMs: number): void {
    this.after(delayMs, () => {
      const cur = this.vms.get(vm.id);
      if (cur && cur.state === 'Destroyed') this.expunge(cur);
    });
  }

  expunge(vm: VirtualMachine): void {
    vm.state = 'Expunging';
    this.markDirty();
    this.after(this.timings.expungeMs, () => this.removeVm(vm.id));
  }

  /** Deletes the VM, its volumes and their bytes; its addresses become free. */
  removeVm(id: string): void {
    if (!this.vms.delete(id)) return;
    for (const v of [...this.volumes.values()]) {
      if (v.vmId === id) {
        this.volumes.delete(v.id);
        this.removeFile(v.file);
      }
    }
    this.markDirty();
  }

  /** Lowest free address in the network (.1 to .254, the gateway excepted), or undefined when it is full. */
  allocateIp(network: Network): string | undefined {
    const used = new Set<string>();
    for (const vm of this.vms.values()) for (const n of vm.nics) if (n.networkId === network.id) used.add(n.ipaddress);
    used.add(network.gateway ?? `${network.prefix}.1`);
    for (let i = 1; i <= 254; i++) {
      const ip = `${network.prefix}.${i}`;
      if (!used.has(ip)) return ip;
    }
    return undefined;
  }

  // ---- persistence ------------------------------------------------------------------------

  markDirty(): void {
    if (!this.stateFile || this.stopped) return;
    this.dirty = true;
    if (this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      this.saveNow();
    }, this.timings.persistDebounceMs);
  }

  private snapshotData(): SimData {
    return {
      templates: [...this.templates.values()].filter((t) => t.origin !== 'seed'),
      vms: [...this.vms.values()],
      volumes: [...this.volumes.values()],
      snapshots: [...this.snapshots.values()],
      jobs: [...this.jobs.values()],
      extracts: [...this.extracts.values()],
      vmSeq: this.vmSeq,
      networks: [...this.userNetworks.values()],
    };
  }

  saveNow(): void {
    if (!this.stateFile || !this.dirty) return;
    this.dirty = false;
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.stateFile), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify({ version: STATE_VERSION, seed: this.seed, data: this.snapshotData() }));
      fs.renameSync(tmp, this.stateFile);
    } catch (err) {
      this.log.error({ err, stateFile: this.stateFile }, 'could not write the simulator state file');
    }
  }

  /**
   * Loads the state file and settles what a restart interrupted, as a management server does:
   * pending jobs fail, VMs in transition settle, downloads start again, destroyed VMs are expunged
   * on schedule.
   */
  private restore(): void {
    let parsed: { version?: number; seed?: number; data?: SimData };
    try {
      parsed = JSON.parse(fs.readFileSync(this.stateFile!, 'utf8'));
    } catch (err) {
      this.log.warn({ err, stateFile: this.stateFile }, 'ignoring an unreadable simulator state file');
      return;
    }
    if (parsed.version !== STATE_VERSION || !parsed.data) {
      this.log.warn({ stateFile: this.stateFile }, 'ignoring a simulator state file of another version');
      return;
    }
    if (parsed.seed !== this.seed) this.log.warn({ stateFile: this.stateFile, seed: parsed.seed }, 'state file was written with another seed');
    const d = parsed.data;
    for (const t of d.templates) this.templates.set(t.id, t);
    for (const v of d.vms) this.vms.set(v.id, v);
    for (const v of d.volumes) this.volumes.set(v.id, v);
    for (const s of d.snapshots) this.snapshots.set(s.id, s);
    for (const j of d.jobs) this.jobs.set(j.id, j);
    for (const e of d.extracts) {
      if (e.expiresAt <= Date.now()) {
        this.removeFile(e.file);
        continue;
      }
      this.extracts.set(e.token, e);
      this.after(e.expiresAt - Date.now(), () => this.expireExtract(e.token));
    }
    this.vmSeq = d.vmSeq;
    for (const n of d.networks ?? []) this.userNetworks.set(n.id, n);

    for (const j of this.jobs.values()) {
      if (j.status === 0) this.finishJob(j, internalError('Job was cancelled because the management server restarted'));
    }
    for (const vm of [...this.vms.values()]) {
      if (vm.state === 'Starting') vm.state = 'Stopped';
      else if (vm.state === 'Stopping') vm.state = 'Running';
      else if (vm.state === 'Expunging') this.removeVm(vm.id);
      else if (vm.state === 'Destroyed') this.scheduleExpunge(vm, this.timings.expungeDelayMs);
    }
    for (const s of this.snapshots.values()) if (s.state === 'Allocated' || s.state === 'Creating') s.state = 'Error';
    for (const t of [...this.templates.values()]) {
      if (t.isready) continue;
      if (t.origin === 'volume' || t.origin === 'snapshot') this.templates.delete(t.id);
      else if (t.origin === 'registered' && !t.status.startsWith('Failed')) {
        t.status = '0% Downloaded';
        setImmediate(() => this.downloader.start(t));
      }
    }
    this.dirty = true;
    this.log.info({ stateFile: this.stateFile, vms: this.vms.size, templates: this.templates.size }, 'restored simulator state');
  }

  // ---- reset / stop -----------------------------------------------------------------------

  private cancelWork(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.downloads.values()) c.abort();
    this.downloads.clear();
  }

  /** Back to the seeded cloud: no VMs, no user templates, no jobs, no faults, no outage. */
  reset(): void {
    this.cancelWork();
    for (const dir of ['volumes', 'snapshots', 'extracts', 'downloads']) fs.rmSync(this.abs(dir), { recursive: true, force: true });
    for (const t of this.templates.values()) if (t.origin !== 'seed') this.removeFile(t.file);
    this.templates.clear();
    for (const t of seedTemplates(this.seed, this.infra, this.dataDir)) this.templates.set(t.id, t);
    this.vms.clear();
    this.volumes.clear();
    this.snapshots.clear();
    this.jobs.clear();
    this.extracts.clear();
    this.userNetworks.clear();
    this.vmSeq = 0;
    this.faults.clear();
    this.outage = null;
    this.requests.clear();
    this.dirty = true;
    this.markDirty();
  }

  async stop(): Promise<void> {
    this.cancelWork();
    await this.downloader.close();
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.saveNow();
    this.stopped = true;
  }

  // ---- summary ----------------------------------------------------------------------------

  countRequest(command: string): void {
    this.requests.set(command, (this.requests.get(command) ?? 0) + 1);
  }

  summary(): SimStateSummary {
    const tally = (values: string[]) => values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
    const vms = [...this.vms.values()];
    const templates = [...this.templates.values()];
    const snapshots = [...this.snapshots.values()];
    const jobs = [...this.jobs.values()];
    const byCommand = Object.fromEntries([...this.requests.entries()].sort(([a], [b]) => a.localeCompare(b)));
    return {
      vms: {
        total: vms.length,
        byState: tally(vms.map((v) => v.state)),
        items: vms.map((v) => ({ id: v.id, name: v.name, state: v.state, account: this.accountName(v.accountId), templateid: v.templateId, ...(v.startedAt ? { startedAt: new Date(v.startedAt).toISOString() } : {}) })),
      },
      templates: {
        total: templates.length,
        ready: templates.filter((t) => t.isready).length,
        notReady: templates.filter((t) => !t.isready).length,
        byStatus: tally(templates.map((t) => t.status)),
        items: templates.map((t) => ({
          id: t.id,
          name: t.name,
          status: t.status,
          isready: t.isready,
          account: this.accountName(t.accountId),
          isfeatured: t.isfeatured,
          isextractable: t.isextractable,
        })),
      },
      volumes: { total: this.volumes.size },
      networks: {
        total: this.allNetworks().length,
        items: this.allNetworks().map((n) => ({
          id: n.id,
          name: n.name,
          account: this.accountName(n.accountId),
          cidr: `${n.prefix}.0/24`,
          state: n.state ?? 'Implemented',
          vms: this.vmsOnNetwork(n.id).length,
        })),
      },
      snapshots: {
        total: snapshots.length,
        byState: tally(snapshots.map((s) => s.state)),
        items: snapshots.map((s) => ({ id: s.id, name: s.name, state: s.state, volumeid: s.volumeId })),
      },
      jobs: {
        total: jobs.length,
        byStatus: {
          pending: jobs.filter((j) => j.status === 0).length,
          succeeded: jobs.filter((j) => j.status === 1).length,
          failed: jobs.filter((j) => j.status === 2).length,
        },
        items: jobs.slice(-100).map((j) => ({
          jobid: j.id,
          command: j.command,
          jobstatus: j.status,
          account: this.accountName(j.accountId),
          ...(j.instanceid ? { instanceid: j.instanceid } : {}),
        })),
      },
      downloads: { active: this.downloads.size, extractUrls: [...this.extracts.values()].filter((e) => e.expiresAt > Date.now()).length },
      requests: { total: [...this.requests.values()].reduce((a, b) => a + b, 0), byCommand },
      faults: this.faults.list(),
      outage: this.outage,
    };
  }
}
