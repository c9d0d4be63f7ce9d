/**
 * environmentDr on the time-skipping server with its members faked: each member is a DR state
 * that moves as a drVm's would (told "base down" → FailedOver 30 s later; base healthy → awaiting
 * approval 10 s later; approved → Protected 20 s later). The plan must tell the members wave by
 * wave, each wave only after the one before has arrived (and the wait between waves), approve the
 * failbacks in the same order, and skip the members whose requirement failed.
 */
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { MemberDrState } from '../../../activities/environment-dr';
import type { CloudHealthSignal } from '../../../src/contracts/dr';
import { ENVIRONMENT_DR_SIGNALS, ENVIRONMENT_DR_WORKFLOW, environmentDrWorkflowId, type EnvironmentDrInput, type EnvironmentDrStatus } from '../../../src/contracts/environment-dr';
import { skipUntil, timeSkippingSuite, uniqueId, withWorkflowWorker } from '../../harness/time-skipping';

const FAILOVER_MS = 30_000;
const AWAIT_APPROVAL_MS = 10_000;
const FAILBACK_MS = 20_000;

interface FakeMember {
  vmId: string;
  toldDownAt?: number;
  healthyAt?: number;
  approvedAt?: number;
  /** Its failover gives up instead of arriving. */
  breaks?: boolean;
}

/** Members whose DR states move with the skipped clock, and what the plan did to them. */
function fakeMembers(names: string[], opts: { breaks?: string[] } = {}) {
  const members = new Map<string, FakeMember>(names.map((n) => [n, { vmId: `${n}-${uniqueId('vm')}`, ...(opts.breaks?.includes(n) ? { breaks: true } : {}) }]));
  const byVm = new Map([...members.values()].map((m) => [m.vmId, m]));
  const told: Array<{ at: number; names: string[]; healthy: boolean }> = [];
  const approvals: Array<{ at: number; name: string }> = [];
  const statuses: EnvironmentDrStatus[] = [];
  const checks: Array<{ at: number; name: string }> = [];
  const nameOf = (vmId: string) => [...members.entries()].find(([, m]) => m.vmId === vmId)![0];
  const at = () => Context.current().info.currentAttemptScheduledTimestampMs;

  function stateOf(m: FakeMember, t: number): MemberDrState {
    const base = { vmId: m.vmId, gaveUp: false, awaitingApproval: false, baseCloudHealthy: m.healthyAt !== undefined && t >= m.healthyAt };
    if (m.toldDownAt === undefined || t < m.toldDownAt + FAILOVER_MS) return { ...base, state: m.toldDownAt === undefined ? 'Protected' : 'FailingOver', since: new Date(m.toldDownAt ?? 0).toISOString() };
    if (m.breaks) return { ...base, state: 'Degraded', gaveUp: true, lastError: 'no standby in the backup cloud yet', since: new Date(m.toldDownAt + FAILOVER_MS).toISOString() };
    const overAt = m.toldDownAt + FAILOVER_MS;
    if (m.approvedAt !== undefined && t >= m.approvedAt + FAILBACK_MS) return { ...base, state: 'Protected', since: new Date(m.approvedAt + FAILBACK_MS).toISOString() };
    if (m.approvedAt !== undefined) return { ...base, state: 'FailingBack', since: new Date(m.approvedAt).toISOString() };
    const awaiting = m.healthyAt !== undefined && t >= Math.max(overAt, m.healthyAt) + AWAIT_APPROVAL_MS;
    return { ...base, state: 'FailedOver', target: 'backup-cloud', awaitingApproval: awaiting, since: new Date(overAt).toISOString() };
  }

  const activities = {
    async environmentMemberDrStates(input: { vmIds: string[] }): Promise<MemberDrState[]> {
      const t = at();
      return input.vmIds.map((id) => stateOf(byVm.get(id)!, t));
    },
    async signalMembersCloudHealth(input: { vmIds: string[]; signal: CloudHealthSignal }): Promise<{ told: string[]; notRunning: string[] }> {
      const t = at();
      told.push({ at: t, names: input.vmIds.map(nameOf), healthy: input.signal.healthy });
      for (const id of input.vmIds) {
        const m = byVm.get(id)!;
        if (input.signal.healthy) m.healthyAt ??= t;
        else m.toldDownAt ??= t;
      }
      return { told: input.vmIds, notRunning: [] };
    },
    async approveMemberFailback(input: { vmId: string }): Promise<{ approved: boolean; reason?: string }> {
      const m = byVm.get(input.vmId)!;
      if (!stateOf(m, at()).awaitingApproval) return { approved: false, reason: 'no failback is waiting for approval' };
      m.approvedAt = at();
      approvals.push({ at: m.approvedAt, name: nameOf(input.vmId) });
      return { approved: true };
    },
    /** A member's service answers only from its third check on (each check's time is kept). */
    async checkMemberGuest(input: { vmId: string }): Promise<{ ok: boolean; detail: string }> {
      const name = nameOf(input.vmId);
      const mine = checks.filter((c) => c.name === name).length;
      checks.push({ at: at(), name });
      return mine >= 2 ? { ok: true, detail: 'ok' } : { ok: false, detail: 'tcp :5432 connection refused' };
    },
    async recordEnvironmentDr(input: { envId: string; status: EnvironmentDrStatus }): Promise<void> {
      statuses.push(input.status);
    },
  };
  return { members, told, approvals, statuses, checks, activities, last: () => statuses.at(-1) };
}

const WEB_APP_DB = [
  { name: 'db', requires: [] },
  { name: 'cache', requires: [] },
  { name: 'app', requires: ['db', 'cache'] },
  { name: 'web', requires: ['app'] },
];

async function runPlan(env: TestWorkflowEnvironment, world: ReturnType<typeof fakeMembers>, settings: EnvironmentDrInput['settings'], body: (signal: (healthy: boolean, at: string) => Promise<void>) => Promise<void>) {
  const envId = uniqueId('env');
  const input: EnvironmentDrInput = {
    envId,
    ownerId: 'owner-1',
    members: WEB_APP_DB.filter((m) => world.members.has(m.name)).map((m) => ({ ...m, vmId: world.members.get(m.name)!.vmId })),
    settings,
    pollSeconds: 5,
  };
  await withWorkflowWorker(env, world.activities, async (taskQueue) => {
    const handle = await env.client.workflow.start(ENVIRONMENT_DR_WORKFLOW, { taskQueue, workflowId: environmentDrWorkflowId(envId), args: [input] });
    try {
      await body((healthy, observedAt) => handle.signal(ENVIRONMENT_DR_SIGNALS.cloudHealth, { accountId: 'os', healthy, detail: healthy ? 'ok' : 'Nova: HTTP 503', observedAt }));
    } finally {
      await handle.terminate('test done');
    }
  });
}

describe('environmentDr (time skipping): the recovery plan in waves', function () {
  const env = timeSkippingSuite(this);

  it('when the base cloud goes down and comes back, then members fail over wave by wave after the health checks and the wait, and fail back in the same order', async () => {
    const world = fakeMembers(['db', 'cache', 'app', 'web']);
    await runPlan(env, world, { waitSeconds: 60, healthChecks: { db: { protocol: 'tcp', port: 5432 } } }, async (signal) => {
      await signal(false, '2026-01-01T00:00:01.000Z');
      await skipUntil(env, 'the plan failed over', () => world.last()?.state === 'FailedOver', { stepMs: 5_000, maxMs: 30 * 60_000 });
      // A late "down" (older than one applied) changes nothing; then the base recovers.
      await signal(false, '2026-01-01T00:00:00.500Z');
      await signal(true, '2099-01-01T00:00:00.000Z');
      await skipUntil(env, 'the plan failed back', () => world.last()?.state === 'Protected' && !!world.last()?.lastFailback?.finishedAt, { stepMs: 5_000, maxMs: 30 * 60_000 });
    });
    const down = world.told.filter((t) => !t.healthy);
    assert.deepEqual(down.map((t) => t.names), [['db', 'cache'], ['app'], ['web']], 'told wave by wave, never twice');
    const over = (n: string) => world.members.get(n)!.toldDownAt! + FAILOVER_MS;
    assert.ok(down[1].at >= Math.max(over('db'), over('cache')) + 60_000, 'app only after db and cache arrived, and the wait');
    assert.ok(down[2].at >= over('app') + 60_000, 'web only after app arrived, and the wait');
    const dbChecks = world.checks.filter((c) => c.name === 'db');
    assert.ok(dbChecks.length >= 3, `db checked until its service answered (${dbChecks.length} checks in the failover)`);
    assert.ok(down[1].at >= dbChecks[2].at + 60_000, 'app only after db passed its check, and the wait');
    assert.equal(world.checks.filter((c) => c.name !== 'db').length, 0, 'only members with a check are checked');

    const status = world.last()!;
    assert.deepEqual(status.waves, [['db', 'cache'], ['app'], ['web']]);
    assert.equal(status.lastFailover?.ok, true, JSON.stringify(status.lastFailover));
    assert.equal(status.lastFailover!.members.find((m) => m.name === 'db')?.healthy, true);
    const started = Object.fromEntries(status.lastFailover!.members.map((m) => [m.name, Date.parse(m.startedAt!)]));
    assert.ok(started.db < started.app && started.app < started.web, JSON.stringify(status.lastFailover));
    for (const m of status.lastFailover!.members) assert.ok(Math.abs(m.rtoSeconds! - FAILOVER_MS / 1000) < 1, `${m.name}: start → FailedOver took ${m.rtoSeconds} s`);

    assert.deepEqual(world.told.filter((t) => t.healthy).map((t) => t.names.length), [4], '"healthy" goes to every member at once');
    const approved = world.approvals.map((a) => a.name);
    assert.deepEqual(approved.slice(0, 2).sort(), ['cache', 'db']);
    assert.deepEqual(approved.slice(2), ['app', 'web']);
    const approvedAt = Object.fromEntries(world.approvals.map((a) => [a.name, a.at]));
    assert.ok(approvedAt.app >= Math.max(approvedAt.db, approvedAt.cache) + FAILBACK_MS + 60_000, 'app approved once db and cache were Protected, and the wait');
    assert.ok(approvedAt.web >= approvedAt.app + FAILBACK_MS + 60_000);
    assert.equal(status.lastFailback?.ok, true, JSON.stringify(status.lastFailback));
  });

  it('when a member cannot fail over, then the members requiring it are skipped and the others still go', async () => {
    const world = fakeMembers(['db', 'cache', 'app', 'web'], { breaks: ['cache'] });
    await runPlan(env, world, { waitSeconds: 0, healthChecks: {} }, async (signal) => {
      await signal(false, '2026-01-01T00:00:01.000Z');
      await skipUntil(env, 'the failover plan ended', () => !!world.last()?.lastFailover?.finishedAt, { stepMs: 5_000, maxMs: 30 * 60_000 });
    });
    const run = world.last()!.lastFailover!;
    const result = Object.fromEntries(run.members.map((m) => [m.name, m.result]));
    assert.deepEqual(result, { db: 'succeeded', cache: 'failed', app: 'skipped', web: 'skipped' });
    assert.equal(run.ok, false);
    assert.match(run.error ?? '', /cache/);
    assert.deepEqual(world.told.filter((t) => !t.healthy).map((t) => t.names), [['db', 'cache']], 'nobody after the failed wave is told');
    assert.equal(world.last()!.state, 'FailedOver', 'db runs away from home');
  });
  it('when the base cloud recovers while a wave fails over, then the run ends with no member left running: those told are skipped with the reason, later waves are not told', async () => {
    const world = fakeMembers(['db', 'cache', 'app', 'web']);
    await runPlan(env, world, { waitSeconds: 0, healthChecks: {} }, async (signal) => {
      await signal(false, '2026-01-01T00:00:01.000Z');
      await skipUntil(env, 'wave 0 told', () => world.told.length >= 1, { stepMs: 1_000, maxMs: 10 * 60_000 });
      // Before db and cache arrive (their failover takes 30 s), the base is healthy again.
      await signal(true, '2099-01-01T00:00:00.000Z');
      await skipUntil(env, 'the failover plan ended', () => !!world.last()?.lastFailover?.finishedAt, { stepMs: 1_000, maxMs: 10 * 60_000 });
    });
    const run = world.last()!.lastFailover!;
    const byName = Object.fromEntries(run.members.map((m) => [m.name, m]));
    assert.deepEqual(Object.fromEntries(run.members.map((m) => [m.name, m.result])), { db: 'skipped', cache: 'skipped', app: 'skipped', web: 'skipped' }, JSON.stringify(run));
    for (const n of ['db', 'cache']) assert.match(byName[n].error ?? '', /recovered before it arrived/);
    assert.equal(run.ok, false);
    assert.match(run.error ?? '', /recovered while wave 1 failed over/);
    assert.deepEqual(world.told.filter((t) => !t.healthy).map((t) => t.names), [['db', 'cache']], 'later waves are not told');
  });
});
