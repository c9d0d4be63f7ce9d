/**
 * Disaster-recovery activities (UC-009): fence the old primary, switch to a standby (start it, move
 * the floating IP), bring a VM that failed over to CloudStack home to OpenStack (template from its
 * stopped root volume → extract URL → image store → Glance import), and boot isolated drill copies.
 *
 * As in activities/backup.ts every activity is idempotent: what it makes carries a deterministic
 * name chosen by the workflow (src/contracts/dr.ts) and is looked for before anything is made, so a
 * retry or a second worker after a kill finds an earlier attempt's object instead of making another.
 * Waits heartbeat a readable status, poll at `deps.timing.pollIntervalMs`, stop when the activity is
 * cancelled and never outlive the activity's start-to-close timeout.
 *
 * Deleting drill copies needs nothing new: backup's osDeleteServer and csDestroyStandby (wait until
 * gone, "already gone" is success) do exactly that.
 */
import { Transform, pipeline } from 'node:stream';
import { Context, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { request } from 'undici';
import { CloudApiError, kindForHttpStatus } from '../src/clouds/errors';
import { CloudStackJobError, type CloudStackClient, type CsTemplate, type CsVirtualMachine, type ExtractJobResult } from '../src/clouds/cloudstack/client';
import type { Image, OpenStackClient, Server } from '../src/clouds/openstack';
import { versionPrefix } from '../src/clouds/openstack/envelope';
import type { VmAddress } from '../src/contracts/vm';
import { signDownloadUrl } from '../src/imagestore';
import { redactUrl } from '../src/logger';
import { outboundRefusal } from '../src/outbound/guard';
import { envOutboundGuard } from '../src/cloud-accounts/resolver';
import type { ActivityDeps } from './deps';
import { toActivityFailure, translateCloudErrors } from './cloud-failures';
import { assertNotLiveCopy } from './owner';
import type { StoredImage } from './backup';
import { CS_GONE, DEFAULT_CS_OS_TYPE, byAge, cloudAccounts, createServerOnce, csVmsNamed, liveServersNamed, flavorAndNetwork, getServerOrGone, imageStore, imagesNamed, kindOf, oldest, ownTemplates, pollUntil, resolveZone, rethrowInvalidKey, serverImageId, serviceOfferingNamed, templateStatusFailed, transferHeartbeat } from './cloud-helpers';
import { addressesOf } from './vm-openstack';
import { placementOf } from './vm-cloudstack';

// ---- contract ------------------------------------------------------------------------------

export interface FenceInput {
  accountId: string;
  serverId: string;
  /** Deadline of each call to the cloud; default 3 s. A fence must answer fast during an outage. */
  callTimeoutMs?: number;
  /** How long to wait for SHUTOFF after os-stop; default 2 min. */
  stopWaitMs?: number;
}

export interface FenceResult {
  /** True when the server is known not to run (stopped, shelved, suspended, paused, deleted, gone). */
  fenced: boolean;
  reason: string;
  /** Status last seen (MISSING when Nova answered 404); absent when the cloud was unreachable. */
  status?: string;
}

export interface MoveFloatingIpInput {
  accountId: string;
  fromServerId: string;
  toServerId: string;
  /** Move exactly this address (when the old primary has several); default its first one. */
  floatingIpAddress?: string;
}

export interface CsTemplateFromVmInput {
  accountId: string;
  csVmId: string;
  /** Deterministic (failbackTemplateName): the idempotency key. */
  templateName: string;
  /** listOsTypes description used when the VM reports no OS type; default "Other Linux (64-bit)". */
  osTypeName?: string;
}

export interface CopyUrlToStoreInput {
  /** A time-limited download URL (csExtractTemplateUrl). Never logged whole. */
  url: string;
  /** Deterministic (failbackStoreKey). */
  storeKey: string;
  /** Bytes of the file (e.g. the template's physicalSize); a stored object of another size is replaced. */
  expectedSize?: number;
}

export interface GlanceImportInput {
  accountId: string;
  /** Deterministic (failbackImageName): the idempotency key. */
  imageName: string;
  storeKey: string;
  /** Lifetime of the signed store URL Glance downloads from. */
  ttlSeconds: number;
  diskFormat?: 'qcow2' | 'raw';
  /** Extra image properties (vmflow_vm_id, vmflow_failback_id, …). */
  properties?: Record<string, string>;
}

export interface OsBootIsolatedInput {
  accountId: string;
  /** Deterministic (drillServerName). */
  name: string;
  imageId: string;
  flavorName: string;
  networkName: string;
  /** Extra server metadata; `vmflow_drill=true` is always set. */
  metadata?: Record<string, string>;
}

export interface CsBootIsolatedInput {
  accountId: string;
  name: string;
  templateId: string;
  serviceOfferingName: string;
  zoneName?: string;
  /** The network the copy goes on (an environment drill's own); default: the zone's default. */
  networkId?: string;
}

// ---- helpers -------------------------------------------------------------------------------

const FENCE_CALL_TIMEOUT_MS = 3_000;
const FENCE_STOP_WAIT_MS = 120_000;
/** Statuses in which the guest does not run: fencing is done. */
const NOT_RUNNING = new Set(['SHUTOFF', 'DELETED', 'SOFT_DELETED', 'SHELVED', 'SHELVED_OFFLOADED', 'SUSPENDED', 'PAUSED']);
/** Statuses os-start cannot leave; waiting would never end. */
const UNSTARTABLE = new Set(['DELETED', 'SOFT_DELETED', 'SHELVED', 'SHELVED_OFFLOADED', 'SUSPENDED', 'PAUSED', 'RESCUE', 'VERIFY_RESIZE', 'UNKNOWN']);
/** Cloud failures that mean "cannot reach it now" (as opposed to "it said no"). */
const UNREACHABLE = new Set(['Network', 'Timeout', 'Unavailable', 'RateLimited']);
const GONE_IMAGE: ReadonlySet<string> = new Set(['deleted', 'pending_delete']);

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/** A download URL as it may appear in messages: its origin only (extract URLs carry a token in the path). */
function urlLabel(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(malformed URL)';
  }
}

/**
 * Redacts URL credentials inside free text (Glance's task messages quote the whole signed URL).
 * Unlike redactUrl, a value ends at whitespace too, so the rest of the message survives.
 */
function redactInText(text: string): string {
  return text.replace(/([?&](?:apiKey|apikey|signature|temp_url_sig|sig|token)=)[^&\s'"]*/gi, '$1[REDACTED]');
}

// ---- OpenStack lookups ---------------------------------------------------------------------

const failedImport = (img: Image): boolean => typeof img.os_glance_failed_import === 'string' && img.os_glance_failed_import !== '';

/** Whether Glance offers web-download (`GET /v2/info/import`); a Glance without the import API answers 404. */
async function webDownloadAvailable(os: OpenStackClient, signal: AbortSignal): Promise<boolean> {
  const prefix = await versionPrefix(os.session, 'image', 'v2', signal);
  try {
    const res = await os.session.request<{ 'import-methods'?: { value?: unknown } }>({ service: 'image', method: 'GET', path: `${prefix}/info/import`, expected: [200], signal });
    const methods = res.json?.['import-methods']?.value;
    return Array.isArray(methods) && methods.includes('web-download');
  } catch (err) {
    if (kindOf(err) === 'NotFound') return false;
    throw err;
  }
}

/** The message of the image's last failed import task (`GET /v2/images/{id}/tasks`), if Glance tells. */
async function lastImportError(os: OpenStackClient, imageId: string, signal: AbortSignal): Promise<string | undefined> {
  try {
    const prefix = await versionPrefix(os.session, 'image', 'v2', signal);
    const res = await os.session.request<{ tasks?: Array<{ status?: string; message?: string }> }>({ service: 'image', method: 'GET', path: `${prefix}/images/${encodeURIComponent(imageId)}/tasks`, expected: [200], signal });
    const failed = (res.json?.tasks ?? []).filter((t) => t.status === 'failure' && t.message);
    const message = failed[failed.length - 1]?.message;
    return message ? redactInText(message) : undefined;
  } catch {
    return undefined; // only for the error text
  }
}

// ---- activities ----------------------------------------------------------------------------

export function createDrActivities(deps: ActivityDeps) {
  const pollMs = deps.timing?.pollIntervalMs ?? 2000;
  const log = deps.logger.child({ component: 'dr-activities' });

  /** Waits for a CloudStack job, heartbeating its progress. */
  function waitJob<R>(cs: CloudStackClient, jobid: string, what: Record<string, unknown>, signal: AbortSignal): Promise<R> {
    const ctx = Context.current();
    return cs.waitForJob<R>(jobid, { signal, pollIntervalMs: pollMs, onProgress: (j) => ctx.heartbeat({ ...what, job: j.cmd, jobstatus: j.jobstatus }) });
  }

  /** Starts a CloudStack instance (Running already is fine) and waits until it runs. */
  async function startCsVm(cs: CloudStackClient, csVmId: string, failureType: string, signal: AbortSignal): Promise<CsVirtualMachine> {
    const ctx = Context.current();
    return pollUntil(`CloudStack VM ${csVmId} to run`, pollMs, async () => {
      const vm = await cs.getVirtualMachine(csVmId, { signal });
      if (!vm || CS_GONE.has(vm.state)) throw ApplicationFailure.nonRetryable(`CloudStack VM ${csVmId} is gone`, failureType);
      ctx.heartbeat({ csVmId, state: vm.state });
      if (vm.state === 'Running') return vm;
      if (vm.state === 'Error') throw ApplicationFailure.nonRetryable(`CloudStack VM ${vm.name} (${csVmId}) is in state Error`, failureType);
      if (vm.state === 'Stopped') {
        try {
          await waitJob(cs, (await cs.startVirtualMachine(csVmId, { signal })).jobid, { csVmId }, signal);
        } catch (err) {
          if (err instanceof CloudStackJobError && !err.retryable) throw ApplicationFailure.nonRetryable(`starting CloudStack VM ${csVmId} failed: ${err.jobErrorText}`, failureType);
          throw err;
        }
      }
      return undefined; // Starting, Stopping, Migrating…: look again
    });
  }

  return {
    // ---- fencing and switching -------------------------------------------------------------

    /**
     * Stops the old primary so two copies never run. Never throws for an unreachable cloud: every
     * call has a short deadline and an outage (refused, reset, timeout, 5xx, 429) answers
     * `{fenced:false}` at once, for the workflow to record "fence pending" and try again later.
     * Nova refusing os-stop (ERROR or UNKNOWN on a dead host; reset-state is admin-only and not
     * used) is `{fenced:false}` too. Auth and other refusals throw as usual.
     */
    async osFenceServer(input: FenceInput): Promise<FenceResult> {
      // Fencing stops the copy that was replaced; the copy the VM runs on now is never stopped.
      await assertNotLiveCopy(deps, { cloud: 'openstack', accountId: input.accountId, serverId: input.serverId }, 'fence (stop)');
      const ctx = Context.current();
      const callMs = input.callTimeoutMs ?? FENCE_CALL_TIMEOUT_MS;
      const waitMs = input.stopWaitMs ?? FENCE_STOP_WAIT_MS;
      const bounded = () => AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(callMs)]);
      const deadline = Date.now() + waitMs;
      let stopSent = false;
      try {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        for (;;) {
          const s = await getServerOrGone(os, input.serverId, bounded());
          if (!s) return { fenced: true, reason: 'the server no longer exists', status: 'MISSING' };
          const task = s['OS-EXT-STS:task_state'] ?? null;
          ctx.heartbeat({ serverId: s.id, status: s.status, task });
          // SHUTOFF with task powering-on is starting up again: not fenced yet.
          if (NOT_RUNNING.has(s.status) && task !== 'powering-on') return { fenced: true, reason: `the server is ${s.status}`, status: s.status };
          if (!task) {
            try {
              await os.compute.stopServer(s.id, { signal: bounded() });
              if (!stopSent) log.info({ serverId: s.id, status: s.status }, 'fencing: os-stop sent');
              stopSent = true;
            } catch (err) {
              if (kindOf(err) !== 'Conflict') throw err;
              const now = await getServerOrGone(os, input.serverId, bounded());
              if (!now) return { fenced: true, reason: 'the server no longer exists', status: 'MISSING' };
              if (!now['OS-EXT-STS:task_state'] && !NOT_RUNNING.has(now.status)) {
                return {
                  fenced: false,
                  reason: `Nova refused os-stop while the server is ${now.status}${now.fault?.message ? ` (${now.fault.message})` : ''}: ${(err as Error).message}`,
                  status: now.status,
                };
              }
            }
          }
          if (Date.now() + pollMs > deadline) {
            return { fenced: false, reason: `${stopSent ? 'os-stop sent, but the' : 'the'} server is still ${s.status}${task ? ` (${task})` : ''} after ${waitMs} ms`, status: s.status };
          }
          await sleep(pollMs);
        }
      } catch (err) {
        if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) throw err;
        const timedOut = (err as Error)?.name === 'TimeoutError';
        if (timedOut || UNREACHABLE.has(kindOf(err) ?? '')) {
          const reason = `the cloud is unreachable${stopSent ? ' (os-stop was sent)' : ''}: ${timedOut ? `no answer within ${callMs} ms` : (err as Error).message}`;
          log.warn({ serverId: input.serverId, reason }, 'fence pending');
          return { fenced: false, reason };
        }
        throw toActivityFailure(err);
      }
    },

    /**
     * os-start when SHUTOFF (ACTIVE already is fine); waits for ACTIVE. ERROR or gone → non-retryable
     * StandbyFailed. With `name`, a recorded server that is gone is looked up by that name: a
     * backup that gave way to this failover may have replaced the standby without recording the
     * new one. Answers the id of the server it started.
     */
    async osStartServerAndWait(input: { accountId: string; serverId: string; name?: string }): Promise<{ serverId: string; status: string; addresses: VmAddress[] }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        let serverId = input.serverId;
        if (input.name && !(await getServerOrGone(os, serverId, signal))) {
          const byName = byAge(await liveServersNamed(os, input.name, signal), (x) => x.created).filter((x) => x.status !== 'ERROR').pop();
          if (byName) {
            log.info({ recorded: serverId, found: byName.id, name: input.name }, 'recorded standby is gone; starting the one of the same name');
            serverId = byName.id;
          }
        }
        return pollUntil(`server ${serverId} to be ACTIVE`, pollMs, async () => {
          const s = await getServerOrGone(os, serverId, signal);
          if (!s) throw ApplicationFailure.nonRetryable(`standby server ${serverId} no longer exists`, 'StandbyFailed');
          const task = s['OS-EXT-STS:task_state'] ?? null;
          ctx.heartbeat({ serverId: s.id, status: s.status, task });
          if (s.status === 'ERROR') throw ApplicationFailure.nonRetryable(`standby server ${s.name} (${s.id}) is in ERROR: ${s.fault?.message ?? 'no fault reported'}`, 'StandbyFailed');
          if (task) return undefined;
          if (s.status === 'ACTIVE') return { serverId, status: s.status, addresses: addressesOf(s) };
          if (s.status === 'SHUTOFF') {
            try {
              await os.compute.startServer(s.id, { signal });
            } catch (err) {
              if (kindOf(err) !== 'Conflict') throw err; // a task started meanwhile: look again
            }
            return undefined;
          }
          if (UNSTARTABLE.has(s.status)) throw ApplicationFailure.nonRetryable(`standby server ${s.name} (${s.id}) is ${s.status}, which os-start cannot start`, 'StandbyFailed');
          return undefined;
        });
      });
    },

    /**
     * Moves the floating IP of the old primary to the standby's first port (on the same network
     * as the address's current port when there is one): `PUT /floatingips/{id}` with the new
     * port. Already on the standby → moved:true; none on either → moved:false.
     */
    async osMoveFloatingIp(input: MoveFloatingIpInput): Promise<{ moved: boolean; address?: string }> {
      return translateCloudErrors(async () => {
        const signal = Context.current().cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const [fromPorts, toPorts] = await Promise.all([os.network.listPorts({ device_id: input.fromServerId, signal }), os.network.listPorts({ device_id: input.toServerId, signal })]);
        const fipsOn = async (ports: typeof fromPorts) => (await Promise.all(ports.map((p) => os.network.listFloatingIps({ port_id: p.id, signal })))).flat();
        const wanted = (f: { floating_ip_address: string }) => input.floatingIpAddress === undefined || f.floating_ip_address === input.floatingIpAddress;
        const [fromFips, toFips] = await Promise.all([fipsOn(fromPorts), fipsOn(toPorts)]);
        const fip = fromFips.find(wanted);
        if (!fip) {
          const already = toFips.find(wanted);
          return already ? { moved: true, address: already.floating_ip_address } : { moved: false };
        }
        const sourcePort = fromPorts.find((p) => p.id === fip.port_id);
        const candidates = toPorts.filter((p) => p.fixed_ips.length > 0);
        const target = candidates.find((p) => p.network_id === sourcePort?.network_id) ?? candidates[0];
        if (!target) throw ApplicationFailure.retryable(`server ${input.toServerId} has no port with a fixed IP yet`, 'NoTargetPort');
        await os.network.updateFloatingIp(fip.id, target.id, { signal });
        log.info({ address: fip.floating_ip_address, from: input.fromServerId, to: input.toServerId, portId: target.id }, 'floating IP moved');
        return { moved: true, address: fip.floating_ip_address };
      });
    },

    /** Starts a CloudStack instance (Running already is fine) and waits; Error or gone → non-retryable StandbyFailed. */
    /** Starts a CloudStack standby and waits for Running; with `name`, one recorded but gone is looked up by name (as osStartServerAndWait). */
    async csStartVmAndWait(input: { accountId: string; csVmId: string; name?: string }): Promise<{ csVmId: string; state: string; addresses: VmAddress[] }> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        let csVmId = input.csVmId;
        if (input.name) {
          const recorded = await cs.getVirtualMachine(csVmId, { signal });
          if (!recorded || CS_GONE.has(recorded.state)) {
            const byName = (await csVmsNamed(cs, input.name, signal)).filter((v) => v.state !== 'Error').sort((a, b) => String(a.created).localeCompare(String(b.created))).pop();
            if (byName) {
              log.info({ recorded: csVmId, found: byName.id, name: input.name }, 'recorded CloudStack standby is gone; starting the one of the same name');
              csVmId = byName.id;
            }
          }
        }
        const vm = await startCsVm(cs, csVmId, 'StandbyFailed', signal);
        return { csVmId, state: vm.state, addresses: placementOf(input.accountId, vm).addresses };
      });
    },

    /**
     * How the VM's live copy in CloudStack is doing (drVm asks while failed over): its state, or
     * `Gone` when CloudStack no longer lists it (destroyed, expunged, never there). An unreachable
     * CloudStack is `Unknown` — an observation, not an error: nothing is recovered on it.
     */
    async csLiveCopyState(input: { accountId: string; csVmId: string }): Promise<{ state: string; detail?: string }> {
      const signal = AbortSignal.any([Context.current().cancellationSignal, AbortSignal.timeout(5_000)]);
      try {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const vm = await cs.getVirtualMachine(input.csVmId, { signal });
        return { state: !vm || CS_GONE.has(vm.state) ? 'Gone' : vm.state };
      } catch (err) {
        if (Context.current().cancellationSignal.aborted) throw err;
        return { state: 'Unknown', detail: (err as Error).message.slice(0, 300) };
      }
    },

    /** Stops a CloudStack instance (also from Error) and waits for Stopped; one already gone answers state Gone. */
    async csStopVmAndWait(input: { accountId: string; csVmId: string; forced?: boolean; liveCopy?: 'failback-imaging' }): Promise<{ state: string }> {
      return translateCloudErrors(async () => {
        // Only failback stops the live copy, on purpose: its disk becomes the image brought home.
        if (input.liveCopy !== 'failback-imaging') await assertNotLiveCopy(deps, { cloud: 'cloudstack', accountId: input.accountId, serverId: input.csVmId }, 'stop');
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        return pollUntil(`CloudStack VM ${input.csVmId} to stop`, pollMs, async () => {
          const vm = await cs.getVirtualMachine(input.csVmId, { signal });
          if (!vm || CS_GONE.has(vm.state)) return { state: 'Gone' };
          ctx.heartbeat({ csVmId: vm.id, state: vm.state });
          if (vm.state === 'Stopped') return { state: vm.state };
          if (vm.state === 'Running' || vm.state === 'Error') {
            await waitJob(cs, (await cs.stopVirtualMachine(vm.id, input.forced ? { forced: true } : {}, { signal })).jobid, { csVmId: vm.id }, signal);
          }
          return undefined;
        });
      });
    },

    // ---- failback ----------------------------------------------------------------------------

    /**
     * A template of the stopped VM's ROOT volume under a deterministic name. One of that name
     * already made (or being made) is waited for and returned; a failed one is removed first. The
     * VM must be Stopped (non-retryable VmNotStopped otherwise). `extractable` is false when the
     * VM's own template was not registered extractable: csExtractTemplateUrl would then refuse.
     */
    async csTemplateFromVm(input: CsTemplateFromVmInput): Promise<{ templateId: string; created: boolean; extractable: boolean; physicalSize?: number }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const removeTemplate = async (t: CsTemplate, why: string) => {
          log.info({ templateId: t.id, status: t.status, why }, 'removing template before making it again');
          await waitJob(cs, (await cs.deleteTemplate(t.id, {}, { signal })).jobid, { templateId: t.id }, signal).catch((err: unknown) => {
            if (!(err instanceof CloudStackJobError)) throw err;
          });
        };
        const awaitReady = (templateId: string) =>
          pollUntil(`template ${templateId} to be created`, pollMs, async () => {
            const [t] = await ownTemplates(cs, { id: templateId }, signal);
            if (!t) throw ApplicationFailure.retryable(`template ${templateId} vanished while it was being created`, 'TemplateCreateFailed');
            ctx.heartbeat({ templateId, status: t.status, isready: t.isready });
            if (templateStatusFailed(t.status)) throw ApplicationFailure.retryable(`template ${t.name} (${t.id}) failed: ${t.status}`, 'TemplateCreateFailed');
            return t.isready ? t : undefined;
          });
        const result = (t: CsTemplate, created: boolean) => {
          const physical = Number(t.physicalsize);
          return { templateId: t.id, created, extractable: !!t.isextractable, ...(Number.isFinite(physical) && physical > 0 ? { physicalSize: physical } : {}) };
        };

        let keep: CsTemplate | undefined;
        for (const t of byAge(await ownTemplates(cs, { name: input.templateName }, signal), (x) => x.created)) {
          if (!keep && !templateStatusFailed(t.status)) keep = t;
          else await removeTemplate(t, templateStatusFailed(t.status) ? 'failed' : 'duplicate');
        }
        if (keep) return result(keep.isready ? keep : await awaitReady(keep.id), false);

        const vm = await cs.getVirtualMachine(input.csVmId, { signal });
        if (!vm || CS_GONE.has(vm.state)) throw ApplicationFailure.nonRetryable(`CloudStack VM ${input.csVmId} not found`, 'VmNotFound');
        if (vm.state !== 'Stopped') throw ApplicationFailure.nonRetryable(`CloudStack VM ${vm.name} (${vm.id}) is ${vm.state}; a template needs it Stopped`, 'VmNotStopped', { state: vm.state });
        const [root] = await cs.listVolumes({ virtualmachineid: vm.id, type: 'ROOT' }, { signal });
        if (!root) throw ApplicationFailure.nonRetryable(`CloudStack VM ${vm.id} has no ROOT volume`, 'VmNotFound');
        let ostypeid = [vm.ostypeid, vm.guestosid].find((x): x is string => typeof x === 'string' && x !== '');
        if (!ostypeid) {
          const types = await cs.listOsTypes({}, { signal });
          const wanted = input.osTypeName ?? DEFAULT_CS_OS_TYPE;
          ostypeid = (types.find((o) => o.description === wanted) ?? types[0])?.id;
          if (!ostypeid) throw ApplicationFailure.nonRetryable('CloudStack lists no OS types', 'Misconfigured');
        }
        const ref = await cs.createTemplate({ name: input.templateName, displaytext: input.templateName, ostypeid, volumeid: root.id }, { signal });
        try {
          await waitJob(cs, ref.jobid, { templateName: input.templateName }, signal);
        } catch (err) {
          if (err instanceof CloudStackJobError) throw ApplicationFailure.retryable(`createTemplate of ${vm.name}'s ROOT volume failed: ${err.jobErrorText}`, 'TemplateCreateFailed');
          throw err;
        }
        // Racing attempts keep the oldest; a loser removes its own.
        const mine = ref.id;
        const all = byAge((await ownTemplates(cs, { name: input.templateName }, signal)).filter((t) => !templateStatusFailed(t.status)), (t) => t.created);
        const winner = all[0];
        if (winner && mine && winner.id !== mine) {
          const own = all.find((t) => t.id === mine);
          if (own) await removeTemplate(own, 'duplicate from a racing attempt');
          return result(winner.isready ? winner : await awaitReady(winner.id), false);
        }
        const made = all.find((t) => t.id === mine) ?? winner;
        if (!made) throw ApplicationFailure.retryable(`template ${input.templateName} vanished after createTemplate`, 'TemplateCreateFailed');
        log.info({ templateId: made.id, csVmId: vm.id, volumeId: root.id }, 'template made from the VM root volume');
        return result(made.isready ? made : await awaitReady(made.id), true);
      });
    },

    /**
     * A fresh HTTP_DOWNLOAD URL of the template (extractTemplate). The URL expires (CloudStack's
     * extract.url.expiration.interval), so it is extracted anew on every call — it is cheap.
     */
    async csExtractTemplateUrl(input: { accountId: string; templateId: string }): Promise<{ url: string; expiresAt?: string; physicalSize?: number }> {
      return translateCloudErrors(async () => {
        const signal = Context.current().cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const [t] = await ownTemplates(cs, { id: input.templateId }, signal);
        if (!t) throw ApplicationFailure.nonRetryable(`CloudStack template ${input.templateId} not found`, 'TemplateMissing');
        if (!t.isextractable) throw ApplicationFailure.nonRetryable(`CloudStack template ${t.name} (${t.id}) is not extractable`, 'NotExtractable');
        if (!t.isready) throw ApplicationFailure.retryable(`CloudStack template ${t.name} (${t.id}) is not ready (${t.status ?? 'no status'})`, 'TemplateNotReady');
        const { jobid } = await cs.extractTemplate({ id: t.id, mode: 'HTTP_DOWNLOAD' }, { signal });
        let res: ExtractJobResult;
        try {
          res = await waitJob<ExtractJobResult>(cs, jobid, { templateId: t.id }, signal);
        } catch (err) {
          if (err instanceof CloudStackJobError && /extractable/i.test(err.jobErrorText)) throw ApplicationFailure.nonRetryable(err.jobErrorText, 'NotExtractable');
          throw err;
        }
        const url = res?.template?.url;
        if (typeof url !== 'string' || !url) throw ApplicationFailure.retryable(`extractTemplate of ${t.id} answered no URL`, 'ExtractFailed');
        const physical = Number(t.physicalsize);
        return { url, ...(Number.isFinite(physical) && physical > 0 ? { physicalSize: physical } : {}) };
      });
    },

    /**
     * Streams a download URL into the image store (never buffered), heartbeating bytes. An object
     * already under the key is an earlier attempt's and is returned at once — unless its size
     * differs from `expectedSize`, then it is replaced. 403/404/410 from the URL is non-retryable
     * DownloadUrlGone: extract a new URL and call again.
     */
    async copyUrlToStore(input: CopyUrlToStoreInput): Promise<StoredImage> {
      const { client: store } = imageStore(deps);
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const existing = await store.meta(input.storeKey, signal).catch(rethrowInvalidKey);
        if (existing && (input.expectedSize === undefined || existing.size === input.expectedSize)) {
          return { key: existing.key, size: existing.size, sha256: existing.sha256, md5: existing.md5 };
        }
        const label = urlLabel(input.url);
        let res: Awaited<ReturnType<typeof request>>;
        try {
          // The URL came from the cloud's answer (a member's cloud may name any address): guarded.
          res = await request(input.url, { method: 'GET', signal, dispatcher: (deps.cloudAccounts?.outbound ?? envOutboundGuard()).dispatcher, headersTimeout: 60_000, bodyTimeout: 5 * 60_000 });
        } catch (err) {
          if (signal.aborted) throw err;
          const refused = outboundRefusal(err);
          if (refused) throw ApplicationFailure.nonRetryable(`download from ${label} refused: ${refused.reason}`, 'OutboundRefused');
          throw new CloudApiError({ kind: 'Network', method: 'GET', url: label, message: `download from ${label} failed: ${(err as { code?: string }).code ?? (err as Error).message}`, cause: err });
        }
        if (res.statusCode !== 200) {
          await res.body.dump().catch(() => undefined);
          if ([401, 403, 404, 410].includes(res.statusCode)) {
            throw ApplicationFailure.nonRetryable(`download URL ${label} answered ${res.statusCode}: it expired or was revoked; extract a new one`, 'DownloadUrlGone', { status: res.statusCode });
          }
          throw new CloudApiError({ kind: kindForHttpStatus(res.statusCode), method: 'GET', url: label, status: res.statusCode, expected: [200] });
        }
        const length = Number(res.headers['content-length']);
        const total = Number.isFinite(length) && length >= 0 ? length : input.expectedSize;
        if (input.expectedSize !== undefined && Number.isFinite(length) && length !== input.expectedSize) {
          res.body.destroy();
          throw ApplicationFailure.retryable(`download URL ${label} offers ${length} bytes, expected ${input.expectedSize}`, 'SizeMismatch');
        }
        const { beat, onProgress } = transferHeartbeat(ctx, total);
        beat(0);
        try {
          const stored = await store.upload(input.storeKey, res.body, {
            ...(total !== undefined ? { size: total } : {}),
            overwrite: existing !== undefined,
            signal,
            onProgress,
          });
          beat(stored.size);
          if (input.expectedSize !== undefined && stored.size !== input.expectedSize) {
            throw ApplicationFailure.retryable(`stored ${stored.size} bytes under ${input.storeKey}, expected ${input.expectedSize}`, 'SizeMismatch');
          }
          log.info({ key: stored.key, size: stored.size, source: label, outcome: stored.outcome }, 'download copied to the image store');
          return { key: stored.key, size: stored.size, sha256: stored.sha256, md5: stored.md5 };
        } catch (err) {
          throw rethrowInvalidKey(err);
        } finally {
          if (!res.body.destroyed) res.body.destroy();
        }
      });
    },

    /**
     * A Glance image of the stored bytes under a deterministic name: an active one of that name
     * (with the store's MD5) is returned; otherwise the image is created (or a queued one left by
     * a crashed attempt reused, an import in progress waited for) and imported by web-download
     * from a signed store URL — or, where Glance lacks web-download, uploaded by PUT …/file. A
     * failed import is deleted and reported as retryable ImportFailed; the retry creates anew.
     */
    async glanceImportFromStore(input: GlanceImportInput): Promise<{ imageId: string; size: number; checksum: string; created: boolean }> {
      const store = imageStore(deps);
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const meta = await store.client.meta(input.storeKey, signal).catch(rethrowInvalidKey);
        if (!meta) throw ApplicationFailure.nonRetryable(`the image store has no image ${input.storeKey}`, 'StoreImageMissing');
        const deleteImage = async (img: Image, why: string) => {
          log.info({ imageId: img.id, status: img.status, why }, 'deleting image');
          await os.image.deleteImage(img.id, { ignoreNotFound: true, signal });
        };
        const stale = (img: Image) =>
          img.status === 'killed' || img.status === 'deactivated' || (img.status === 'queued' && failedImport(img)) || (img.status === 'active' && img.checksum !== meta.md5);

        /** Glance without web-download: the worker streams the store's bytes into PUT …/file. */
        const uploadFromStore = async (id: string, ttlSeconds: number): Promise<void> => {
          const url = signDownloadUrl(store.publicBaseUrl, input.storeKey, ttlSeconds, store.signingSecret).url;
          const res = await request(url, { method: 'GET', signal, headersTimeout: 60_000, bodyTimeout: 5 * 60_000 });
          if (res.statusCode !== 200) {
            await res.body.dump().catch(() => undefined);
            throw new CloudApiError({ kind: kindForHttpStatus(res.statusCode), method: 'GET', url: redactUrl(url), status: res.statusCode, expected: [200] });
          }
          let bytes = 0;
          const { onProgress } = transferHeartbeat(ctx, meta.size, { imageId: id });
          const counter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              bytes += chunk.length;
              onProgress(bytes);
              cb(null, chunk);
            },
          });
          pipeline(res.body, counter, () => undefined);
          log.info({ imageId: id, key: input.storeKey }, 'Glance has no web-download: uploading the image data');
          try {
            await os.image.uploadImageData(id, counter, { size: meta.size, signal });
          } catch (err) {
            if (signal.aborted) throw err;
            const now = await os.image.getImage(id, { signal }).catch(() => undefined);
            if (now) await deleteImage(now, 'failed upload');
            throw ApplicationFailure.retryable(`upload of ${input.storeKey} into image ${id} failed: ${(err as Error).message}`, 'ImportFailed');
          } finally {
            if (!res.body.destroyed) res.body.destroy();
          }
        };

        let image: Image | undefined;
        for (const img of byAge(await imagesNamed(os, input.imageName, GONE_IMAGE, signal), (i) => i.created_at)) {
          if (stale(img)) await deleteImage(img, img.status === 'active' ? `checksum ${img.checksum} is not the store's ${meta.md5}` : `left ${img.status} by an earlier attempt`);
          else if (!image) image = img;
          else await deleteImage(img, 'duplicate from a racing attempt');
        }
        const done = (img: Image, created: boolean) => ({ imageId: img.id, size: Number(img.size ?? meta.size), checksum: String(img.checksum), created });
        if (image?.status === 'active') return done(image, false);

        let created = false;
        if (!image) {
          const made = await os.image.createImage({
            name: input.imageName,
            disk_format: input.diskFormat ?? 'qcow2',
            container_format: 'bare',
            visibility: 'private',
            properties: { ...input.properties, vmflow_store_key: input.storeKey },
            signal,
          });
          const winner = oldest((await imagesNamed(os, input.imageName, GONE_IMAGE, signal)).filter((i) => !stale(i)), (i) => i.created_at);
          if (winner && winner.id !== made.id) {
            await deleteImage(made, 'duplicate from a racing attempt');
            image = winner;
          } else {
            image = made;
            created = true;
          }
        }

        const imageId = image.id;
        if (image.status === 'queued') {
          if (await webDownloadAvailable(os, signal)) {
            const url = signDownloadUrl(store.publicBaseUrl, input.storeKey, input.ttlSeconds, store.signingSecret).url;
            try {
              await os.image.importImage(imageId, { uri: url, signal });
              log.info({ imageId, key: input.storeKey }, 'Glance web-download import started');
            } catch (err) {
              if (kindOf(err) !== 'Conflict') throw err; // 409: another attempt's import runs: wait for it
            }
          } else {
            await uploadFromStore(imageId, input.ttlSeconds);
          }
        }

        return pollUntil(`image ${imageId} to become active`, pollMs, async () => {
          let img: Image;
          try {
            img = await os.image.getImage(imageId, { signal });
          } catch (err) {
            if (kindOf(err) === 'NotFound') throw ApplicationFailure.retryable(`image ${imageId} vanished during its import`, 'ImportFailed');
            throw err;
          }
          ctx.heartbeat({ imageId, status: img.status });
          if (img.status === 'active') {
            if (img.checksum !== meta.md5) {
              await deleteImage(img, 'checksum mismatch after import');
              throw ApplicationFailure.retryable(`image ${imageId} has checksum ${img.checksum}, the store holds ${meta.md5}`, 'ChecksumMismatch');
            }
            log.info({ imageId, size: img.size, checksum: img.checksum }, 'image imported from the store');
            return done(img, created);
          }
          if (img.status === 'killed' || (img.status === 'queued' && failedImport(img))) {
            const why = (await lastImportError(os, imageId, signal)) ?? `image ended ${img.status}`;
            await deleteImage(img, 'failed import');
            throw ApplicationFailure.retryable(`import of ${input.storeKey} into image ${imageId} failed: ${why}`, 'ImportFailed');
          }
          return undefined;
        });

      });
    },

    // ---- drills ----------------------------------------------------------------------------

    /**
     * An isolated copy for a drill: a server from the image under a deterministic name, no
     * floating IP, metadata vmflow_drill=true; waits for ACTIVE. bootSeconds runs from the create
     * call (or, for a server an earlier attempt made, from its creation time) to ACTIVE.
     * ERROR → non-retryable DrillBootFailed (remove it with osDeleteServer).
     */
    async osBootIsolated(input: OsBootIsolatedInput): Promise<{ serverId: string; bootSeconds: number; created: boolean }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        let server: Server | undefined;
        for (const s of byAge(await liveServersNamed(os, input.name, signal), (x) => x.created)) {
          if (!server && serverImageId(s) === input.imageId) server = s;
          else {
            log.info({ name: input.name, serverId: s.id }, 'removing a drill server of the same name');
            await os.compute.deleteServer(s.id, { ignoreNotFound: true, signal });
          }
        }
        let startedAt = server?.created ? Date.parse(server.created) : Date.now();
        let created = false;
        if (!server) {
          const { flavor, network } = await flavorAndNetwork(os, input.flavorName, input.networkName, signal);
          startedAt = Date.now();
          const spec = { name: input.name, imageId: input.imageId, flavorId: flavor.id, networkId: network.id, metadata: { ...input.metadata, vmflow_drill: 'true', vmflow_image_id: input.imageId } };
          ({ server, created } = await createServerOnce(os, log, spec, 'drill server', signal));
        }
        const serverId = server.id;
        return pollUntil(`drill server ${input.name} to be ACTIVE`, pollMs, async () => {
          const s = await getServerOrGone(os, serverId, signal);
          if (!s) throw ApplicationFailure.retryable(`drill server ${serverId} vanished while booting`, 'DrillBootFailed');
          const task = s['OS-EXT-STS:task_state'] ?? null;
          ctx.heartbeat({ serverId, status: s.status, task });
          if (s.status === 'ERROR') throw ApplicationFailure.nonRetryable(`drill server ${input.name} (${serverId}) went to ERROR: ${s.fault?.message ?? 'no fault reported'}`, 'DrillBootFailed', { serverId });
          if (s.status === 'ACTIVE' && !task) return { serverId, bootSeconds: seconds(Date.now() - startedAt), created };
          if (s.status === 'SHUTOFF' && !task) await os.compute.startServer(serverId, { signal }).catch((err: unknown) => {
            if (kindOf(err) !== 'Conflict') throw err;
          });
          return undefined;
        });
      });
    },

    /**
     * An isolated CloudStack instance for a drill (deployVirtualMachine startvm=true) under a
     * deterministic name; waits for Running. Error → non-retryable DrillBootFailed (remove it with
     * csDestroyStandby).
     */
    async csBootIsolated(input: CsBootIsolatedInput): Promise<{ csVmId: string; bootSeconds: number; created: boolean }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        let vm: CsVirtualMachine | undefined = oldest(await csVmsNamed(cs, input.name, signal), (v) => v.created);
        let startedAt = vm?.created ? Date.parse(vm.created) : Date.now();
        let created = false;
        if (!vm) {
          const zone = await resolveZone(deps, cs, input.accountId, input.zoneName, signal);
          const offering = await serviceOfferingNamed(cs, input.serviceOfferingName, signal);
          startedAt = Date.now();
          try {
            const ref = await cs.deployVirtualMachine(
              { serviceofferingid: offering.id, templateid: input.templateId, zoneid: zone.id, name: input.name, displayname: input.name, startvm: true, ...(input.networkId ? { networkids: [input.networkId] } : {}) },
              { signal },
            );
            if (!ref.id) throw ApplicationFailure.retryable(`deployVirtualMachine answered without an id (job ${ref.jobid})`, 'DrillBootFailed');
            try {
              await waitJob(cs, ref.jobid, { name: input.name }, signal);
            } catch (err) {
              if (err instanceof CloudStackJobError) throw ApplicationFailure.nonRetryable(`deploying drill instance ${input.name} failed: ${err.jobErrorText}`, 'DrillBootFailed', { csVmId: ref.id });
              throw err;
            }
            vm = await cs.getVirtualMachine(ref.id, { signal });
            if (!vm) throw ApplicationFailure.retryable(`CloudStack instance ${ref.id} vanished after deploy`, 'DrillBootFailed');
            created = true;
          } catch (err) {
            // A racing attempt holds the name: its instance is ours as well.
            if (!(err instanceof CloudApiError && err.kind === 'BadRequest' && /already exists/i.test(err.message))) throw err;
            vm = (await csVmsNamed(cs, input.name, signal))[0];
            if (!vm) throw ApplicationFailure.retryable(`the name ${input.name} is still held by an expunging instance`, 'DrillBootFailed');
          }
        }
        const running = await startCsVm(cs, vm.id, 'DrillBootFailed', signal);
        return { csVmId: running.id, bootSeconds: seconds(Date.now() - startedAt), created };
      });
    },
  };
}

export type DrActivities = ReturnType<typeof createDrActivities>;
