/**
 * Activities of the per-account cloud monitor (UC-009, workflows/dr-monitor.ts).
 *
 * probeCloud is the whole check of one interval: the account's protected VMs from MongoDB, one
 * Keystone call (the cached token validated, or a fresh one issued) and Nova's server list in
 * pages of 1000 — one listing per interval for every VM of the account, never a call per VM. A
 * cloud that fails, answers errors or hangs is the observation (`cloudOk: false` with a readable
 * detail), not an activity failure; calls have short deadlines so a hung cloud reads as down
 * within seconds. MongoDB errors do throw: without the protected set there is no observation.
 *
 * The protected set is defined in one place, protectedVmQuery(), until the DR module owns it. The
 * probe keeps the set it read per account and reads it again only when its version stamp changed
 * (src/dr/protected-set.ts): a steady interval costs one lookup by _id. Signalling reads it afresh.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { CloudAccountNotFoundError } from '../src/cloud-accounts/resolver';
import { CloudApiError } from '../src/clouds/errors';
import { ComputeClient, normalizeAuthUrl, OpenStackSession, type OpenStackCredentials } from '../src/clouds/openstack';
import { send } from '../src/clouds/openstack/transport';
import { DR_SIGNALS, drWorkflowId, type CloudHealthSignal } from '../src/contracts/dr';
import { ENVIRONMENT_DR_SIGNALS, environmentDrWorkflowId } from '../src/contracts/environment-dr';
import { environmentDrModel } from '../src/environments/dr-model';
import { vmModel } from '../src/vms/model';
import { ONE_BATCH } from '../src/db/connection';
import { PROTECTED_SET_MAX_AGE_MS, protectedSetVersion } from '../src/dr/protected-set';
import type { ActivityDeps } from './deps';
import { cloudAccounts } from './cloud-helpers';
import { recordMonitorCheck } from '../src/metrics/activity-metrics';
import { GUEST_CHECK_DEFAULTS, GUEST_FAILED_STATUS, guestAddressOf, guestAddressRefusal, parseGuestAddressMap, type AddressMapEntry, type GuestHealthCheck } from '../src/dr/guest-checks';
import { guestStatusModel } from '../src/dr/model';
import { checkGuests, type GuestResult, type GuestTarget } from './guest-probe';
import type { GuestRoundFigures } from '../src/contracts/dr-monitor';

/** Deadline of each cloud call of a probe: a cloud slower than this counts as down. */
export const PROBE_CALL_TIMEOUT_MS = 5_000;
/** Nova's default osapi_max_limit: larger pages are cut to it anyway. */
export const SERVER_PAGE_SIZE = 1000;
/** Status of a protected VM whose server is not in the account's server list. */
export const MISSING_STATUS = 'MISSING';
/** Collection of DR protections: `_id` = vmId, `enabled: true` while the VM is protected. */
export const DR_PROTECTIONS_COLLECTION = 'dr_protections';
/** DR workflows signalled at once when the whole cloud changes health. */
const SIGNAL_CONCURRENCY = 50;
/** Accounts with more VMs than this read all enabled protections instead of an `$in` list. */
const ID_CHUNK = 1000;
/** All guest checks of one interval finish within this, or count as inconclusive (the probe's own timeout is 30 s). */
export const GUEST_BATCH_DEADLINE_MS = 12_000;
/** A VM's guest is due when this share of its interval has passed (monitor intervals are not exact). */
const GUEST_DUE_SHARE = 0.9;

/**
 * Which VMs the monitor of an OpenStack account watches: active VMs placed on that account whose
 * DR protection is enabled. Kept in one function so the DR module can narrow it (e.g. to its own
 * protection records) without touching the probe.
 */
export function protectedVmQuery(accountId: string, opts: { includeUpdating?: boolean } = {}): { vms: Record<string, unknown>; protections: Record<string, unknown> } {
  return {
    vms: { 'placement.cloud': 'openstack', 'placement.accountId': accountId, 'placement.serverId': { $exists: true }, state: opts.includeUpdating ? { $in: ['active', 'updating'] } : 'active' },
    protections: { enabled: true },
  };
}

export interface ProtectedVm {
  vmId: string;
  serverId: string;
  /** Being updated or restored (only with `includeUpdating`): its server may be resizing or rebuilt, so it is not health-checked. */
  updating?: boolean;
  /** The guest check declared with its protection (src/dr/guest-checks.ts). */
  healthCheck?: GuestHealthCheck;
}

export interface ProbeCloudInput {
  accountId: string;
  /** VMs the monitor keeps counters for: the probe says which of them are still protected. */
  trackedVmIds?: string[];
}

export interface CloudProbe {
  accountId: string;
  /** When the server list was read (the time of this check). */
  checkedAt: string;
  cloudOk: boolean;
  /** "ok", or what failed: "Nova: HTTP 503 on GET /compute/v2.1/servers/detail". */
  cloudDetail: string;
  /** The cloud answered 429: an inconclusive check (workflows/lib/health.ts). */
  throttled?: boolean;
  /** vmId → status of protected VMs whose server is not ACTIVE (MISSING when not listed). */
  unhealthy: Record<string, string>;
  /** Tracked or unhealthy VMs that are protected now (see workflows/lib/health.ts). */
  checkedVmIds: string[];
  /** vmId → placed server, for the VMs in `checkedVmIds` (see workflows/lib/health.ts). */
  serverOf?: Record<string, string>;
  protectedCount: number;
  serversListed: number;
  /** HTTP calls this probe made to the cloud (Keystone + Nova pages). */
  apiCalls: number;
  elapsedMs: number;
  dbMs: number;
  /** The protected set came from the probe's kept copy (its version stamp unchanged: src/dr/protected-set.ts). */
  dbCached?: boolean;
  /** Tracked VMs this check says nothing about (their guest was not checked): workflows/lib/health.ts. */
  unjudged?: string[];
  /** Thresholds declared with guest checks, for the VMs whose counters move now. */
  vmThresholds?: Record<string, { failureThreshold?: number; successThreshold?: number }>;
  /** The guest checks of this interval (absent when the account declares none). */
  guests?: GuestRoundFigures;
}


export interface SignalCloudHealthResult {
  protectedCount: number;
  signalled: number;
  /** DR workflows that are not running (ended or never started): nothing to tell. */
  notRunning: number;
}

/** Counts every HTTP request made through the dispatcher it wraps. */
function countingDispatcher(base: Dispatcher, counter: { calls: number }): Dispatcher {
  return base.compose((dispatch) => (opts, handler) => {
    counter.calls++;
    return dispatch(opts, handler);
  });
}

/** "Nova: HTTP 503 on GET /compute/v2.1/servers/detail", "Keystone: unreachable (ECONNREFUSED)". */
export function describeCloudFailure(stage: string, err: unknown): string {
  if (err instanceof CloudApiError) {
    let path = err.url;
    try {
      path = new URL(err.url).pathname;
    } catch {
      // not a URL (catalog lookups): keep as is
    }
    const what =
      err.status !== undefined
        ? `HTTP ${err.status}`
        : err.kind === 'Timeout'
          ? 'no answer in time'
          : err.kind === 'Network'
            ? `unreachable (${err.message.split(': ').pop()})`
            : err.kind === 'BadRequest' && err.method === 'CATALOG'
              ? err.message
              : err.kind;
    return `${stage}: ${what} on ${err.method} ${path}`;
  }
  return `${stage}: ${err instanceof Error ? err.message : String(err)}`;
}

/** Keystone's own check of a token (GET /v3/auth/tokens): true if valid, false if it was revoked or expired. */
async function tokenStillValid(c: OpenStackCredentials, token: string, o: { dispatcher: Dispatcher; timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
  const result = await send({
    method: 'GET',
    url: `${normalizeAuthUrl(c.authUrl)}/auth/tokens?nocatalog`,
    headers: { accept: 'application/json', 'user-agent': 'vmflow-monitor', 'x-auth-token': token, 'x-subject-token': token },
    expected: [200],
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    dispatcher: o.dispatcher,
  });
  if (result.ok) return true;
  if (result.error.status === 401 || result.error.status === 404) return false;
  throw result.error;
}

export async function loadProtectedVms(db: ActivityDeps['db'], accountId: string, opts: { includeUpdating?: boolean } = {}): Promise<ProtectedVm[]> {
  const q = protectedVmQuery(accountId, opts);
  const docs = await vmModel(db).find(q.vms, { _id: 1, state: 1, 'placement.serverId': 1 }).lean<Array<{ _id: string; state?: string; placement?: { serverId?: string } }>>();
  const placed = new Map<string, string>();
  const updating = new Set<string>();
  for (const d of docs) {
    if (!d.placement?.serverId) continue;
    placed.set(d._id, d.placement.serverId);
    if (d.state === 'updating') updating.add(d._id);
  }
  const ids = [...placed.keys()];
  const protectedIds = new Set<string>();
  const checks = new Map<string, GuestHealthCheck>();
  const protections = db.collection(DR_PROTECTIONS_COLLECTION);
  const projection = { _id: 1, healthCheck: 1 };
  const take = (p: { _id: unknown; healthCheck?: GuestHealthCheck | null }) => {
    protectedIds.add(String(p._id));
    if (p.healthCheck) checks.set(String(p._id), p.healthCheck);
  };
  if (ids.length <= ID_CHUNK) {
    const found = await protections.find({ ...q.protections, _id: { $in: ids } } as never, { projection, ...ONE_BATCH }).toArray();
    for (const p of found) take(p as never);
  } else {
    // Large accounts: one pass over the enabled protections beats many $in lists (on FerretDB
    // five $in queries of 1000 ids took 2.5 s where the whole 10,000-protection pass took 0.3 s).
    for await (const p of protections.find(q.protections, { projection, ...ONE_BATCH })) take(p as never);
  }
  return ids
    .filter((id) => protectedIds.has(id))
    .sort()
    .map((vmId) => ({ vmId, serverId: placed.get(vmId)!, ...(updating.has(vmId) ? { updating: true } : {}), ...(checks.has(vmId) ? { healthCheck: checks.get(vmId)! } : {}) }));
}

async function credentialsOf(deps: ActivityDeps, accountId: string): Promise<{ credentials: OpenStackCredentials; dispatcher: Dispatcher | undefined; scope: 'operator' | 'user' }> {
  try {
    return await cloudAccounts(deps).openstackAuth(accountId);
  } catch (err) {
    if (err instanceof CloudAccountNotFoundError) throw ApplicationFailure.nonRetryable(err.message, 'CloudAccountNotFound');
    if (err instanceof CloudApiError && err.kind === 'BadRequest') throw ApplicationFailure.nonRetryable(err.message, 'Misconfigured');
    throw err;
  }
}

/** vmId → envId for the given VMs that are members of an environment with its recovery plan on. */
export async function protectedEnvironmentsOf(db: ActivityDeps['db'], vmIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!vmIds.length) return out;
  const wanted = new Set(vmIds);
  const envs = await environmentDrModel(db).find({ enabled: true }, { memberVmIds: 1 }).lean();
  for (const e of envs) for (const id of e.memberVmIds ?? []) if (wanted.has(id)) out.set(id, e._id);
  return out;
}

export function createDrMonitorActivities(deps: ActivityDeps, opts: { callTimeoutMs?: number; guestAddressMap?: string; guestBatchDeadlineMs?: number } = {}) {
  const timeoutMs = opts.callTimeoutMs ?? PROBE_CALL_TIMEOUT_MS;
  const log = deps.logger.child({ component: 'dr-monitor' });
  const guestMap: AddressMapEntry[] = parseGuestAddressMap(opts.guestAddressMap ?? deps.guestAddressMap);
  const guests = guestMemory(deps, log);
  // Per account: the protected set last read, and the version stamp read just before it.
  const kept = new Map<string, { version: string | undefined; at: number; vms: ProtectedVm[] }>();

  /** The account's protected VMs: the kept copy while the stamp is unchanged, else read anew. */
  async function protectedVmsOf(accountId: string): Promise<{ vms: ProtectedVm[]; cached: boolean }> {
    const version = await protectedSetVersion(deps.db);
    const copy = kept.get(accountId);
    if (copy && copy.version === version && Date.now() - copy.at < PROTECTED_SET_MAX_AGE_MS) return { vms: copy.vms, cached: true };
    const at = Date.now();
    const vms = await loadProtectedVms(deps.db, accountId, { includeUpdating: true });
    kept.set(accountId, { version, at, vms });
    return { vms, cached: false };
  }

  const activities = {
    /** One check of an OpenStack account: see the module comment. */
    async probeCloud(input: ProbeCloudInput): Promise<CloudProbe> {
      const started = Date.now();
      // The cloud is checked for every protected VM; the servers of those being updated are not
      // judged (a resize or rebuild is not a failure), but the cloud's health matters to them too.
      const { vms: all, cached } = await protectedVmsOf(input.accountId);
      const vms = all.filter((v) => !v.updating);
      const dbMs = Date.now() - started;
      const base = { accountId: input.accountId, protectedCount: all.length, dbMs, dbCached: cached };
      const protectedIds = new Set(vms.map((v) => v.vmId));
      const serverIdOf = new Map(vms.map((v) => [v.vmId, v.serverId]));
      const checked = (unhealthy: Record<string, string>) => [...new Set([...(input.trackedVmIds ?? []).filter((id) => protectedIds.has(id)), ...Object.keys(unhealthy)])].sort();
      if (all.length === 0) {
        // Nobody to protect: no reason to load the cloud. The monitor keeps running for new protections.
        return { ...base, checkedAt: new Date().toISOString(), cloudOk: true, cloudDetail: 'no protected VMs: cloud not probed', unhealthy: {}, checkedVmIds: checked({}), serversListed: 0, apiCalls: 0, elapsedMs: Date.now() - started };
      }

      const { credentials: creds, dispatcher: accountDispatcher, scope } = await credentialsOf(deps, input.accountId);
      const counter = { calls: 0 };
      // A member's account goes through the outbound guard; the operator's through the global agent.
      const dispatcher = countingDispatcher(accountDispatcher ?? getGlobalDispatcher(), counter);
      const session = new OpenStackSession(creds, {
        tokenCache: cloudAccounts(deps).tokenCache,
        timeoutMs,
        // A probe never waits out a rate limit: a cloud throttling us is a failed check.
        rateLimitRetryMaxMs: 0,
        dispatcher,
        logger: deps.logger,
        userAgent: 'vmflow-monitor',
      });
      const signal = Context.current().cancellationSignal;
      let stage = 'Keystone';
      try {
        const before = counter.calls;
        const token = await session.token(signal);
        // A token just issued proves Keystone answers; a cached one is validated (one cheap call).
        if (counter.calls === before && !(await tokenStillValid(creds, token.token, { dispatcher, timeoutMs, signal }))) {
          session.invalidateToken(token.token);
          await session.token(signal);
        }
        stage = 'Nova';
        const servers = await new ComputeClient(session).listServers({ limit: SERVER_PAGE_SIZE, signal });
        const statusOf = new Map(servers.map((s) => [s.id, String(s.status).toUpperCase()]));
        const unhealthy: Record<string, string> = {};
        for (const vm of vms) {
          const status = statusOf.get(vm.serverId) ?? MISSING_STATUS;
          if (status !== 'ACTIVE') unhealthy[vm.vmId] = status;
        }
        // The guests of ACTIVE servers: connections to the VMs, not calls to the cloud.
        const guestRound = await guests.round({
          accountId: input.accountId,
          vms: vms.filter((v) => v.healthCheck && statusOf.get(v.serverId) === 'ACTIVE'),
          serverOf: new Map(servers.map((s) => [s.id, s])),
          scope,
          allow: cloudAccounts(deps).outbound.allowList,
          map: guestMap,
          tracked: new Set(input.trackedVmIds ?? []),
          deadlineMs: opts.guestBatchDeadlineMs ?? GUEST_BATCH_DEADLINE_MS,
          signal,
        });
        Object.assign(unhealthy, guestRound?.failing);
        const checkedAt = new Date().toISOString();
        const checkedVmIds = checked(unhealthy);
        const serverOf = Object.fromEntries(checkedVmIds.map((id) => [id, serverIdOf.get(id)!]));
        const vmThresholds = guestThresholds(vms, new Set(checkedVmIds));
        return {
          ...base,
          checkedAt,
          cloudOk: true,
          cloudDetail: 'ok',
          unhealthy,
          checkedVmIds,
          serverOf,
          ...(guestRound?.unjudged.length ? { unjudged: guestRound.unjudged } : {}),
          ...(vmThresholds ? { vmThresholds } : {}),
          ...(guestRound ? { guests: guestRound.figures } : {}),
          serversListed: servers.length,
          apiCalls: counter.calls,
          elapsedMs: Date.now() - started,
        };
      } catch (err) {
        if (signal.aborted) throw err;
        const detail = describeCloudFailure(stage, err);
        log.info({ accountId: input.accountId, detail }, 'cloud check failed');
        const throttled = err instanceof CloudApiError && err.status === 429;
        // Tracked VMs stay tracked: nothing is known about them from a failed check.
        return { ...base, checkedAt: new Date().toISOString(), cloudOk: false, ...(throttled ? { throttled } : {}), cloudDetail: detail, unhealthy: {}, checkedVmIds: checked({}), serversListed: 0, apiCalls: counter.calls, elapsedMs: Date.now() - started };
      }
    },

    /** Ids of the account's protected VMs, sorted. */
    async protectedVmIds(input: { accountId: string }): Promise<string[]> {
      return (await loadProtectedVms(deps.db, input.accountId)).map((v) => v.vmId);
    },

    /**
     * Tells every protected VM's DR workflow that the cloud changed health, SIGNAL_CONCURRENCY at
     * a time, through the Temporal client: thousands of signals from the monitor workflow itself
     * would cost two history events each. Progress is heartbeated, so a retry resumes where the
     * last attempt got to; a DR workflow that is not running is skipped. A signal may arrive twice
     * (a retry after a lost heartbeat): same observedAt, and the DR workflow treats it as a state.
     */
    async signalCloudHealth(input: { accountId: string; signal: CloudHealthSignal }): Promise<SignalCloudHealthResult> {
      const client = deps.temporalClient;
      if (!client) throw ApplicationFailure.nonRetryable('the worker has no Temporal client configured', 'Misconfigured');
      const ctx = Context.current();
      // A VM being updated is not health-checked (its server may be resizing), but its DR workflow
      // must hear the cloud's verdicts: one that missed "healthy" while an update held it kept
      // retrying a failover whose cause had cleared (short soak seed 11).
      const ids = (await loadProtectedVms(deps.db, input.accountId, { includeUpdating: true })).map((v) => v.vmId);
      // Members of a protected environment do not all hear the verdict at once: their environment's
      // DR workflow does, and tells them in dependency order (workflows/environment-dr.ts). One
      // signal per environment, before the single VMs; an environment whose workflow is not running
      // has its members told directly, as single VMs are.
      const envOf = await protectedEnvironmentsOf(deps.db, ids);
      const recipients: Array<{ envId: string } | { vmId: string }> = [...[...new Set(envOf.values())].sort().map((envId) => ({ envId })), ...ids.filter((id) => !envOf.has(id)).map((vmId) => ({ vmId }))];
      const resumeAt = (ctx.info.heartbeatDetails as { done?: number } | undefined)?.done ?? 0;
      let signalled = 0;
      let notRunning = 0;
      let environments = 0;
      const tell = async (r: { envId: string } | { vmId: string }): Promise<void> => {
        if ('vmId' in r) {
          await client.workflow.getHandle(drWorkflowId(r.vmId)).signal(DR_SIGNALS.cloudHealth, input.signal);
          signalled++;
          return;
        }
        try {
          await client.workflow.getHandle(environmentDrWorkflowId(r.envId)).signal(ENVIRONMENT_DR_SIGNALS.cloudHealth, input.signal);
          environments++;
          signalled++;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          const members = ids.filter((id) => envOf.get(id) === r.envId);
          const told = await Promise.allSettled(members.map((vmId) => client.workflow.getHandle(drWorkflowId(vmId)).signal(DR_SIGNALS.cloudHealth, input.signal)));
          for (const t of told) {
            if (t.status === 'fulfilled') signalled++;
            else if (t.reason instanceof WorkflowNotFoundError) notRunning++;
            else throw t.reason;
          }
        }
      };
      for (let i = resumeAt; i < recipients.length; i += SIGNAL_CONCURRENCY) {
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        const batch = recipients.slice(i, i + SIGNAL_CONCURRENCY);
        const results = await Promise.allSettled(batch.map(tell));
        for (const r of results) {
          if (r.status === 'fulfilled') continue;
          if (r.reason instanceof WorkflowNotFoundError) notRunning++;
          else throw r.reason;
        }
        ctx.heartbeat({ done: i + batch.length });
      }
      if (environments) log.info({ accountId: input.accountId, healthy: input.signal.healthy, environments }, 'cloud health signalled to environments\' DR workflows');
      log.info({ accountId: input.accountId, healthy: input.signal.healthy, signalled, notRunning }, 'cloud health signalled to DR workflows');
      return { protectedCount: ids.length, signalled, notRunning };
    },
  };
  return { ...activities, probeCloud: countedProbe(activities.probeCloud) };
}

/** Thresholds declared with the guest checks of the VMs whose counters can move now (few). */
function guestThresholds(vms: readonly ProtectedVm[], ids: ReadonlySet<string>): CloudProbe['vmThresholds'] {
  const out: NonNullable<CloudProbe['vmThresholds']> = {};
  for (const v of vms) {
    const c = v.healthCheck;
    if (!c || !ids.has(v.vmId) || (c.failureThreshold === undefined && c.successThreshold === undefined)) continue;
    out[v.vmId] = { ...(c.failureThreshold !== undefined ? { failureThreshold: c.failureThreshold } : {}), ...(c.successThreshold !== undefined ? { successThreshold: c.successThreshold } : {}) };
  }
  return Object.keys(out).length ? out : undefined;
}

interface GuestSeen {
  serverId: string;
  /** The check as declared (a changed check starts unarmed: a new port may never answer). */
  check: string;
  armed: boolean;
  ok: boolean;
  detail: string;
  since: number;
  /** When this worker last checked it (0: known only from the database). */
  checkedAt: number;
}

/** A declared check as a comparable string (key order fixed by the schema). */
function checkKey(c: GuestHealthCheck): string {
  return JSON.stringify([c.protocol, c.port, c.path ?? null, c.intervalSeconds ?? null, c.timeoutSeconds ?? null, c.failureThreshold ?? null, c.successThreshold ?? null]);
}

/**
 * What the probe knows of each VM's guest: kept in the worker, loaded per account from
 * vm_guest_status after a restart, written back only when something changes.
 */
function guestMemory(deps: ActivityDeps, log: ActivityDeps['logger']) {
  const seen = new Map<string, GuestSeen>();
  const loaded = new Set<string>();
  const refusedLogged = new Set<string>();

  async function load(accountId: string): Promise<void> {
    if (loaded.has(accountId)) return;
    for (const d of await guestStatusModel(deps.db).find({ accountId }).lean()) {
      if (!seen.has(d._id)) seen.set(d._id, { serverId: d.serverId, check: d.check ?? '', armed: d.armed, ok: d.ok, detail: d.detail, since: new Date(d.since).getTime(), checkedAt: 0 });
    }
    loaded.add(accountId);
  }

  return {
    /**
     * One interval's guest checks of an account: which VMs fail (armed checks only), which tracked
     * VMs are not judged now, and the figures. Undefined when no VM of the account declares one.
     */
    async round(o: {
      accountId: string;
      vms: ProtectedVm[];
      serverOf: Map<string, { addresses?: Record<string, Array<{ addr?: string; version?: number; 'OS-EXT-IPS:type'?: string }>> }>;
      scope: 'operator' | 'user';
      allow: Parameters<typeof guestAddressRefusal>[2];
      map: readonly AddressMapEntry[];
      tracked: ReadonlySet<string>;
      deadlineMs: number;
      signal: AbortSignal;
    }): Promise<{ failing: Record<string, string>; unjudged: string[]; figures: GuestRoundFigures } | undefined> {
      if (!o.vms.length) return undefined;
      const started = Date.now();
      await load(o.accountId);
      const targets: GuestTarget[] = [];
      let refused = 0;
      for (const v of o.vms) {
        const c = v.healthCheck!;
        const known = seen.get(v.vmId);
        const sameServer = known?.serverId === v.serverId && known.check === checkKey(c);
        if (sameServer && known.checkedAt && started - known.checkedAt < (c.intervalSeconds ?? GUEST_CHECK_DEFAULTS.intervalSeconds) * 1000 * GUEST_DUE_SHARE) continue;
        const where = guestAddressOf(o.serverOf.get(v.serverId)?.addresses, o.map);
        const why = where ? guestAddressRefusal(where.address, o.scope, o.allow) : 'the server has no address this worker can reach';
        if (!where || why) {
          refused++;
          if (!refusedLogged.has(v.vmId)) {
            refusedLogged.add(v.vmId);
            log.warn({ vmId: v.vmId, accountId: o.accountId, why }, 'guest check not made');
          }
          continue;
        }
        targets.push({ vmId: v.vmId, protocol: c.protocol, host: where.target, port: c.port, ...(c.protocol === 'tcp' ? {} : { path: c.path ?? GUEST_CHECK_DEFAULTS.path }), timeoutMs: (c.timeoutSeconds ?? GUEST_CHECK_DEFAULTS.timeoutSeconds) * 1000 });
      }
      const results: Map<string, GuestResult> = await checkGuests(targets, { deadlineMs: o.deadlineMs, signal: o.signal });
      const now = Date.now();
      const failing: Record<string, string> = {};
      const unjudged: string[] = [];
      const changed: Array<{ vmId: string; s: GuestSeen }> = [];
      let failed = 0;
      for (const v of o.vms) {
        const r = results.get(v.vmId);
        const known = seen.get(v.vmId);
        const sameServer = known?.serverId === v.serverId && known.check === checkKey(v.healthCheck!);
        if (!r) {
          // Not checked now (not due, or inconclusive): its counters stay until its next check, so
          // thresholds count the VM's own checks, not monitor intervals.
          if (o.tracked.has(v.vmId)) unjudged.push(v.vmId);
          continue;
        }
        if (!r.ok) failed++;
        const next: GuestSeen = sameServer
          ? { ...known, armed: known.armed || r.ok, ok: r.ok, detail: r.detail, since: known.ok === r.ok ? known.since : now, checkedAt: now }
          : { serverId: v.serverId, check: checkKey(v.healthCheck!), armed: r.ok, ok: r.ok, detail: r.detail, since: now, checkedAt: now };
        seen.set(v.vmId, next);
        if (!sameServer || known.armed !== next.armed || known.ok !== next.ok) changed.push({ vmId: v.vmId, s: next });
        if (!r.ok && next.armed) failing[v.vmId] = `${GUEST_FAILED_STATUS} (${r.detail})`;
      }
      if (changed.length) {
        await guestStatusModel(deps.db).bulkWrite(
          changed.map(({ vmId, s }) => ({
            replaceOne: { filter: { _id: vmId }, replacement: { _id: vmId, accountId: o.accountId, serverId: s.serverId, check: s.check, armed: s.armed, ok: s.ok, detail: s.detail, since: new Date(s.since) }, upsert: true },
          })),
          { ordered: false },
        );
      }
      return {
        failing,
        unjudged: unjudged.sort(),
        figures: { declared: o.vms.length, checked: results.size, failed, failing: Object.keys(failing).length, inconclusive: targets.length - results.size, refused, elapsedMs: Date.now() - started },
      };
    },
  };
}

/** Each check counted by outcome, with its duration (vmflow_monitor_checks_total, vmflow_monitor_probe_duration_seconds). */
function countedProbe(probe: (input: ProbeCloudInput) => Promise<CloudProbe>): (input: ProbeCloudInput) => Promise<CloudProbe> {
  return async (input) => {
    const started = Date.now();
    try {
      const p = await probe(input);
      recordMonitorCheck(p.protectedCount === 0 ? 'idle' : p.cloudOk ? 'ok' : p.throttled ? 'throttled' : 'cloud_down', (Date.now() - started) / 1000);
      return p;
    } catch (err) {
      recordMonitorCheck('error', (Date.now() - started) / 1000);
      throw err;
    }
  };
}

export type DrMonitorActivities = ReturnType<typeof createDrMonitorActivities>;
