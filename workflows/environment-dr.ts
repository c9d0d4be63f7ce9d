/**
 * environmentDr — the recovery plan of one protected environment (ID `env-dr:<envId>`: one owner
 * per environment), and environmentDrill — a drill of the whole environment.
 *
 *   Protected ─(base cloud down)─▶ FailingOver: wave by wave ─▶ FailedOver
 *       ▲                                                          │
 *       └──────── FailingBack: wave by wave ◀─(members' failbacks wait for approval)
 *
 * Every member stays protected by its own drVm (workflows/dr.ts), which does each switch; this
 * workflow only says when each member goes. The monitor's fan-out gives a protected
 * environment's cloud verdicts to this workflow instead of to its members
 * (activities/dr-monitor.ts); on "down" it passes the verdict on to the members of wave 0 (those
 * requiring no other), waits until every one of them reports FailedOver (their recorded DR
 * states, read by one activity per poll), then the optional wait and health checks, then the next
 * wave. Members are protected with failback by approval, so none comes home on its own: once they
 * wait for approval (their drVm judged the base healthy for long enough), this workflow approves
 * them wave by wave — databases first — waiting for each wave to be Protected again. A member
 * breaking alone (VM health) is not this workflow's business: its drVm fails it over alone.
 *
 * A member that fails (its drVm gave up) fails the plan for the members that require it
 * (skipped); the others go on. "healthy" verdicts are passed to every member at once: they only
 * clear what a "down" started. The status is written for readers at every step
 * (GET /api/v1/environments/:id/dr); continue-as-new between operations when suggested.
 */
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  isCancellation,
  defineSignal,
  log,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { drillServerName, type CloudHealthSignal } from '../src/contracts/dr';
import {
  ENVIRONMENT_DR_SIGNALS,
  ENVIRONMENT_DR_STATUS_QUERY,
  environmentDrillNetworkKey,
  type EnvironmentDrInput,
  type EnvironmentDrMember,
  type EnvironmentDrSettings,
  type EnvironmentDrStatus,
  type EnvironmentDrillInput,
  type EnvironmentDrillReport,
  type PlanMemberRun,
  type PlanRun,
} from '../src/contracts/environment-dr';
import type { MemberDrState } from '../activities/environment-dr';
import { recoveryWaves } from '../src/environments/waves';
import { cloudCall, deletePoll, probe, statusPoll, store } from './lib/activity-presets';
import { withVmLease } from './lib/ownership';
import { describeError } from './lib/task-graph';

export const environmentCloudHealthSignal = defineSignal<[CloudHealthSignal]>(ENVIRONMENT_DR_SIGNALS.cloudHealth);
export const stopEnvironmentDrSignal = defineSignal(ENVIRONMENT_DR_SIGNALS.stop);
export const environmentDrSettingsSignal = defineSignal<[EnvironmentDrSettings]>(ENVIRONMENT_DR_SIGNALS.settings);
export const environmentDrStatusQuery = defineQuery<EnvironmentDrStatus>(ENVIRONMENT_DR_STATUS_QUERY);

/** A health check that never passes holds the next wave this long at most (the plan then goes on, noting it). */
const HEALTH_CHECK_WAIT_MS = 5 * 60_000;
const DEFAULT_POLL_SECONDS = 5;
/**
 * A failover cut short by the base cloud recovering leaves no member `running` in its record (it
 * arrived: succeeded; or not: skipped, saying why). Plans recorded before it replay without it.
 */
const SETTLES_INTERRUPTED_WAVE_PATCH = 'env-dr-settles-interrupted-wave';

const now = () => new Date().toISOString();
const secondsBetween = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);

/** The run's member entries, in wave order. */
function planRun(members: readonly EnvironmentDrMember[], waves: readonly string[][]): PlanRun {
  const byName = new Map(members.map((m) => [m.name, m]));
  return { startedAt: now(), members: waves.flatMap((w, i) => w.map((name): PlanMemberRun => ({ name, vmId: byName.get(name)!.vmId, wave: i, result: 'pending' }))) };
}

/** A member whose requirement failed (or was skipped) is skipped. */
function blockedBy(m: EnvironmentDrMember, run: PlanRun): string | undefined {
  return m.requires.find((r) => {
    const x = run.members.find((e) => e.name === r);
    return x?.result === 'failed' || x?.result === 'skipped';
  });
}

export async function environmentDr(input: EnvironmentDrInput): Promise<void> {
  const waves = recoveryWaves(input.members);
  const members = new Map(input.members.map((m) => [m.name, m]));
  const pollMs = Math.max(1, input.pollSeconds ?? DEFAULT_POLL_SECONDS) * 1000;
  const s: EnvironmentDrStatus = input.carried ? { ...input.carried, waves } : { envId: input.envId, state: 'Protected', waves, baseCloudHealthy: true, updatedAt: now() };
  let settings = input.settings;
  let stopped = false;
  let lastSignal: CloudHealthSignal | undefined;
  /** A verdict arrived that the loop has not acted on yet. */
  let verdictPending = false;
  /** A new "down" verdict came while failing back: the failback stops and the members go again. */
  const downAgain = () => verdictPending && !s.baseCloudHealthy;

  setHandler(environmentDrStatusQuery, () => ({ ...s }));
  setHandler(stopEnvironmentDrSignal, () => {
    stopped = true;
  });
  // Protecting again with other settings: the next wave and the next plan use them.
  setHandler(environmentDrSettingsSignal, (next) => {
    settings = next;
  });
  setHandler(environmentCloudHealthSignal, (sig) => {
    // The fan-out is an activity: a retry can deliver an older verdict after a newer one.
    if (s.cloudSignalAt && sig.observedAt <= s.cloudSignalAt) return;
    s.cloudSignalAt = sig.observedAt;
    s.baseCloudHealthy = sig.healthy;
    lastSignal = sig;
    verdictPending = true;
  });

  let written: Promise<void> = Promise.resolve();
  const record = (): void => {
    s.updatedAt = now();
    const status = JSON.parse(JSON.stringify(s)) as EnvironmentDrStatus;
    // For readers only: a lost write is a stale view, never a failed plan.
    written = written
      .then(() => CancellationScope.nonCancellable(() => store.recordEnvironmentDr({ envId: input.envId, status })))
      .then(
        () => undefined,
        () => undefined,
      );
  };

  const allVmIds = input.members.map((m) => m.vmId);
  const readStates = async (): Promise<Map<string, MemberDrState>> => new Map((await store.environmentMemberDrStates({ vmIds: allVmIds })).map((x) => [x.vmId, x]));

  /** Tells members the cloud's verdict (through their drVm's own signal); the VM ids whose DR workflow is not running come back. */
  async function tell(vmIds: string[], sig: CloudHealthSignal): Promise<Set<string>> {
    if (!vmIds.length) return new Set();
    const r = await store.signalMembersCloudHealth({ vmIds, signal: sig });
    if (r.notRunning.length) log.warn('members\' DR workflows are not running', { vmIds: r.notRunning });
    return new Set(r.notRunning);
  }

  /** After a wave: its members' health checks (each until it passes, bounded), then the wait. */
  async function betweenWaves(run: PlanRun, wave: number, last: boolean): Promise<void> {
    const checked = run.members.filter((m) => m.wave === wave && m.result === 'succeeded' && settings.healthChecks[m.name]);
    await Promise.all(
      checked.map(async (m) => {
        const until = Date.now() + HEALTH_CHECK_WAIT_MS;
        for (;;) {
          const r = await probe.checkMemberGuest({ vmId: m.vmId, check: settings.healthChecks[m.name] });
          if (r.ok) {
            m.healthy = true;
            return;
          }
          if (Date.now() >= until || stopped) {
            m.healthy = false;
            m.error = `health check did not pass: ${r.detail}`;
            return;
          }
          await condition(() => stopped, pollMs);
        }
      }),
    );
    if (checked.length) record();
    if (!last && settings.waitSeconds > 0) await condition(() => stopped, settings.waitSeconds * 1000);
  }

  /** The base cloud is down: members go wave by wave, each told the verdict its drVm acts on. */
  async function failoverPlan(sig: CloudHealthSignal): Promise<void> {
    const run = planRun(input.members, waves);
    s.state = 'FailingOver';
    s.lastFailover = run;
    s.lastError = undefined;
    record();
    for (let w = 0; w < waves.length && !stopped; w++) {
      if (s.baseCloudHealthy) {
        run.error = `the base cloud recovered before wave ${w + 1}: its members and later ones stay where they are`;
        for (const m of run.members) if (m.result === 'pending') m.result = 'skipped';
        break;
      }
      s.currentWave = w;
      const states = await readStates();
      let going: PlanMemberRun[] = [];
      for (const m of run.members.filter((x) => x.wave === w)) {
        const blocked = blockedBy(members.get(m.name)!, run);
        const st = states.get(m.vmId);
        if (blocked) {
          m.result = 'skipped';
          m.error = `required member ${blocked} did not fail over`;
        } else if (!st) {
          m.result = 'failed';
          m.error = 'not protected (its DR workflow has recorded no state)';
        } else if (st.state === 'FailedOver' && st.target === 'backup-cloud') {
          m.result = 'succeeded';
          m.startedAt = st.since;
          m.finishedAt = st.since;
        } else {
          m.startedAt = now();
          m.result = 'running';
          going.push(m);
        }
      }
      const notRunning = await tell(going.map((m) => m.vmId), sig);
      for (const m of going.filter((x) => notRunning.has(x.vmId))) {
        m.result = 'failed';
        m.error = 'its DR workflow is not running';
      }
      going = going.filter((m) => m.result === 'running');
      record();
      // Until every member told has arrived (or given up); a base cloud that recovers meanwhile
      // ends the plan here: the members told finish their failover and come back with the rest.
      while (going.some((m) => m.result === 'running') && !stopped && !s.baseCloudHealthy) {
        await condition(() => stopped || s.baseCloudHealthy, pollMs);
        const now2 = await readStates();
        let changed = false;
        for (const m of going.filter((x) => x.result === 'running')) {
          const st = now2.get(m.vmId);
          if (st?.state === 'FailedOver' && st.target === 'backup-cloud') {
            m.result = 'succeeded';
            m.finishedAt = st.since < m.startedAt! ? m.startedAt : st.since;
            m.rtoSeconds = secondsBetween(m.startedAt!, m.finishedAt!);
            changed = true;
          } else if (!st || st.gaveUp) {
            m.result = 'failed';
            m.error = st?.lastError ?? 'its DR state is gone';
            changed = true;
          }
        }
        if (changed) record();
      }
      if (going.some((m) => m.result === 'running')) {
        // Those told finish their failover on their own; the failback path brings them home.
        run.error ??= `the base cloud recovered while wave ${w + 1} failed over: later waves stay where they are`;
        for (const m of run.members) if (m.result === 'pending') m.result = 'skipped';
        break;
      }
      await betweenWaves(run, w, w === waves.length - 1);
    }
    // (The states are read before the run's outcome: the same activity, in the same place, as before.)
    const states = await readStates();
    if (patched(SETTLES_INTERRUPTED_WAVE_PATCH)) {
      // The base recovered while a wave failed over: members told have arrived or not; none stays `running`.
      for (const m of run.members.filter((x) => x.result === 'running')) {
        const st = states.get(m.vmId);
        if (st?.state === 'FailedOver' && st.target === 'backup-cloud') {
          m.result = 'succeeded';
          m.finishedAt = st.since < m.startedAt! ? m.startedAt : st.since;
          m.rtoSeconds = secondsBetween(m.startedAt!, m.finishedAt!);
        } else {
          m.result = 'skipped';
          m.error = 'the base cloud recovered before it arrived: its own DR workflow settles where it runs, and the failback brings it home';
        }
      }
    }
    const failed = run.members.filter((m) => m.result === 'failed' || m.result === 'skipped');
    run.finishedAt = now();
    run.ok = failed.length === 0 && !run.error;
    if (failed.length && !run.error) run.error = `not failed over: ${failed.map((m) => `${m.name} (${m.error ?? m.result})`).join('; ')}`;
    s.currentWave = undefined;
    // FailedOver while any member runs away from home; the failback path brings them back.
    s.state = input.members.some((m) => states.get(m.vmId) && states.get(m.vmId)!.state !== 'Protected') ? 'FailedOver' : 'Protected';
    if (!run.ok) s.lastError = run.error;
    record();
  }

  /** Members failed over wait for approval: approved wave by wave, each wave Protected before the next. */
  async function failbackPlan(): Promise<void> {
    const run = planRun(input.members, waves);
    s.state = 'FailingBack';
    s.lastFailback = run;
    s.lastError = undefined;
    record();
    for (let w = 0; w < waves.length && !stopped && !downAgain(); w++) {
      s.currentWave = w;
      const states = await readStates();
      const going: PlanMemberRun[] = [];
      for (const m of run.members.filter((x) => x.wave === w)) {
        const st = states.get(m.vmId);
        if (!st || st.state === 'Protected') {
          // Home already (or never left): nothing to bring back.
          m.result = 'succeeded';
          continue;
        }
        m.startedAt = now();
        m.result = 'running';
        going.push(m);
      }
      record();
      const approvedSince = new Map<string, string>();
      while (going.some((m) => m.result === 'running') && !stopped && !downAgain()) {
        const st = await readStates();
        let changed = false;
        for (const m of going.filter((x) => x.result === 'running')) {
          const x = st.get(m.vmId);
          if (!x) {
            m.result = 'failed';
            m.error = 'its DR state is gone';
            changed = true;
          } else if (x.state === 'Protected') {
            m.result = 'succeeded';
            m.finishedAt = x.since < m.startedAt! ? m.startedAt : x.since;
            m.rtoSeconds = secondsBetween(m.startedAt!, m.finishedAt!);
            changed = true;
          } else if (x.gaveUp) {
            m.result = 'failed';
            m.error = x.lastError ?? 'its failback gave up';
            changed = true;
          } else if (x.awaitingApproval && approvedSince.get(m.vmId) !== x.since) {
            // Approved once per wait: a failed attempt asks again (a new wait), and is approved again.
            const a = await store.approveMemberFailback({ vmId: m.vmId });
            if (a.approved) approvedSince.set(m.vmId, x.since);
          }
        }
        if (changed) record();
        if (going.some((m) => m.result === 'running')) await condition(() => stopped || downAgain(), pollMs);
      }
      if (going.some((m) => m.result === 'running')) {
        run.error = `the base cloud went down again during wave ${w + 1}`;
        break;
      }
      await betweenWaves(run, w, w === waves.length - 1);
    }
    const failed = run.members.filter((m) => m.result === 'failed');
    run.finishedAt = now();
    run.ok = failed.length === 0 && !stopped && !run.error;
    if (failed.length) run.error = [run.error, `not failed back: ${failed.map((m) => `${m.name} (${m.error})`).join('; ')}`].filter(Boolean).join('; ');
    s.currentWave = undefined;
    const states = await readStates();
    s.state = input.members.some((m) => states.get(m.vmId) && states.get(m.vmId)!.state !== 'Protected') ? 'FailedOver' : 'Protected';
    if (!run.ok && run.error) s.lastError = run.error;
    record();
  }

  /**
   * Failed over: the plan comes home once a member's drVm waits for approval (it judged the base
   * healthy for long enough). Members all home by other means (their owner's commands): Protected.
   */
  async function failbackReady(): Promise<boolean> {
    const states = await readStates();
    if (input.members.every((m) => states.get(m.vmId)?.state === 'Protected')) {
      s.state = 'Protected';
      record();
      return false;
    }
    return input.members.some((m) => states.get(m.vmId)?.awaitingApproval && states.get(m.vmId)?.baseCloudHealthy);
  }

  record();
  const continueAsNewDue = () => workflowInfo().continueAsNewSuggested && !verdictPending && (s.state === 'Protected' || s.state === 'FailedOver');
  while (!stopped) {
    const woken = () => stopped || verdictPending || continueAsNewDue();
    if (s.state === 'FailedOver') await condition(woken, pollMs);
    else await condition(woken);
    if (stopped) break;
    if (verdictPending && lastSignal) {
      verdictPending = false;
      const sig = lastSignal;
      // "healthy" clears what a "down" started, for every member at once (a member still
      // waiting to fail over goes back to Protected; one failed over watches the base itself).
      // "down": the plan, also when some members are away already (those at home go in order).
      if (sig.healthy) await tell(allVmIds, sig);
      else await failoverPlan(sig);
    } else if (s.state === 'FailedOver' && (await failbackReady())) await failbackPlan();
    if (continueAsNewDue()) {
      await condition(allHandlersFinished);
      await written;
      await continueAsNew<typeof environmentDr>({ ...input, settings, carried: s });
    }
  }
  await written;
}

/**
 * environmentDrill (ID `env-drill:<envId>`): every member's copy booted in the backup cloud from
 * its newest standby template, wave by wave, on one isolated network of the drill's own (made and
 * removed by the environments' network activities), all running together before anything is torn
 * down; then every copy and the network are removed. Holds every member's VM lease (a drill gives
 * way: a failover of any member cancels it, and the tear-down still runs). The report names each
 * member's start, its RTO (start → copy running) and result.
 */
export async function environmentDrill(input: EnvironmentDrillInput): Promise<EnvironmentDrillReport> {
  const waves = recoveryWaves(input.members);
  const members = new Map(input.members.map((m) => [m.name, m]));
  const report: EnvironmentDrillReport = { drillId: input.drillId, envId: input.envId, cleanedUp: false, ...planRun(input.members, waves) };
  const short = input.drillId.slice(0, 8);
  const netKey = environmentDrillNetworkKey(input.envId, short);
  const made: Array<{ accountId: string; csVmId: string; name: string }> = [];
  const booting: Array<{ accountId: string; name: string }> = [];
  let networkAccount: string | undefined;
  const save = () => store.recordEnvironmentDrill({ ...report, ownerId: input.ownerId });
  await save();

  // Leases in one order (by VM id) so two workflows asking for several never wait on each other.
  const withLeases = async <T>(ids: readonly string[], work: () => Promise<T>): Promise<T> => (ids.length ? withVmLease(ids[0], 'drill', {}, () => withLeases(ids.slice(1), work)) : work());
  await withLeases([...input.members.map((m) => m.vmId)].sort(), async () => {
    try {
      const plans = new Map(await Promise.all(input.members.map(async (m) => [m.name, await store.drPlan({ vmId: m.vmId })] as const)));
      const accountOf = (name: string) => plans.get(name)?.backupCloudStandby?.accountId ?? plans.get(name)?.latestImage?.templateAccountId;
      networkAccount = input.members.map((m) => accountOf(m.name)).find((a) => a);
      if (!networkAccount) throw new Error('no backup of any member has reached the backup cloud yet');
      const net = await cloudCall.csEnsureEnvironmentNetwork({ accountId: networkAccount, envId: netKey });
      report.network = { name: net.name, networkId: net.networkId };
      await save();
      for (let w = 0; w < waves.length; w++) {
        await Promise.all(
          report.members
            .filter((m) => m.wave === w)
            .map(async (m) => {
              const blocked = blockedBy(members.get(m.name)!, report);
              if (blocked) {
                m.result = 'skipped';
                m.error = `required member ${blocked} did not come up`;
                return;
              }
              m.startedAt = now();
              m.result = 'running';
              try {
                const plan = plans.get(m.name)!;
                const templateId = plan.backupCloudStandby?.templateId ?? plan.latestImage?.templateId;
                const accountId = accountOf(m.name);
                if (!templateId || !accountId) throw new Error('no backup has reached the backup cloud yet');
                if (accountId !== networkAccount) throw new Error('its backups are in another CloudStack account than the drill network');
                const sizes = await store.backupPlan({ vmId: m.vmId, trigger: 'manual' });
                const name = drillServerName(m.vmId, short);
                booting.push({ accountId, name });
                const booted = await statusPoll.csBootIsolated({ accountId, name, templateId, serviceOfferingName: sizes.serviceOfferingName, networkId: net.networkId });
                made.push({ accountId, csVmId: booted.csVmId, name });
                m.finishedAt = now();
                m.rtoSeconds = secondsBetween(m.startedAt, m.finishedAt);
                m.result = 'succeeded';
              } catch (err) {
                m.result = 'failed';
                m.error = describeError(err);
                // A failover took a member: the drill ends here (its tear-down runs below).
                if (isCancellation(err)) throw err;
              }
            }),
        );
        await save();
        if (w < waves.length - 1 && (input.settings?.waitSeconds ?? 0) > 0) await sleep((input.settings?.waitSeconds ?? 0) * 1000);
      }
      const failed = report.members.filter((m) => m.result !== 'succeeded');
      report.ok = failed.length === 0;
      if (failed.length) report.error = `not up: ${failed.map((m) => `${m.name} (${m.error ?? m.result})`).join('; ')}`;
    } catch (err) {
      report.ok = false;
      report.error = describeError(err);
    } finally {
      // Torn down whatever happened (also when a failover cancelled the drill).
      await CancellationScope.nonCancellable(async () => {
        try {
          for (const b of booting) {
            const copy = made.find((c) => c.name === b.name);
            // A boot that never reported its copy (cancelled half-way) may still have made one: found by its name.
            if (copy) await statusPoll.csDestroyStandby({ accountId: copy.accountId, csVmId: copy.csVmId });
            else await statusPoll.removeDrillCopies({ cloud: 'cloudstack', accountId: b.accountId, name: b.name });
          }
          if (networkAccount) await deletePoll.csRemoveEnvironmentNetwork({ accountId: networkAccount, envId: netKey });
          report.cleanedUp = true;
        } catch (err) {
          report.error = [report.error, `tear-down failed: ${describeError(err)}`].filter(Boolean).join('; ');
        }
        for (const m of report.members) if (m.result === 'pending' || m.result === 'running') m.result = m.result === 'pending' ? 'skipped' : 'failed';
        report.finishedAt = now();
        report.ok = !!report.ok && report.cleanedUp;
        await save();
      });
    }
  });
  return report;
}
