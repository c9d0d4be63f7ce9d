/**
 * Helpers the cloud activities share (backup, DR, the VM lifecycle on either cloud, the DR
 * monitor): the guards for optional worker dependencies, the bounded poll every wait uses, the
 * oldest-first order racing attempts settle on, transfer heartbeats, and the look-ups by
 * deterministic name on OpenStack and CloudStack. One copy, so a fix to (say) the 431-for-a-gone-id
 * rule of listTemplates reaches every activity at once.
 */
import { Context, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CloudApiError } from '../src/clouds/errors';
import type { CloudStackClient, CsTemplate, CsVirtualMachine } from '../src/clouds/cloudstack/client';
import type { Image, OpenStackClient, Server } from '../src/clouds/openstack';
import { InvalidKeyError } from '../src/imagestore';
import type { Logger } from '../src/logger';
import type { ActivityDeps } from './deps';

// ---- worker dependencies -------------------------------------------------------------------

/** The worker's cloud account resolver; a worker without one is misconfigured (no retry helps). */
export function cloudAccounts(deps: ActivityDeps) {
  if (!deps.cloudAccounts) throw ApplicationFailure.nonRetryable('the worker has no cloud account resolver configured', 'Misconfigured');
  return deps.cloudAccounts;
}

/** The worker's image store; a worker without one is misconfigured (no retry helps). */
export function imageStore(deps: ActivityDeps) {
  if (!deps.imageStore) throw ApplicationFailure.nonRetryable('the worker has no image store configured', 'Misconfigured');
  return deps.imageStore;
}

/** A malformed store key is the workflow's bug: no retry can fix it. */
export function rethrowInvalidKey(err: unknown): never {
  if (err instanceof InvalidKeyError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidKey');
  throw err;
}

export const kindOf = (err: unknown): string | undefined => (err instanceof CloudApiError ? err.kind : undefined);

// ---- waiting and progress ------------------------------------------------------------------

export const MiB = 1024 * 1024;
/** Heartbeat a transfer every this many bytes (and at the end). */
export const TRANSFER_HEARTBEAT_BYTES = 8 * MiB;
/** Bound of every wait when the activity has no start-to-close timeout (outside Temporal). */
const DEFAULT_WAIT_BUDGET_MS = 6 * 3600_000;

export const mib = (bytes: number): string => `${Math.round(bytes / MiB)} MiB`;

/** "123 MiB of 1024 MiB" (or "123 MiB" when the total is unknown). */
export function progressText(bytes: number, total?: number): string {
  return total !== undefined ? `${mib(bytes)} of ${mib(total)}` : mib(bytes);
}

/**
 * Heartbeats of a byte transfer: `beat(bytes)` sends `{...what, bytes, total, progress}` at once;
 * `onProgress(bytes)` sends it at most once per TRANSFER_HEARTBEAT_BYTES, so a fast stream does
 * not flood Temporal with heartbeats.
 */
export function transferHeartbeat(ctx: Context, total: number | undefined, what: Record<string, unknown> = {}) {
  let nextBeat = 0;
  const beat = (bytes: number) => ctx.heartbeat({ ...what, bytes, total, progress: progressText(bytes, total) });
  const onProgress = (bytes: number) => {
    if (bytes >= nextBeat) {
      nextBeat = bytes + TRANSFER_HEARTBEAT_BYTES;
      beat(bytes);
    }
  };
  return { beat, onProgress };
}

/**
 * Polls `step` until it returns a value. The loop is bounded by the activity's own start-to-close
 * timeout: after it Temporal has given up on this attempt, so polling on would only load the cloud.
 */
export async function pollUntil<T>(what: string, pollMs: number, step: () => Promise<T | undefined>): Promise<T> {
  const info = Context.current().info;
  const budget = info.startToCloseTimeoutMs && info.startToCloseTimeoutMs > 0 ? info.startToCloseTimeoutMs : DEFAULT_WAIT_BUDGET_MS;
  const deadline = Date.now() + budget;
  for (;;) {
    const value = await step();
    if (value !== undefined) return value;
    if (Date.now() + pollMs > deadline) throw ApplicationFailure.retryable(`gave up waiting for ${what} after ${budget} ms`, 'WaitTimedOut');
    await sleep(pollMs); // rejects with CancelledFailure when the activity is cancelled
  }
}

// ---- racing attempts -----------------------------------------------------------------------

/**
 * Oldest first, ties broken by id, so racing attempts pick the same object. (Clouds report
 * creation times in whole seconds, so two creates within one second are ordered by id, which an
 * attempt that saw only its own object cannot know: such a pair is left to the next ensure run,
 * which keeps one.)
 */
export function byAge<T extends { id: string }>(items: T[], createdOf: (t: T) => string | number | undefined): T[] {
  return [...items].sort((a, b) => {
    const ca = createdOf(a) ?? '';
    const cb = createdOf(b) ?? '';
    if (ca !== cb) return ca < cb ? -1 : 1;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}

export const oldest = <T extends { id: string }>(items: T[], createdOf: (t: T) => string | number | undefined): T | undefined => byAge(items, createdOf)[0];

// ---- OpenStack lookups ---------------------------------------------------------------------

export async function getServerOrGone(os: OpenStackClient, id: string, signal: AbortSignal): Promise<Server | undefined> {
  try {
    return await os.compute.getServer(id, { signal });
  } catch (err) {
    if (kindOf(err) === 'NotFound') return undefined;
    throw err;
  }
}

export const serverImageId = (s: Server): string | undefined => (typeof s.image === 'object' && s.image ? s.image.id : undefined);
export const beingDeleted = (s: Server) => s.status === 'DELETED' || s.status === 'SOFT_DELETED' || s['OS-EXT-STS:task_state'] === 'deleting';

/** Servers of exactly this name that are not deleted or being deleted. */
export async function liveServersNamed(os: OpenStackClient, name: string, signal: AbortSignal): Promise<Server[]> {
  return (await os.compute.listServers({ name, signal })).filter((s) => s.name === name && !beingDeleted(s));
}

/**
 * Creates a server under a deterministic name and settles a race with another attempt that did
 * the same: the oldest live server of that name built from the same image is kept, and a loser
 * deletes the one it made. `created` says whether the server returned is the one this call made.
 */
export async function createServerOnce(
  os: OpenStackClient,
  log: Logger,
  spec: { name: string; imageId: string; flavorId: string; networkId: string; metadata: Record<string, string> },
  what: string,
  signal: AbortSignal,
): Promise<{ server: Server; created: boolean }> {
  const made = await os.compute.createServer({
    name: spec.name,
    flavorRef: spec.flavorId,
    imageRef: spec.imageId,
    networks: [{ uuid: spec.networkId }],
    metadata: spec.metadata,
    signal,
  });
  const winner = oldest((await liveServersNamed(os, spec.name, signal)).filter((s) => serverImageId(s) === spec.imageId), (s) => s.created);
  if (winner && winner.id !== made.id) {
    log.warn({ name: spec.name, kept: winner.id, removed: made.id }, `duplicate ${what} from a racing attempt removed`);
    await os.compute.deleteServer(made.id, { ignoreNotFound: true, signal });
    return { server: winner, created: false };
  }
  return { server: await os.compute.getServer(made.id, { signal }), created: true };
}

/**
 * Images of exactly this name owned by our project (Glance names are not unique), leaving out
 * those whose status is in `excludedStatuses`.
 */
export async function imagesNamed(os: OpenStackClient, name: string, excludedStatuses: ReadonlySet<string>, signal: AbortSignal): Promise<Image[]> {
  const projectId = (await os.session.token(signal)).project?.id;
  const list = await os.image.listImages({ name, ...(projectId ? { extra: { owner: projectId } } : {}), signal });
  return list.filter((i) => i.name === name && (!projectId || i.owner === projectId) && !excludedStatuses.has(i.status));
}

/** The flavor and network a new server is built with, by name; either missing is Misconfigured. */
export async function flavorAndNetwork(os: OpenStackClient, flavorName: string, networkName: string, signal: AbortSignal) {
  const [flavors, networks] = await Promise.all([os.compute.listFlavors({ signal }), os.network.listNetworks({ name: networkName, signal })]);
  const flavor = flavors.find((f) => f.name === flavorName);
  if (!flavor) throw ApplicationFailure.nonRetryable(`OpenStack has no flavor ${flavorName}`, 'Misconfigured');
  const network = networks.find((n) => n.name === networkName);
  if (!network) throw ApplicationFailure.nonRetryable(`OpenStack has no network ${networkName}`, 'Misconfigured');
  return { flavor, network };
}

// ---- CloudStack lookups --------------------------------------------------------------------

/** Instance states after destroyVirtualMachine: the instance counts as gone. */
export const CS_GONE: ReadonlySet<string> = new Set(['Destroyed', 'Expunging', 'Expunged']);

export const DEFAULT_CS_OS_TYPE = 'Other Linux (64-bit)';

/** Our own templates (templatefilter=self) of exactly this name and/or id. */
export async function ownTemplates(cs: CloudStackClient, filter: { name?: string; id?: string }, signal: AbortSignal): Promise<CsTemplate[]> {
  try {
    const list = await cs.listTemplates({ templatefilter: 'self', ...filter }, { signal });
    return list.filter((t) => (filter.name === undefined || t.name === filter.name) && (filter.id === undefined || t.id === filter.id));
  } catch (err) {
    // CloudStack answers 431 for an id that does not exist (any more).
    if (filter.id && kindOf(err) === 'BadRequest') return [];
    throw err;
  }
}

/** A template status that reports a failed download ("Failed to download template: …", "Download Failed", "Error", "Abandoned"). */
export function templateStatusFailed(status: string | undefined): boolean {
  return !!status && /fail|error|abandon|invalid|corrupt/i.test(status);
}

/** Instances of exactly this name that are not destroyed. */
export async function csVmsNamed(cs: CloudStackClient, name: string, signal: AbortSignal): Promise<CsVirtualMachine[]> {
  // Compare exactly: a cloud may treat the `name` filter loosely (as a substring).
  return (await cs.listVirtualMachines({ name }, { signal })).filter((v) => v.name === name && !CS_GONE.has(v.state));
}

/** The zone of that name, or the first zone when no name is given; none is Misconfigured. */
export async function findZone(cs: CloudStackClient, zoneName: string | undefined, signal: AbortSignal) {
  const zones = await cs.listZones({}, { signal });
  const zone = zoneName ? zones.find((z) => z.name === zoneName) : zones[0];
  if (!zone) throw ApplicationFailure.nonRetryable(zoneName ? `CloudStack zone ${zoneName} not found` : 'CloudStack has no zone', 'Misconfigured');
  return zone;
}

/** Zone to deploy into: the explicit one, else the account's zone, else the worker's configured zone, else the only zone. */
export async function resolveZone(deps: ActivityDeps, cs: CloudStackClient, accountId: string, explicit: string | undefined, signal: AbortSignal) {
  let zoneName = explicit;
  const resolver = deps.cloudAccounts as { cloudstackSettings?: (id: string) => Promise<{ zoneName?: string }> } | undefined;
  if (!zoneName && typeof resolver?.cloudstackSettings === 'function') zoneName = (await resolver.cloudstackSettings(accountId)).zoneName;
  zoneName ??= deps.cloudstack?.zone;
  return findZone(cs, zoneName, signal);
}

/** The service offering of that name; none is Misconfigured. */
export async function serviceOfferingNamed(cs: CloudStackClient, name: string, signal: AbortSignal) {
  const offering = (await cs.listServiceOfferings({}, { signal })).find((o) => o.name === name);
  if (!offering) throw ApplicationFailure.nonRetryable(`CloudStack has no service offering ${name}`, 'Misconfigured');
  return offering;
}
