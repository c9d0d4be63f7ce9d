/**
 * The soak's invariants, checked every 2 s while it runs (clouds: /_sim/state of both simulators;
 * VMs: GET /api/v1/vms), every 10 s (workflows: Temporal visibility) and 15 s (events: GET
 * /api/v1/events), and once more at the end (plus leaks). Definitions, per live VM (API state
 * active, updating or failed; creating, deleting and deleted VMs are not checked):
 *
 * - running copy: a server/VM named `vmflow-<vmId>` or `vmflow-<vmId>-…` (drill copies
 *   `vmflow-<vmId>-drill-…` excluded) that is ACTIVE (or REBOOT/RESIZE/VERIFY_RESIZE/MIGRATING) in
 *   OpenStack or Running in CloudStack, in a cloud that is NOT in an injected outage: during an
 *   outage the cloud counts as down, its copies run for nobody.
 * - multiple-copies: more than one running copy for longer than the switch grace (default 60 s).
 * - placement-mismatch: exactly one running copy, not the one GET /api/v1/vms/:id reports as
 *   placement (cloud + serverId), for longer than the switch grace.
 *   These two and no-running-copy count only time in which the worker polls its task queue.
 * - no-running-copy: no running copy for longer than the down budget (default 120 s = detection
 *   2 × 2 s + failover and retries), not counting time in which recovery is impossible:
 *   the placement's cloud is in an injected outage AND (that cloud is CloudStack — nothing fails
 *   over out of the backup cloud — OR CloudStack is out too OR CloudStack holds no stopped standby
 *   `vmflow-<vmId>-standby` to fail over to). Such time is left out of the count (the clock pauses);
 *   the count restarts from zero whenever a running copy is seen.
 * - workflow-failed: a workflow closed Failed or TimedOut (Canceled and Terminated ones are
 *   listed in the summary, not violations).
 * - events-flood: one VM's DR events within 10 minutes are an event per attempt rather than per
 *   distinct failure: a run of MAX_SAME_KIND_IN_A_ROW or more events of one kind in a row (a step
 *   announcing each retry), or more than maxEventsPer10Min in all. A busy seed's real transitions
 *   (disaster → failover started → completed → fence → … → failback) alternate kinds; seed 13 had 61
 *   such events, all distinct, for one VM through 8 outages.
 * - api-5xx: any answer ≥ 500 from the REST API (409 refusals are counted, not violations), except
 *   503 dr_unavailable within a minute of a worker kill or restart (soak.ts api()).
 * At the end: settle (see settle()), then every live VM must have exactly its placement running,
 * and leaks.ts checks resources against the VMs' backup records.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ApiAnswer } from '../harness/http';
import type { TestUser } from '../harness/users';
import { checkLeaks } from './leaks';

/** Events of one kind in a row that count as a flood (an event per attempt). */
const MAX_SAME_KIND_IN_A_ROW = 5;
import { hasBackupCloudStandby, readClouds, resourcesOf, runningCopies, type CloudKind, type CloudsView, type Copy } from './observe';
import type { StepRecord, TrackedVm } from './soak';
import type { SoakSystem } from './system';

type Json = any;

export interface Violation {
  kind: string;
  /** Seconds since the soak started. */
  t: number;
  step: number;
  vmId?: string;
  slot?: number;
  message: string;
  state?: unknown;
}

export interface InvariantDeps {
  sys: SoakSystem;
  seed: number;
  t0: number;
  tracked: Map<string, TrackedVm>;
  outages: () => Set<CloudKind>;
  step: () => number;
  stepTail: () => StepRecord[];
  api: (method: string, path: string, body?: unknown, timeoutMs?: number) => Promise<ApiAnswer | undefined>;
  switchGraceMs: number;
  downBudgetMs: number;
  maxEventsPer10Min: number;
  print: (line: string) => void;
  onViolation: (v: Violation) => void;
}

interface Tracker {
  /** Time with more than one running copy, counted while the worker polls (see tick()). */
  multiMs?: number;
  /** Time with one running copy that is not the placement, counted likewise. */
  mismatchMs?: number;
  /** Time without a running copy, outside the windows in which recovery is impossible. */
  downMs: number;
  lastTick?: number;
  reported: Set<string>;
}

const UNCHECKED_STATES = new Set(['creating', 'deleting', 'deleted']);
const SHORT_LIVED_TYPES = ['backupVm', 'restoreVm', 'updateVm', 'createVm', 'deleteVm', 'drDrill'];

export class Invariants {
  member?: TestUser;
  readonly cancelled: string[] = [];
  readonly terminated: string[] = [];
  private readonly trackers = new Map<string, Tracker>();
  private readonly seenClosed = new Set<string>();
  private readonly floodReported = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private lastView?: CloudsView;
  private lastVms = new Map<string, Json>();
  private violationsPrinted = 0;

  constructor(private readonly d: InvariantDeps) {}

  start(): void {
    const every = (ms: number, fn: () => Promise<void>) => {
      let busy = false;
      this.timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          fn()
            .catch((err) => this.d.print(`  [check] ${(err as Error).message}`))
            .finally(() => (busy = false));
        }, ms),
      );
    };
    every(2000, () => this.tick());
    every(10_000, () => this.checkWorkflows());
    every(15_000, () => this.checkEvents());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  outageStarted(_cloud: CloudKind): void {
    // Copies in the cloud stop counting from the next tick on.
  }

  outageEnded(_cloud: CloudKind): void {
    // Copies in the cloud count again from the next tick on; a second copy reappearing now starts
    // its own grace from the first tick that sees it.
  }

  private since(): number {
    return Math.round((Date.now() - this.d.t0) / 100) / 10;
  }

  violation(v: Omit<Violation, 't' | 'step'>): void {
    const full: Violation = { ...v, t: this.since(), step: this.d.step(), slot: v.vmId ? this.d.tracked.get(v.vmId)?.slot : undefined };
    this.d.onViolation(full);
    this.violationsPrinted += 1;
    const lines = [
      '',
      `!!! VIOLATION ${full.kind} — seed ${this.d.seed}, step ${full.step}, t=${full.t}s${full.vmId ? `, VM ${full.vmId} (slot ${full.slot})` : ''}`,
      `    ${full.message}`,
    ];
    if (this.violationsPrinted <= 25) {
      lines.push('    step log tail:');
      for (const s of this.d.stepTail()) lines.push(`      #${s.n} t=${s.t.toFixed(1)}s ${s.kind}${s.slot !== undefined ? ` slot ${s.slot}` : ''}${s.vmId ? ` ${s.vmId.slice(0, 8)}` : ''}: ${s.detail} → ${s.outcome}`);
      if (full.state !== undefined) lines.push(`    state: ${JSON.stringify(full.state, null, 1).split('\n').join('\n    ')}`);
    } else lines.push('    (details of further violations omitted; see the summary)');
    lines.push(`    replay: npm run soak -- --seed ${this.d.seed} …`, '');
    this.d.print(lines.join('\n'));
  }

  /** The state worth printing for one VM: API view, DR state, its resources, outages, last events. */
  private async vmState(vmId: string, copies?: Copy[]): Promise<Json> {
    const vm = this.lastVms.get(vmId);
    const dr = await this.d.api('GET', `/api/v1/vms/${vmId}/dr`, undefined, 5000).catch(() => undefined);
    const view = this.lastView;
    return {
      outages: [...this.d.outages()],
      workerAlive: this.d.sys.worker.alive(),
      vm: vm ? { state: vm.state, placement: vm.placement ? { cloud: vm.placement.cloud, serverId: vm.placement.serverId, stackId: vm.placement.stackId, status: vm.placement.status } : null, lastError: vm.lastError } : null,
      dr: dr?.body?.state ? { state: dr.body.state.state, target: dr.body.state.target, step: dr.body.state.step, lastError: dr.body.state.lastError, fencePending: dr.body.state.fencePending } : dr ? `(${dr.status}, no state)` : '(no answer)',
      runningCopies: copies,
      resources: view ? resourcesOf(view, vmId) : undefined,
      recentEvents: ((dr?.body?.events ?? []) as Json[]).slice(0, 8).map((e) => `${e.at} ${e.kind}: ${String(e.message).slice(0, 160)}`),
    };
  }

  private tracker(vmId: string): Tracker {
    let t = this.trackers.get(vmId);
    if (!t) this.trackers.set(vmId, (t = { downMs: 0, reported: new Set() }));
    return t;
  }

  private async readVms(): Promise<Map<string, Json> | undefined> {
    const r = await this.d.api('GET', '/api/v1/vms?includeDeleted=true', undefined, 15_000);
    if (!r || r.status !== 200) return undefined;
    const m = new Map<string, Json>();
    for (const v of r.body.vms as Json[]) m.set(v.id, v);
    this.lastVms = m;
    return m;
  }

  /** One round of the copy invariants. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const [view, vms] = await Promise.all([readClouds(this.d.sys), this.readVms()]);
      this.lastView = view;
      if (!vms) return;
      const now = Date.now();
      const down = this.d.outages();
      for (const t of this.d.tracked.values()) {
        const vm = vms.get(t.vmId);
        const tr = this.tracker(t.vmId);
        if (!vm || t.deleting || UNCHECKED_STATES.has(vm.state)) {
          tr.multiMs = tr.mismatchMs = tr.lastTick = undefined;
          tr.downMs = 0;
          tr.reported.clear();
          continue;
        }
        const copies = runningCopies(view, t.vmId, down);
        const placementKey = vm.placement ? `${vm.placement.cloud}:${vm.placement.serverId}` : undefined;
        const clear = (kind: string) => tr.reported.delete(kind);
        const fire = async (kind: string, message: string) => {
          if (tr.reported.has(kind)) return;
          tr.reported.add(kind);
          this.violation({ kind, vmId: t.vmId, message, state: await this.vmState(t.vmId, copies) });
        };
        const secs = (ms: number) => Math.round(ms / 1000);
        // A tick that took long (a slow API answer) counts at most 10 s. The clocks below count only
        // time in which the worker polls: nothing can act while it is dead, and a fault that outlasts
        // the grace in worker time is the system's (work a killed worker held is re-run after its
        // heartbeat or start-to-close timeout, which does pass in that time).
        const dt = tr.lastTick === undefined ? 0 : Math.min(now - tr.lastTick, 10_000);
        tr.lastTick = now;
        const workerDt = this.d.sys.worker.polling() ? dt : 0;

        if (copies.length > 1) {
          tr.multiMs = (tr.multiMs ?? 0) + workerDt;
          if (tr.multiMs > this.d.switchGraceMs) await fire('multiple-copies', `${copies.length} running copies for ${secs(tr.multiMs)} s of worker time (grace ${this.d.switchGraceMs / 1000} s): ${copies.map((c) => `${c.cloud}:${c.name}(${c.id})`).join(', ')}`);
        } else {
          tr.multiMs = undefined;
          clear('multiple-copies');
        }

        if (copies.length === 1 && `${copies[0].cloud}:${copies[0].id}` !== placementKey) {
          tr.mismatchMs = (tr.mismatchMs ?? 0) + workerDt;
          if (tr.mismatchMs > this.d.switchGraceMs) await fire('placement-mismatch', `the one running copy ${copies[0].cloud}:${copies[0].name}(${copies[0].id}) is not the placement the API reports (${placementKey ?? 'none'}) for ${secs(tr.mismatchMs)} s of worker time`);
        } else {
          tr.mismatchMs = undefined;
          clear('placement-mismatch');
        }

        if (copies.length === 0) {
          const home: CloudKind = vm.placement?.cloud ?? vm.cloud;
          const exempt = down.has(home) && (home === 'cloudstack' || down.has('cloudstack') || !hasBackupCloudStandby(view, t.vmId));
          if (!exempt) tr.downMs += workerDt;
          if (tr.downMs > this.d.downBudgetMs) await fire('no-running-copy', `no running copy for ${Math.round(tr.downMs / 1000)} s counted (budget ${this.d.downBudgetMs / 1000} s; time in which recovery was impossible not counted): placement ${placementKey ?? 'none'}, outages now [${[...down].join(', ')}]`);
        } else {
          tr.downMs = 0;
          clear('no-running-copy');
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  /** Closed workflows that failed or timed out (violations), cancelled or terminated (listed). */
  async checkWorkflows(): Promise<void> {
    const client = this.d.sys.temporal.client;
    for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Failed" OR ExecutionStatus="TimedOut" OR ExecutionStatus="Canceled" OR ExecutionStatus="Terminated"' })) {
      const key = `${wf.workflowId}/${wf.runId}`;
      if (this.seenClosed.has(key)) continue;
      this.seenClosed.add(key);
      const label = `${wf.type} ${wf.workflowId}`;
      if (wf.status.name === 'CANCELLED') this.cancelled.push(label);
      else if (wf.status.name === 'TERMINATED') this.terminated.push(label);
      else {
        let cause = '';
        try {
          await client.workflow.getHandle(wf.workflowId, wf.runId).result();
        } catch (err) {
          const e = err as { message?: string; cause?: { message?: string; cause?: { message?: string } } };
          cause = [e.message, e.cause?.message, e.cause?.cause?.message].filter(Boolean).join(' ← ');
        }
        const vmId = [...this.d.tracked.keys()].find((id) => wf.workflowId.includes(id));
        this.violation({ kind: 'workflow-failed', vmId, message: `${label} closed ${wf.status.name}: ${cause.slice(0, 600)}` });
      }
    }
  }

  /** DR events per VM within the last 10 minutes (see events-flood above). */
  async checkEvents(): Promise<void> {
    const since = Date.now() - 600_000;
    for (const t of this.d.tracked.values()) {
      if (this.floodReported.has(t.vmId)) continue;
      const r = await this.d.api('GET', `/api/v1/events?vmId=${t.vmId}&limit=500`, undefined, 15_000);
      const events = (r?.body?.events ?? []) as Json[];
      const recent = events.filter((e) => Date.parse(e.at) >= since);
      // Oldest first: the longest run of one kind in a row.
      let run = { kind: '', length: 0 };
      let longest = run;
      for (const e of [...recent].sort((a, b) => Date.parse(a.at) - Date.parse(b.at))) {
        run = e.kind === run.kind ? { kind: run.kind, length: run.length + 1 } : { kind: e.kind, length: 1 };
        if (run.length > longest.length) longest = run;
      }
      if (recent.length > this.d.maxEventsPer10Min || longest.length >= MAX_SAME_KIND_IN_A_ROW) {
        this.floodReported.add(t.vmId);
        const kinds: Record<string, number> = {};
        for (const e of recent) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
        this.violation({ kind: 'events-flood', vmId: t.vmId, message: `${recent.length} events in the last 10 minutes (limit ${this.d.maxEventsPer10Min}), ${longest.length} × ${longest.kind} in a row (limit ${MAX_SAME_KIND_IN_A_ROW - 1}): ${JSON.stringify(kinds)}`, state: await this.vmState(t.vmId) });
      }
    }
  }

  async eventTotals(): Promise<{ failovers: number; failbacks: number }> {
    let failovers = 0;
    let failbacks = 0;
    for (const t of this.d.tracked.values()) {
      const r = await this.d.api('GET', `/api/v1/events?vmId=${t.vmId}&limit=500`, undefined, 15_000);
      for (const e of (r?.body?.events ?? []) as Json[]) {
        if (e.kind === 'failover.completed') failovers += 1;
        if (e.kind === 'failback.completed') failbacks += 1;
      }
    }
    return { failovers, failbacks };
  }

  /** What keeps a VM from being settled, or undefined when it is. */
  private async unsettled(vmId: string, vm: Json, view: CloudsView): Promise<string | undefined> {
    if (vm.state === 'deleted') return undefined;
    if (vm.state !== 'active') return `state ${vm.state}`;
    const copies = runningCopies(view, vmId, new Set());
    const key = vm.placement ? `${vm.placement.cloud}:${vm.placement.serverId}` : 'none';
    if (copies.length !== 1 || `${copies[0].cloud}:${copies[0].id}` !== key) return `running copies [${copies.map((c) => `${c.cloud}:${c.id}`).join(', ')}], placement ${key}`;
    const dr = await this.d.api('GET', `/api/v1/vms/${vmId}/dr`, undefined, 10_000);
    const st = dr?.body?.state;
    if (!st) return 'DR state unknown';
    if (st.state !== 'Protected' || st.fencePending || st.step) return `DR ${st.state}${st.target ? ` (${st.target})` : ''}${st.step ? `, step ${st.step}` : ''}${st.fencePending ? ', fence pending' : ''}`;
    return undefined;
  }

  private async runningShortLived(): Promise<string[]> {
    const q = `ExecutionStatus="Running" AND (${SHORT_LIVED_TYPES.map((t) => `WorkflowType="${t}"`).join(' OR ')})`;
    const out: string[] = [];
    for await (const wf of this.d.sys.temporal.client.workflow.list({ query: q })) out.push(`${wf.type} ${wf.workflowId}`);
    return out;
  }

  /**
   * Waits (bounded) until every tracked VM is deleted or active + DR Protected (no step, no fence
   * pending) with exactly its placement running, and no create/update/delete/backup/restore/drill
   * workflow runs — twice in a row. Invariants keep being checked meanwhile.
   */
  async settle(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let quietRounds = 0;
    let last: string[] = [];
    while (Date.now() < deadline && !signal?.aborted) {
      const reasons: string[] = [];
      try {
        const [view, vms] = await Promise.all([readClouds(this.d.sys), this.readVms()]);
        if (!vms) reasons.push('VM list unavailable');
        else {
          for (const t of this.d.tracked.values()) {
            const vm = vms.get(t.vmId);
            // A VM the soak deleted (or gave up deleting) only holds the settle while its delete runs.
            if (t.deleting && vm?.state !== 'deleting') continue;
            const why = vm ? await this.unsettled(t.vmId, vm, view) : 'not listed';
            if (why) reasons.push(`${t.name} ${t.vmId}: ${why}`);
          }
        }
        const running = await this.runningShortLived();
        if (running.length) reasons.push(`running: ${running.join(', ')}`);
      } catch (err) {
        reasons.push(`(${(err as Error).message})`);
      }
      last = reasons;
      quietRounds = reasons.length ? 0 : quietRounds + 1;
      if (quietRounds >= 2) return true;
      await new Promise((r) => setTimeout(r, 3000));
    }
    this.violation({ kind: 'settle-timeout', message: `not settled ${Math.round(timeoutMs / 1000)} s after the last step`, state: last });
    return false;
  }

  /** final-state.json in the log directory: per VM its API view, DR state, events, backups, resources. */
  private async dump(view: CloudsView, vms: Map<string, Json>): Promise<void> {
    const out: Record<string, unknown> = {};
    for (const t of this.d.tracked.values()) {
      const [dr, events, backups] = await Promise.all([
        this.d.api('GET', `/api/v1/vms/${t.vmId}/dr`, undefined, 10_000),
        this.d.api('GET', `/api/v1/events?vmId=${t.vmId}&limit=500`, undefined, 15_000),
        this.d.api('GET', `/api/v1/vms/${t.vmId}/backups`, undefined, 15_000),
      ]);
      out[t.vmId] = {
        tracked: t,
        vm: vms.get(t.vmId),
        dr: dr?.body?.state,
        events: ((events?.body?.events ?? []) as Json[]).reverse().map((e) => `${e.at} ${e.kind}: ${e.message}`),
        backups: backups?.body?.backups,
        resources: resourcesOf(view, t.vmId),
      };
    }
    fs.writeFileSync(path.join(this.d.sys.dir, 'final-state.json'), JSON.stringify(out, null, 1));
  }

  /** The end: copies (no grace), workflows, events, leaks. */
  async finalChecks(settled: boolean): Promise<void> {
    this.stop();
    await this.tick();
    const view = await readClouds(this.d.sys);
    const vms = await this.readVms();
    if (vms) await this.dump(view, vms).catch((err) => this.d.print(`  [dump] ${(err as Error).message}`));
    if (vms && settled) {
      for (const t of this.d.tracked.values()) {
        const vm = vms.get(t.vmId);
        if (!vm || t.deleting || vm.state === 'deleted') continue;
        const copies = runningCopies(view, t.vmId, new Set());
        const key = vm.placement ? `${vm.placement.cloud}:${vm.placement.serverId}` : 'none';
        if (copies.length !== 1 || `${copies[0].cloud}:${copies[0].id}` !== key) {
          this.violation({ kind: 'final-copies', vmId: t.vmId, message: `at the end: running copies [${copies.map((c) => `${c.cloud}:${c.name}`).join(', ')}], placement ${key}`, state: await this.vmState(t.vmId, copies) });
        }
      }
    }
    await this.checkWorkflows();
    await this.checkEvents();
    if (vms) {
      const leaks = await checkLeaks({ sys: this.d.sys, view, vms, tracked: this.d.tracked, api: this.d.api });
      for (const l of leaks) this.violation({ kind: `leak-${l.kind}`, vmId: l.vmId, message: l.message, state: l.state });
    }
  }
}
