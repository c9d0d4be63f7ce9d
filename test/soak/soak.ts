/**
 * The soak (issue 11, Build item 7): several protected VMs with short backup periods, and a seeded
 * random sequence of steps — cloud outages, VM breaks, 5xx/429 bursts, slow image transfers,
 * manual DR and lifecycle commands through the REST API, delete + re-create, worker SIGKILLs —
 * while invariants.ts checks the system continuously and at the end. `runSoak()` is used by the
 * CLI (run.ts) and by the short soak test; it never throws for a violation, it returns them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TestUser } from '../harness/users';
import { signupAndLogin } from '../harness/users';
import { apiCall, type ApiAnswer } from '../harness/http';
import { Invariants, type Violation } from './invariants';
import { Rng, between, intOf, pickOf, weighted } from './prng';
import { startSoakSystem, simAdmin, type SoakSystem } from './system';
import { registerVmName, type CloudKind } from './observe';
import { printSummary } from './report';

type Json = any;

export interface SoakOptions {
  minutes: number;
  seed: number;
  /** VM slots (a deleted VM is replaced in its slot); default 4. */
  vms?: number;
  /** SIGKILL the worker now and then; default true. */
  kills?: boolean;
  /** Bounded wait for the system to settle after the last step; default 180 s. */
  settleSeconds?: number;
  /** Two running copies, or one that is not the placement, tolerated this long; default 60 s. */
  switchGraceSeconds?: number;
  /** No running copy tolerated this long (detection budget + switch); default 120 s. */
  downBudgetSeconds?: number;
  /** Events per VM in any 10 minutes; default 60. */
  maxEventsPer10Min?: number;
  /** Seconds between steps: uniform in [min, max]; default 3–8. */
  stepGapSeconds?: [number, number];
  print?: (line: string) => void;
  signal?: AbortSignal;
}

export interface StepRecord {
  n: number;
  t: number;
  kind: string;
  slot?: number;
  vmId?: string;
  detail: string;
  outcome: string;
}

export interface SoakResult {
  seed: number;
  minutes: number;
  vms: number;
  kills: boolean;
  steps: number;
  skipped: number;
  faults: Record<string, number>;
  /** unavailable: 503 dr_unavailable while a killed worker's work is handed over (not a violation). */
  api: { ok: number; conflict: number; otherClientError: number; serverError: number; unavailable: number; timeout: number };
  failovers: number;
  failbacks: number;
  workerKills: number;
  vmsCreated: number;
  vmsDeleted: number;
  cancelledWorkflows: string[];
  terminatedWorkflows: string[];
  violations: Violation[];
  settled: boolean;
  seconds: number;
  logDir: string;
}

interface Slot {
  index: number;
  vmId?: string;
  gen: number;
  ready: boolean;
}

export interface TrackedVm {
  vmId: string;
  slot: number;
  name: string;
  backupIntervalSeconds: number;
  /** The soak asked for its deletion. */
  deleting: boolean;
}

const STEP_WEIGHTS = {
  outage: 7,
  break: 10,
  burst: 7,
  slow: 4,
  failover: 6,
  failback: 4,
  approve: 2,
  restore: 5,
  update: 5,
  drill: 5,
  'backup-now': 6,
  'delete-recreate': 3,
  'kill-worker': 3,
} as const;
type StepKind = keyof typeof STEP_WEIGHTS;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const print = o.print ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const since = () => (Date.now() - t0) / 1000;
  const say = (msg: string) => print(`[soak +${since().toFixed(1)}s] ${msg}`);
  const rng = new Rng(o.seed);
  const nSlots = Math.max(1, Math.floor(o.vms ?? 4));
  const kills = o.kills ?? true;
  const [gapMin, gapMax] = o.stepGapSeconds ?? [3, 8];
  const settleMs = (o.settleSeconds ?? 180) * 1000;

  const result: SoakResult = {
    seed: o.seed,
    minutes: o.minutes,
    vms: nSlots,
    kills,
    steps: 0,
    skipped: 0,
    faults: {},
    api: { ok: 0, conflict: 0, otherClientError: 0, serverError: 0, unavailable: 0, timeout: 0 },
    failovers: 0,
    failbacks: 0,
    workerKills: 0,
    vmsCreated: 0,
    vmsDeleted: 0,
    cancelledWorkflows: [],
    terminatedWorkflows: [],
    violations: [],
    settled: false,
    seconds: 0,
    logDir: '',
  };

  say(`seed ${o.seed}, ${o.minutes} min of steps, ${nSlots} VMs, worker kills ${kills ? 'on' : 'off'}`);
  const sys: SoakSystem = await startSoakSystem({ seed: o.seed, say });
  // If the process exits under us (mocha's exit, an uncaught error), the children die with it.
  const onExit = () => sys.killChildrenNow();
  process.on('exit', onExit);
  result.logDir = sys.dir;
  say(`logs in ${sys.dir} (system: soak-system.log, worker: worker-N.log)`);

  const steps: StepRecord[] = [];
  const tracked = new Map<string, TrackedVm>();
  const slots: Slot[] = Array.from({ length: nSlots }, (_, index) => ({ index, gen: 0, ready: false }));
  const outages: Partial<Record<CloudKind, { mode: string; since: number }>> = {};
  /** Ends of timed faults (outage end, burst end, slow end, worker restart): run early at settle. */
  const pendingEnds = new Map<string, { timer: NodeJS.Timeout; run: () => Promise<void> }>();
  const background = new Set<Promise<void>>();
  let stepNo = 0;
  let stopping = false;
  let member: TestUser;

  const inv = new Invariants({
    sys,
    seed: o.seed,
    t0,
    tracked,
    outages: () => new Set(Object.keys(outages) as CloudKind[]),
    step: () => stepNo,
    stepTail: () => steps.slice(-12),
    api: (method, p, body, timeoutMs) => api(method, p, body, timeoutMs),
    switchGraceMs: (o.switchGraceSeconds ?? 60) * 1000,
    downBudgetMs: (o.downBudgetSeconds ?? 120) * 1000,
    maxEventsPer10Min: o.maxEventsPer10Min ?? 120,
    print,
    onViolation: (v) => result.violations.push(v),
  });

  /** A REST call as the member: 5xx is a violation, 409 is counted, a timeout is counted. */
  async function api(method: string, p: string, body?: unknown, timeoutMs = 30_000): Promise<ApiAnswer | undefined> {
    try {
      const r = await apiCall(sys.api.url, member, method, p, body, { timeoutMs });
      // The API says 503 + Retry-After when the DR workflow cannot take commands because the worker
      // that ran its task was just killed (it retries ~25 s itself first): honest, not a fault —
      // unless the worker has been polling for a minute and the answer is still 503.
      if (r.status === 503 && r.body?.error?.code === 'dr_unavailable' && sys.worker.recentlyDisturbed(60_000)) result.api.unavailable += 1;
      else if (r.status >= 500) {
        result.api.serverError += 1;
        inv.violation({ kind: 'api-5xx', message: `${method} ${p} answered ${r.status}: ${JSON.stringify(r.body)?.slice(0, 500)}` });
      } else if (r.status === 409) result.api.conflict += 1;
      else if (r.status >= 400) result.api.otherClientError += 1;
      else result.api.ok += 1;
      return r;
    } catch (err) {
      result.api.timeout += 1;
      say(`  ${method} ${p}: no answer (${(err as Error).message})`);
      return undefined;
    }
  }

  function later(key: string, ms: number, run: () => Promise<void>): void {
    const timer = setTimeout(() => {
      pendingEnds.delete(key);
      track(run().catch((err) => say(`  ${key}: ${(err as Error).message}`)));
    }, ms);
    pendingEnds.set(key, { timer, run });
  }
  function track(p: Promise<void>): void {
    background.add(p);
    void p.finally(() => background.delete(p));
  }
  const count = (kind: string) => (result.faults[kind] = (result.faults[kind] ?? 0) + 1);

  // ---- VMs ------------------------------------------------------------------------------------

  async function waitOutsideOutages<T>(what: string, fn: () => Promise<T | undefined>, budgetMs: number): Promise<T | undefined> {
    let left = budgetMs;
    let last = Date.now();
    while (left > 0 && !o.signal?.aborted) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch {
        // not yet
      }
      await sleep(1000, o.signal);
      const now = Date.now();
      if (!Object.keys(outages).length) left -= now - last;
      last = now;
    }
    say(`  gave up waiting for ${what} after ${Math.round(budgetMs / 1000)} s without an outage`);
    return undefined;
  }

  async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !o.signal?.aborted) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch {
        // not yet
      }
      await sleep(1000, o.signal);
    }
    say(`  gave up waiting for ${what} after ${Math.round(timeoutMs / 1000)} s`);
    return undefined;
  }

  /** Create → active → one backup → protected (automatic failback). The VM is checked from active on. */
  async function createProtectedVm(slot: Slot, backupIntervalSeconds: number): Promise<void> {
    slot.gen += 1;
    const name = `soak-${slot.index}-${slot.gen}`;
    const r = await api('POST', '/api/v1/vms', {
      name,
      os: 'ubuntu-24.04',
      software: ['vim'],
      size: 'small',
      cloud: 'openstack',
      backup: { intervalSeconds: backupIntervalSeconds, retention: 2 },
    });
    if (!r || r.status !== 202) throw new Error(`create ${name}: ${r?.status} ${JSON.stringify(r?.body)}`);
    const vmId = r.body.vm.id as string;
    result.vmsCreated += 1;
    slot.vmId = vmId;
    tracked.set(vmId, { vmId, slot: slot.index, name, backupIntervalSeconds, deleting: false });
    registerVmName(vmId, name);
    say(`  slot ${slot.index}: created ${name} ${vmId} (backups every ${backupIntervalSeconds} s, retention 2)`);
    const active = await waitFor(`${name} active`, async () => {
      const v = (await api('GET', `/api/v1/vms/${vmId}`, undefined, 15_000))?.body?.vm;
      return v?.state === 'active' || v?.state === 'failed' ? v : undefined;
    }, 180_000);
    if (active?.state !== 'active') {
      say(`  slot ${slot.index}: ${name} is ${active?.state ?? 'not active'} (${active?.lastError ?? ''}); left as it is`);
      slot.ready = true;
      return;
    }
    const bk = await api('POST', `/api/v1/vms/${vmId}/backups`);
    if (bk?.status === 202) {
      await waitFor(`first backup of ${name}`, async () => ((await api('GET', `/api/v1/vms/${vmId}/backups`, undefined, 15_000))?.body?.backups as Json[] | undefined)?.find((b) => b.status !== 'running'), 180_000);
    }
    const dr = await api('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'automatic', failbackAfterHealthySeconds: 10 });
    say(`  slot ${slot.index}: ${name} protected (${dr?.status})`);
    slot.ready = true;
  }

  async function replace(slot: Slot, newInterval: number): Promise<void> {
    const vmId = slot.vmId!;
    const t = tracked.get(vmId);
    if (t) t.deleting = true;
    let deleted = false;
    for (let i = 0; i < 12 && !stopping; i++) {
      const r = await api('DELETE', `/api/v1/vms/${vmId}`);
      if (r?.status === 202 || (r?.status === 409 && r.body?.error?.code === 'vm_deleted')) {
        deleted = true;
        break;
      }
      await sleep(5000, o.signal);
    }
    if (!deleted) {
      say(`  slot ${slot.index}: delete of ${vmId} not accepted; the slot keeps it`);
      if (t) t.deleting = false;
      slot.ready = true;
      return;
    }
    result.vmsDeleted += 1;
    // A failed delete is retried as a user would (DELETE again), twice; then the VM is given up.
    let gone = false;
    for (let attempt = 1; attempt <= 3 && !gone; attempt++) {
      // A delete cannot finish while a cloud holding the VM's resources is out: only the time
      // without an injected outage counts against its 180 s.
      const end = await waitOutsideOutages(`${vmId} deleted`, async () => {
        const st = (await api('GET', `/api/v1/vms/${vmId}`, undefined, 15_000))?.body?.vm?.state;
        return st === 'deleted' || st === 'failed' ? st : undefined;
      }, 180_000);
      if (end === 'deleted') {
        gone = true;
        say(`  slot ${slot.index}: ${vmId} deleted`);
      }
      else if (end === 'failed' && attempt < 3 && !stopping) {
        say(`  slot ${slot.index}: delete of ${vmId} failed; DELETE again`);
        await sleep(5000, o.signal);
        await api('DELETE', `/api/v1/vms/${vmId}`);
      } else break;
    }
    if (!gone) inv.violation({ kind: 'delete-failed', vmId, message: `VM ${vmId} not deleted after DELETE (retried on failure); given up, the leak check treats it as deleted` });
    if (stopping) return;
    await createProtectedVm(slot, newInterval);
  }

  // ---- steps ----------------------------------------------------------------------------------

  async function vmOf(slot: Slot): Promise<Json | undefined> {
    if (!slot.ready || !slot.vmId) return undefined;
    return (await api('GET', `/api/v1/vms/${slot.vmId}`, undefined, 15_000))?.body?.vm;
  }

  async function endOutage(cloud: CloudKind): Promise<void> {
    const url = cloud === 'openstack' ? sys.openstack.url : sys.cloudstack.url;
    await simAdmin(url, 'DELETE', '/outage');
    delete outages[cloud];
    inv.outageEnded(cloud);
    say(`  outage of ${cloud} ended`);
  }

  async function runStep(kind: StepKind, u: number[]): Promise<Omit<StepRecord, 'n' | 't' | 'kind'>> {
    const slot = slots[intOf(u[1], 0, nSlots - 1)];
    const skip = (why: string, extra: Partial<StepRecord> = {}) => {
      result.skipped += 1;
      return { detail: '', ...extra, outcome: `skipped: ${why}` };
    };
    const answer = (r: ApiAnswer | undefined) => (r ? `${r.status}${r.status >= 400 ? ` ${r.body?.error?.code ?? ''} ${String(r.body?.error?.message ?? '').slice(0, 120)}` : ''}` : 'no answer');
    switch (kind) {
      case 'outage': {
        const cloud: CloudKind = u[2] < 0.6 ? 'openstack' : 'cloudstack';
        const mode = u[3] < 0.8 ? '503' : 'refuse';
        // Mostly short, now and then longer than the down budget (u² skews towards short).
        const secs = Math.round(between(u[4] * u[4], 15, 150));
        const detail = `${cloud} ${mode} for ${secs} s`;
        if (outages[cloud]) return skip(`${cloud} is already out`, { detail });
        await simAdmin(cloud === 'openstack' ? sys.openstack.url : sys.cloudstack.url, 'POST', '/outage', { mode });
        outages[cloud] = { mode, since: Date.now() };
        inv.outageStarted(cloud);
        count(`outage-${cloud}`);
        later(`outage-end-${cloud}`, secs * 1000, () => endOutage(cloud));
        return { detail, outcome: 'started' };
      }
      case 'break': {
        const vm = await vmOf(slot);
        if (!vm?.placement) return skip('slot not ready or no placement');
        const p = vm.placement;
        if (p.cloud === 'openstack') {
          const mode = pickOf(u[2], ['error', 'shutoff', 'gone'] as const);
          try {
            await simAdmin(sys.openstack.url, 'POST', `/servers/${p.serverId}/break`, { mode });
          } catch (err) {
            return skip((err as Error).message.slice(0, 120), { slot: slot.index, vmId: vm.id, detail: `openstack server ${p.serverId} ${mode}` });
          }
          count('break-openstack');
          return { slot: slot.index, vmId: vm.id, detail: `openstack server ${p.serverId} ${mode}`, outcome: 'broken' };
        }
        const mode = pickOf(u[2], ['error', 'stopped', 'gone'] as const);
        try {
          await simAdmin(sys.cloudstack.url, 'POST', `/vms/${p.serverId}/break`, { mode });
        } catch (err) {
          return skip((err as Error).message.slice(0, 120), { slot: slot.index, vmId: vm.id, detail: `cloudstack VM ${p.serverId} ${mode}` });
        }
        count('break-cloudstack');
        return { slot: slot.index, vmId: vm.id, detail: `cloudstack VM ${p.serverId} ${mode}`, outcome: 'broken' };
      }
      case 'burst': {
        const cloud: CloudKind = u[2] < 0.6 ? 'openstack' : 'cloudstack';
        const status = pickOf(u[3], [500, 502, 503, 429] as const);
        const rate = Math.round(between(u[4], 0.2, 0.7) * 100) / 100;
        const secs = Math.round(between(u[5], 5, 20));
        const detail = `${cloud} ${status} at rate ${rate} for ${secs} s`;
        if (pendingEnds.has(`burst-end-${cloud}`)) return skip(`a burst on ${cloud} is on`, { detail });
        const url = cloud === 'openstack' ? sys.openstack.url : sys.cloudstack.url;
        const spec = status === 429 ? { status, rate, retryAfter: 1 } : { status, rate };
        const f = await simAdmin(url, 'POST', '/faults', spec);
        count(`burst-${cloud}-${status}`);
        later(`burst-end-${cloud}`, secs * 1000, async () => {
          await simAdmin(url, 'DELETE', `/faults/${f.id}`).catch(() => undefined);
        });
        return { detail, outcome: `fault ${f.id}` };
      }
      case 'slow': {
        const secs = Math.round(between(u[2], 20, 60));
        const bytesPerSec = pickOf(u[3], [128, 256, 512] as const) * 1024;
        const latencyMs = pickOf(u[4], [500, 1500, 3000] as const);
        const detail = `CloudStack downloads at ${bytesPerSec / 1024} KiB/s, Glance image data +${latencyMs} ms, snapshots 4 MiB, for ${secs} s`;
        if (pendingEnds.has('slow-end')) return skip('slow transfers are on', { detail });
        await simAdmin(sys.cloudstack.url, 'PATCH', '/timings', { downloadBytesPerSec: bytesPerSec });
        await simAdmin(sys.openstack.url, 'PATCH', '/timings', { snapshotBytes: 4 * 1024 * 1024 });
        const f = await simAdmin(sys.openstack.url, 'POST', '/faults', { service: 'image', path: '/file$', latencyMs });
        count('slow-transfers');
        later('slow-end', secs * 1000, async () => {
          await simAdmin(sys.cloudstack.url, 'PATCH', '/timings', { downloadBytesPerSec: 0 });
          await simAdmin(sys.openstack.url, 'PATCH', '/timings', { snapshotBytes: 1024 * 1024 });
          await simAdmin(sys.openstack.url, 'DELETE', `/faults/${f.id}`).catch(() => undefined);
        });
        return { detail, outcome: 'on' };
      }
      case 'failover':
      case 'failback':
      case 'approve':
      case 'restore':
      case 'update':
      case 'drill':
      case 'backup-now': {
        if (!slot.ready || !slot.vmId) return skip('slot not ready', { slot: slot.index });
        const vmId = slot.vmId;
        let method = 'POST';
        let p = '';
        let body: unknown;
        if (kind === 'failover') {
          p = `/api/v1/vms/${vmId}/dr/failover`;
          const target = pickOf(u[2], [undefined, 'base-standby', 'backup-cloud'] as const);
          body = target ? { target, reason: 'soak' } : { reason: 'soak' };
        } else if (kind === 'failback') p = `/api/v1/vms/${vmId}/dr/failback`;
        else if (kind === 'approve') p = `/api/v1/vms/${vmId}/dr/approve`;
        else if (kind === 'restore') {
          p = `/api/v1/vms/${vmId}/restore`;
          body = {};
        } else if (kind === 'update') {
          method = 'PATCH';
          p = `/api/v1/vms/${vmId}`;
          body = u[2] < 0.5 ? { size: u[3] < 0.5 ? 'small' : 'medium' } : { software: pickOf(u[3], [['vim'], ['vim', 'ftp'], ['filezilla']]) };
        } else if (kind === 'drill') {
          p = `/api/v1/vms/${vmId}/dr/drill`;
          body = { target: u[2] < 0.5 ? 'base-standby' : 'backup-cloud' };
        } else p = `/api/v1/vms/${vmId}/backups`;
        const r = await api(method, p, body);
        count(`api-${kind}`);
        return { slot: slot.index, vmId, detail: `${method} ${p.replace(`/api/v1/vms/${vmId}`, '…')}${body ? ` ${JSON.stringify(body)}` : ''}`, outcome: answer(r) };
      }
      case 'delete-recreate': {
        if (!slot.ready || !slot.vmId) return skip('slot not ready', { slot: slot.index });
        const vmId = slot.vmId;
        slot.ready = false;
        const interval = intOf(u[2], 20, 40);
        count('delete-recreate');
        track(replace(slot, interval).catch((err) => {
          say(`  slot ${slot.index}: replacement failed: ${(err as Error).message}`);
          slot.ready = true;
        }));
        return { slot: slot.index, vmId, detail: `delete, then a new VM (backups every ${interval} s)`, outcome: 'started' };
      }
      case 'kill-worker': {
        const down = Math.round(between(u[2], 2, 8));
        if (!kills) return skip('--no-kills', { detail: `down ${down} s` });
        if (!sys.worker.alive() || sys.worker.starting) return skip('the worker is down or still starting', { detail: `down ${down} s` });
        const pid = sys.worker.pid;
        await sys.worker.kill();
        result.workerKills += 1;
        count('kill-worker');
        later('worker-restart', down * 1000, async () => {
          await sys.worker.start();
          say('  worker restarted');
        });
        return { detail: `SIGKILL pid ${pid}, restart in ${down} s`, outcome: 'killed' };
      }
    }
  }

  // ---- the run --------------------------------------------------------------------------------

  const onAbort = () => say('interrupted: stopping');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    member = await signupAndLogin(sys.api.url, `soak-${crypto.randomBytes(3).toString('hex')}`);
    inv.member = member;

    // Per-slot backup periods come from the seed too.
    const intervals = slots.map(() => intOf(rng.float(), 20, 40));
    say(`setting up ${nSlots} protected VMs (create → first backup → DR automatic failback after 10 s)`);
    const setup = slots.map((slot, i) => createProtectedVm(slot, intervals[i]));
    await Promise.all(setup);
    inv.start();

    const endAt = Date.now() + o.minutes * 60_000;
    say(`stepping for ${o.minutes} min`);
    while (Date.now() < endAt && !o.signal?.aborted) {
      const u = rng.draws(8);
      stepNo += 1;
      const kind = weighted(u[0], STEP_WEIGHTS);
      const t = since();
      let rec: StepRecord;
      try {
        rec = { n: stepNo, t, kind, ...(await runStep(kind, u)) };
      } catch (err) {
        rec = { n: stepNo, t, kind, detail: '', outcome: `error: ${(err as Error).message.slice(0, 200)}` };
      }
      steps.push(rec);
      result.steps = stepNo;
      say(`step ${rec.n} ${rec.kind}${rec.slot !== undefined ? ` slot ${rec.slot}` : ''}${rec.vmId ? ` (${rec.vmId.slice(0, 8)})` : ''}: ${rec.detail} → ${rec.outcome}`);
      await sleep(between(u[6], gapMin, gapMax) * 1000, o.signal);
    }

    // ---- settle ---------------------------------------------------------------------------------
    stopping = true;
    if (o.signal?.aborted) say('interrupted: no settle, no final checks');
    else {
      say('no more steps: ending outages and faults, restoring timings, restarting the worker if down');
      for (const [key, p] of [...pendingEnds]) {
        clearTimeout(p.timer);
        pendingEnds.delete(key);
        await p.run().catch((err) => say(`  ${key}: ${(err as Error).message}`));
      }
      for (const cloud of Object.keys(outages) as CloudKind[]) await endOutage(cloud).catch(() => undefined);
      await simAdmin(sys.openstack.url, 'DELETE', '/faults').catch(() => undefined);
      await simAdmin(sys.cloudstack.url, 'DELETE', '/faults').catch(() => undefined);
      if (!sys.worker.alive()) await sys.worker.start();
      const bgDeadline = Date.now() + 120_000;
      while (background.size && Date.now() < bgDeadline) await Promise.race([...background, sleep(2000)]);
      if (background.size) say(`  ${background.size} background task(s) (replacements) still running; settling anyway`);
      // Scheduled backups stop too, so that the leak check sees a still picture.
      for (const t of tracked.values()) {
        if (!t.deleting) await api('POST', `/api/v1/vms/${t.vmId}/backup-policy/pause`, undefined, 15_000);
      }
      say(`settling (at most ${settleMs / 1000} s): every live VM active and Protected with one running copy, no lifecycle/backup/drill workflow running`);
      result.settled = await inv.settle(settleMs, o.signal);
      say(result.settled ? 'settled' : 'did not settle in time');
      await inv.finalChecks(result.settled);
      const totals = await inv.eventTotals();
      result.failovers = totals.failovers;
      result.failbacks = totals.failbacks;
      result.cancelledWorkflows = inv.cancelled;
      result.terminatedWorkflows = inv.terminated;
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    stopping = true;
    inv.stop();
    for (const p of pendingEnds.values()) clearTimeout(p.timer);
    say('stopping the stack');
    await sys.stop();
    process.off('exit', onExit);
    result.seconds = Math.round(since());
    fs.writeFileSync(path.join(sys.dir, 'steps.json'), JSON.stringify(steps, null, 1));
    fs.writeFileSync(path.join(sys.dir, 'result.json'), JSON.stringify(result, null, 1));
  }
  printSummary(result, print);
  return result;
}
