/**
 * Backup activities (UC-008): snapshot an OpenStack server, export the Glance image into the image
 * store, register it as a CloudStack template, and keep a stopped standby on either cloud built
 * from it; plus the retention deletes.
 *
 * Every activity is idempotent by a deterministic name chosen by the workflow: before making
 * anything it looks for what an earlier attempt (or a second worker after a kill) already made,
 * and after making something it looks again, so that two racing attempts settle on the oldest
 * object and the loser removes its own copy. Waits heartbeat a readable status, poll at
 * `deps.timing.pollIntervalMs`, stop when the activity is cancelled and never outlive the
 * activity's start-to-close timeout.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CloudApiError } from '../src/clouds/errors';
import type { AsyncJobRef, CloudStackClient, CsVirtualMachine } from '../src/clouds/cloudstack/client';
import type { Image, OpenStackClient, Server } from '../src/clouds/openstack';
import { signDownloadUrl } from '../src/imagestore';
import type { ActivityDeps } from './deps';
import { translateCloudErrors } from './cloud-failures';
import { assertNotLiveCopy, liveCopiesAmong } from './owner';
import { backupModel } from '../src/backups/model';
import { cloudResourceName } from '../src/contracts/vm';
import { CS_GONE, DEFAULT_CS_OS_TYPE, beingDeleted, byAge, cloudAccounts, createServerOnce, csVmsNamed, flavorAndNetwork, getServerOrGone, imageStore, imagesNamed, liveServersNamed, kindOf, oldest, ownTemplates, pollUntil, resolveZone, rethrowInvalidKey, serverImageId, serviceOfferingNamed, templateStatusFailed, transferHeartbeat } from './cloud-helpers';

// ---- contract ------------------------------------------------------------------------------

export interface OsSnapshotServerInput {
  accountId: string;
  serverId: string;
  /** Deterministic, e.g. `vmflow-<vmId>-backup-<backupId>`: the idempotency key of the snapshot. */
  imageName: string;
  /** Image properties set by Nova on the snapshot (vmflow_vm_id, vmflow_backup_id, …). */
  metadata?: Record<string, string>;
}

export interface BackupImageInfo {
  size: number;
  /** MD5 hex of the data, as Glance reports it. */
  checksum: string;
  osHashAlgo: string | null;
  osHashValue: string | null;
  diskFormat: string | null;
  containerFormat: string | null;
}

export interface ExportImageInput {
  accountId: string;
  imageId: string;
  /** Image-store key, e.g. `vm-<vmId>/backup-<backupId>.qcow2`. */
  storeKey: string;
  /** MD5 the workflow already knows (osAwaitImage's checksum); Glance's checksum otherwise. */
  expectedMd5?: string;
}

export interface StoredImage {
  key: string;
  size: number;
  sha256: string;
  md5: string;
}

export interface CsRegisterTemplateInput {
  accountId: string;
  /** Deterministic template name: the idempotency key of the registration. */
  templateName: string;
  storeKey: string;
  /** Lifetime of the signed download URL CloudStack fetches from. */
  ttlSeconds: number;
  /** listOsTypes description; default "Other Linux (64-bit)" (or the first OS type). */
  osTypeName?: string;
  /** `{ALGO}hex` or bare MD5 hex; default the store's MD5 of the image. */
  checksum?: string;
  /** Zone name; default the account's zone, the worker's configured zone, or the only zone. */
  zoneName?: string;
}

export interface OsEnsureStandbyInput {
  accountId: string;
  /** Deterministic standby server name. */
  name: string;
  imageId: string;
  flavorName: string;
  networkName: string;
}

export interface CsEnsureStandbyInput {
  accountId: string;
  name: string;
  templateId: string;
  serviceOfferingName: string;
  zoneName?: string;
}

// Defined in cloud-helpers.ts since dr.ts shares them; still exported here for existing importers.
export { DEFAULT_CS_OS_TYPE, mib, progressText, templateStatusFailed } from './cloud-helpers';

// ---- helpers -------------------------------------------------------------------------------

const UNUSABLE_IMAGE: ReadonlySet<string> = new Set(['killed', 'deleted', 'pending_delete']);
/** Images already on their way out: nothing to delete. */
const DELETED_IMAGE: ReadonlySet<string> = new Set(['deleted', 'pending_delete']);

async function serversNamed(os: OpenStackClient, name: string, signal: AbortSignal): Promise<Server[]> {
  return (await os.compute.listServers({ name, signal })).filter((s) => s.name === name && s.status !== 'DELETED');
}

// ---- activities ----------------------------------------------------------------------------

export function createBackupActivities(deps: ActivityDeps) {
  const pollMs = deps.timing?.pollIntervalMs ?? 2000;
  const log = deps.logger.child({ component: 'backup-activities' });

  /** Deletes a server (already gone is fine) and waits until Nova no longer shows it. */
  async function deleteServerAndWait(os: OpenStackClient, serverId: string, signal: AbortSignal): Promise<boolean> {
    const ctx = Context.current();
    const existed = await os.compute.deleteServer(serverId, { ignoreNotFound: true, signal });
    await pollUntil(`server ${serverId} to be deleted`, pollMs, async () => {
      const s = await getServerOrGone(os, serverId, signal);
      ctx.heartbeat({ serverId, status: s ? `${s.status} (${s['OS-EXT-STS:task_state'] ?? 'no task'})` : 'gone' });
      return s && s.status !== 'DELETED' ? undefined : true;
    });
    return existed;
  }

  /** Destroys (with expunge) a CloudStack VM and waits until it can no longer be listed. */
  async function destroyCsVmAndWait(cs: CloudStackClient, vmId: string, signal: AbortSignal): Promise<boolean> {
    const ctx = Context.current();
    const vm = await cs.getVirtualMachine(vmId, { signal });
    if (!vm) return false;
    if (!CS_GONE.has(vm.state)) {
      try {
        const { jobid } = await cs.destroyVirtualMachine(vm.id, { expunge: true }, { signal });
        await cs.waitForJob(jobid, { signal, pollIntervalMs: pollMs, onProgress: (j) => ctx.heartbeat({ csVmId: vmId, job: j.cmd, jobstatus: j.jobstatus }) });
      } catch (err) {
        // Destroyed by another run between the look-up and the destroy (CloudStack then answers 431).
        const now = await cs.getVirtualMachine(vmId, { signal });
        if (now && !CS_GONE.has(now.state)) throw err;
      }
    }
    await pollUntil(`CloudStack VM ${vmId} to be expunged`, pollMs, async () => {
      const now = await cs.getVirtualMachine(vmId, { signal });
      ctx.heartbeat({ csVmId: vmId, state: now?.state ?? 'gone' });
      return now && !CS_GONE.has(now.state) ? undefined : true;
    });
    return true;
  }

  /** Deletes a template and waits for the job; one another run deleted first counts as deleted. */
  async function deleteTemplateAndWait(cs: CloudStackClient, templateId: string, forced: boolean, signal: AbortSignal): Promise<void> {
    const ctx = Context.current();
    try {
      const { jobid } = await cs.deleteTemplate(templateId, forced ? { forced: true } : {}, { signal });
      await cs.waitForJob(jobid, { signal, pollIntervalMs: pollMs, onProgress: (j) => ctx.heartbeat({ templateId, jobstatus: j.jobstatus }) });
    } catch (err) {
      // Gone between the look-up and the delete (CloudStack answers 431 for an id that no longer
      // exists): a cancelled backup's clean-up and a sweep may race for the same template.
      if ((await ownTemplates(cs, { id: templateId }, signal)).length === 0) return;
      throw err;
    }
  }

  return {
    /**
     * Nova snapshot of a server under a deterministic name. Nova makes a new image per call, so an
     * image of that name owned by the project is looked for first. Returns at once; osAwaitImage
     * waits for the upload.
     */
    async osSnapshotServer(input: OsSnapshotServerInput): Promise<{ imageId: string; created: boolean }> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const existing = oldest(await imagesNamed(os, input.imageName, UNUSABLE_IMAGE, signal), (i) => i.created_at);
        if (existing) return { imageId: existing.id, created: false };
        let image_id: string;
        try {
          ({ image_id } = await os.compute.createImage(input.serverId, { name: input.imageName, metadata: input.metadata, signal }));
        } catch (err) {
          // Nova answers 409 to a server in a task (retried: it clears) and to one in ERROR, which
          // only a repair clears: a backup retrying that would hold the VM's lease for its whole
          // 30-minute budget, which is DR's job to repair (soak seed 5).
          if (err instanceof CloudApiError && err.kind === 'Conflict' && (await os.compute.getServer(input.serverId, { signal })).status === 'ERROR') {
            throw ApplicationFailure.nonRetryable(`server ${input.serverId} is in ERROR: a broken server cannot be snapshotted`, 'ServerBroken');
          }
          throw err;
        }
        // Another attempt may have raced us: everyone keeps the oldest; a loser removes its own.
        const winner = oldest(await imagesNamed(os, input.imageName, UNUSABLE_IMAGE, signal), (i) => i.created_at);
        if (winner && winner.id !== image_id) {
          log.warn({ imageName: input.imageName, kept: winner.id, removed: image_id }, 'duplicate snapshot from a racing attempt removed');
          await os.image.deleteImage(image_id, { ignoreNotFound: true, signal }).catch((err: unknown) => log.warn({ err, imageId: image_id }, 'could not remove duplicate snapshot'));
          return { imageId: winner.id, created: false };
        }
        return { imageId: image_id, created: true };
      });
    },

    /** Polls the image until it is active; killed, deleted or vanished is final (ImageFailed). */
    async osAwaitImage(input: { accountId: string; imageId: string }): Promise<BackupImageInfo> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const ctx = Context.current();
        return pollUntil(`image ${input.imageId} to become active`, pollMs, async () => {
          let img: Image;
          try {
            img = await os.image.getImage(input.imageId, { signal: ctx.cancellationSignal });
          } catch (err) {
            if (kindOf(err) === 'NotFound') throw ApplicationFailure.nonRetryable(`image ${input.imageId} is gone (the snapshot did not finish)`, 'ImageFailed');
            throw err;
          }
          ctx.heartbeat({ imageId: img.id, status: img.status });
          if (UNUSABLE_IMAGE.has(img.status)) throw ApplicationFailure.nonRetryable(`image ${img.id} (${img.name ?? 'unnamed'}) is ${img.status}`, 'ImageFailed');
          if (img.status !== 'active') return undefined;
          if (typeof img.size !== 'number' || !img.checksum) throw ApplicationFailure.nonRetryable(`image ${img.id} is active without data`, 'ImageFailed');
          return {
            size: img.size,
            checksum: img.checksum,
            osHashAlgo: img.os_hash_algo ?? null,
            osHashValue: img.os_hash_value ?? null,
            diskFormat: img.disk_format ?? null,
            containerFormat: img.container_format ?? null,
          };
        });
      });
    },

    /**
     * Streams Glance's image data into the image store (never buffered): the store verifies the
     * MD5 Glance reported and keeps nothing on a mismatch, which is retryable — a new download may
     * be whole. An object already stored under the key with that MD5 is the result of an earlier
     * attempt and is returned at once. Heartbeats `{bytes, total, progress}` every 8 MiB.
     */
    async exportImageToStore(input: ExportImageInput): Promise<StoredImage> {
      const { client: store } = imageStore(deps);
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const img = await os.image.getImage(input.imageId, { signal }).catch((err: unknown) => {
          if (kindOf(err) === 'NotFound') throw ApplicationFailure.nonRetryable(`image ${input.imageId} not found`, 'ImageFailed');
          throw err;
        });
        if (UNUSABLE_IMAGE.has(img.status)) throw ApplicationFailure.nonRetryable(`image ${img.id} is ${img.status}`, 'ImageFailed');
        if (img.status !== 'active') throw ApplicationFailure.retryable(`image ${img.id} is ${img.status}, not active yet`, 'ImageNotReady');
        const glanceMd5 = img.checksum?.toLowerCase();
        const expected = input.expectedMd5?.toLowerCase() ?? glanceMd5;
        if (!expected) throw ApplicationFailure.nonRetryable(`image ${img.id} has no checksum to verify the export against`, 'ImageFailed');
        if (glanceMd5 && glanceMd5 !== expected) {
          throw ApplicationFailure.nonRetryable(`image ${img.id} has checksum ${glanceMd5}, the backup expected ${expected}`, 'ChecksumMismatch');
        }

        const existing = await store.meta(input.storeKey, signal).catch(rethrowInvalidKey);
        if (existing && existing.md5 === expected) return { key: existing.key, size: existing.size, sha256: existing.sha256, md5: existing.md5 };

        const download = await os.image.downloadImageData(img.id, { signal });
        if (!download.hasData) throw ApplicationFailure.retryable(`image ${img.id} has no data yet`, 'ImageNotReady');
        if (download.contentMd5 && download.contentMd5.toLowerCase() !== expected) {
          download.stream.destroy();
          throw ApplicationFailure.retryable(`Glance sent Content-MD5 ${download.contentMd5} for image ${img.id}, expected ${expected}`, 'ChecksumMismatch');
        }
        const total = download.size ?? img.size ?? undefined;
        const { beat, onProgress } = transferHeartbeat(ctx, total);
        beat(0);
        try {
          const stored = await store.upload(input.storeKey, download.stream, {
            expectedMd5: expected,
            size: total,
            // A different object under our deterministic key is a leftover, not someone's data.
            overwrite: existing !== undefined,
            signal,
            onProgress,
          });
          beat(stored.size);
          if (stored.md5 !== expected) {
            throw ApplicationFailure.retryable(`image store holds md5 ${stored.md5} for ${input.storeKey}, expected ${expected}`, 'ChecksumMismatch');
          }
          log.info({ imageId: img.id, key: stored.key, size: stored.size, outcome: stored.outcome }, 'image exported to the store');
          return { key: stored.key, size: stored.size, sha256: stored.sha256, md5: stored.md5 };
        } catch (err) {
          if (err instanceof CloudApiError && err.status === 422) {
            // The store refused bytes whose MD5 differs from Glance's: the transfer was damaged.
            throw ApplicationFailure.retryable(`export of image ${img.id} arrived damaged (${err.message})`, 'ChecksumMismatch');
          }
          throw rethrowInvalidKey(err);
        } finally {
          if (!download.stream.destroyed) download.stream.destroy();
        }
      });
    },

    /**
     * Registers a stored image as a CloudStack template (QCOW2, KVM, extractable) from a signed
     * store URL. A template of that name of ours is reused; one whose download failed is deleted
     * and registered again.
     */
    async csRegisterTemplateFromStore(input: CsRegisterTemplateInput): Promise<{ templateId: string; created: boolean }> {
      const store = imageStore(deps);
      return translateCloudErrors(async () => {
        const signal = Context.current().cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const mine = await ownTemplates(cs, { name: input.templateName }, signal);
        const usable = mine.filter((t) => !templateStatusFailed(t.status));
        const existing = oldest(usable, (t) => t.created);
        if (existing) return { templateId: existing.id, created: false };
        for (const failed of mine) {
          log.info({ templateId: failed.id, status: failed.status }, 'removing a template whose download failed before registering again');
          const { jobid } = await cs.deleteTemplate(failed.id, {}, { signal });
          await cs.waitForJob(jobid, { signal, pollIntervalMs: pollMs });
        }

        const meta = await store.client.meta(input.storeKey, signal).catch(rethrowInvalidKey);
        if (!meta) throw ApplicationFailure.nonRetryable(`the image store has no image ${input.storeKey}`, 'StoreImageMissing');
        const url = signDownloadUrl(store.publicBaseUrl, input.storeKey, input.ttlSeconds, store.signingSecret).url;
        const zone = await resolveZone(deps, cs, input.accountId, input.zoneName, signal);
        const osTypes = await cs.listOsTypes({}, { signal });
        const wanted = input.osTypeName ?? DEFAULT_CS_OS_TYPE;
        const osType = osTypes.find((o) => o.description === wanted) ?? (input.osTypeName ? undefined : osTypes[0]);
        if (!osType) throw ApplicationFailure.nonRetryable(`CloudStack has no OS type "${wanted}"`, 'Misconfigured');

        const registered = await cs.registerTemplate(
          {
            name: input.templateName,
            displaytext: input.templateName,
            format: 'QCOW2',
            hypervisor: 'KVM',
            url,
            ostypeid: osType.id,
            zoneid: zone.id,
            isextractable: true,
            checksum: input.checksum ?? meta.md5,
          },
          { signal },
        );
        const winner = oldest(
          (await ownTemplates(cs, { name: input.templateName }, signal)).filter((t) => !templateStatusFailed(t.status)),
          (t) => t.created,
        );
        if (winner && winner.id !== registered.id) {
          log.warn({ templateName: input.templateName, kept: winner.id, removed: registered.id }, 'duplicate template from a racing attempt removed');
          await cs.deleteTemplate(registered.id, {}, { signal }).catch((err: unknown) => log.warn({ err, templateId: registered.id }, 'could not remove duplicate template'));
          return { templateId: winner.id, created: false };
        }
        return { templateId: registered.id, created: true };
      });
    },

    /**
     * Waits for the template download: "Download Complete" with isready. A status reporting an
     * error is final (TemplateDownloadFailed with CloudStack's text); the next backup run retries.
     */
    async csAwaitTemplate(input: { accountId: string; templateId: string }): Promise<{ size: number; status: string }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        return pollUntil(`template ${input.templateId} to download`, pollMs, async () => {
          const [t] = await ownTemplates(cs, { id: input.templateId }, ctx.cancellationSignal);
          if (!t) throw ApplicationFailure.nonRetryable(`CloudStack template ${input.templateId} is gone`, 'TemplateDownloadFailed');
          const status = t.status ?? '';
          ctx.heartbeat({ templateId: t.id, status, isready: t.isready });
          if (t.isready && /download complete|^downloaded$/i.test(status)) return { size: Number(t.size ?? t.physicalsize ?? 0), status };
          if (templateStatusFailed(status)) {
            throw ApplicationFailure.nonRetryable(`CloudStack template ${t.name} (${t.id}) failed: ${status}`, 'TemplateDownloadFailed', { templateId: t.id, status });
          }
          return undefined;
        });
      });
    },

    /**
     * A stopped OpenStack server built from the backup image, under a deterministic name. One of
     * that name built from another image is replaced (deleted, waited for, created anew); one in
     * ERROR is replaced too, and any further server of that name is removed, so one remains.
     * Waits through BUILD → ACTIVE → os-stop → SHUTOFF.
     */
    async osEnsureStandby(input: OsEnsureStandbyInput): Promise<{ serverId: string; created: boolean; replaced: boolean }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        let replaced = false;
        let server: Server | undefined;
        const named = byAge(await serversNamed(os, input.name, signal), (x) => x.created);
        // A promoted standby is renamed, but a server of this name that runs the VM is never replaced.
        const live = await liveCopiesAmong(deps, 'openstack', named.map((s) => s.id));
        if (live.size) throw ApplicationFailure.nonRetryable(`the live copy of the VM (${[...live].join(', ')}) has the standby name ${input.name}; refusing to replace it`, 'LiveCopyProtected');
        for (const s of named) {
          const keep = !beingDeleted(s) && serverImageId(s) === input.imageId && s.status !== 'ERROR' && !server;
          if (keep) {
            server = s;
            continue;
          }
          log.info({ name: input.name, serverId: s.id, imageId: serverImageId(s), status: s.status }, 'replacing standby server');
          await deleteServerAndWait(os, s.id, signal);
          replaced = true;
        }
        let created = false;
        if (!server) {
          const { flavor, network } = await flavorAndNetwork(os, input.flavorName, input.networkName, signal);
          const spec = { name: input.name, imageId: input.imageId, flavorId: flavor.id, networkId: network.id, metadata: { vmflow_role: 'standby', vmflow_image_id: input.imageId } };
          ({ server, created } = await createServerOnce(os, log, spec, 'standby', signal));
        }
        const serverId = server.id;
        await pollUntil(`standby ${input.name} to be stopped`, pollMs, async () => {
          const s = await os.compute.getServer(serverId, { signal });
          const task = s['OS-EXT-STS:task_state'] ?? null;
          ctx.heartbeat({ serverId, status: s.status, task });
          if (s.status === 'ERROR') {
            // Retryable: the next attempt finds it in ERROR and builds a new one.
            throw ApplicationFailure.retryable(`standby ${input.name} (${serverId}) went to ERROR: ${s.fault?.message ?? 'no fault reported'}`, 'StandbyFailed');
          }
          if (task) return undefined;
          if (s.status === 'SHUTOFF') return true;
          if (s.status === 'ACTIVE') {
            try {
              await os.compute.stopServer(serverId, { signal });
            } catch (err) {
              if (kindOf(err) !== 'Conflict') throw err; // a task started meanwhile: look again
            }
          }
          return undefined;
        });
        return { serverId, created, replaced };
      });
    },

    /**
     * A stopped CloudStack instance from the backup template (deployVirtualMachine startvm=false),
     * under a deterministic name. One built from another template (or in Error) is destroyed with
     * expunge and replaced; a Running one is stopped.
     */
    async csEnsureStandby(input: CsEnsureStandbyInput): Promise<{ csVmId: string; created: boolean; replaced: boolean }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const beat = (j: { cmd: string; jobstatus: number }) => ctx.heartbeat({ name: input.name, job: j.cmd, jobstatus: j.jobstatus });
        let replaced = false;
        let vm: CsVirtualMachine | undefined;
        const named = byAge(await csVmsNamed(cs, input.name, signal), (x) => x.created);
        // After a failover to CloudStack the promoted standby keeps this name and is the VM: never replaced.
        const live = await liveCopiesAmong(deps, 'cloudstack', named.map((v) => v.id));
        if (live.size) throw ApplicationFailure.nonRetryable(`the live copy of the VM (${[...live].join(', ')}) has the standby name ${input.name}; refusing to replace it`, 'LiveCopyProtected');
        for (const v of named) {
          if (!vm && v.templateid === input.templateId && v.state !== 'Error') {
            vm = v;
            continue;
          }
          log.info({ name: input.name, csVmId: v.id, templateId: v.templateid, state: v.state }, 'replacing standby instance');
          await destroyCsVmAndWait(cs, v.id, signal);
          replaced = true;
        }
        let created = false;
        if (!vm) {
          const zone = await resolveZone(deps, cs, input.accountId, input.zoneName, signal);
          const offering = await serviceOfferingNamed(cs, input.serviceOfferingName, signal);
          // An expunging instance keeps its host name for a moment; deploy refuses the name until
          // then. A racing attempt's instance holds it too: that one is then ours as well.
          type DeployOutcome = { deployed: AsyncJobRef } | { existing: CsVirtualMachine };
          const outcome = await pollUntil<DeployOutcome>(`the name ${input.name} to be free`, pollMs, async () => {
            try {
              const ref = await cs.deployVirtualMachine(
                { serviceofferingid: offering.id, templateid: input.templateId, zoneid: zone.id, name: input.name, displayname: input.name, startvm: false },
                { signal },
              );
              return { deployed: ref };
            } catch (err) {
              if (!(err instanceof CloudApiError && err.kind === 'BadRequest' && /already exists/i.test(err.message))) throw err;
              const other = (await csVmsNamed(cs, input.name, signal))[0];
              if (other) return { existing: other };
              ctx.heartbeat({ name: input.name, waiting: 'name still held by an expunging instance' });
              return undefined;
            }
          });
          if ('existing' in outcome) {
            if (outcome.existing.templateid !== input.templateId) throw ApplicationFailure.retryable(`another instance named ${input.name} appeared meanwhile`, 'StandbyConflict');
            vm = outcome.existing;
          } else {
            const ref = outcome.deployed;
            if (!ref.id) throw ApplicationFailure.retryable(`deployVirtualMachine answered without an id (job ${ref.jobid})`, 'StandbyFailed');
            await cs.waitForJob(ref.jobid, { signal, pollIntervalMs: pollMs, onProgress: beat });
            vm = await cs.getVirtualMachine(ref.id, { signal });
            if (!vm) throw ApplicationFailure.retryable(`CloudStack instance ${ref.id} vanished after deploy`, 'StandbyFailed');
            created = true;
          }
        }
        const csVmId = vm.id;
        await pollUntil(`standby ${input.name} to be stopped`, pollMs, async () => {
          const v = await cs.getVirtualMachine(csVmId, { signal });
          if (!v) throw ApplicationFailure.retryable(`CloudStack standby ${csVmId} vanished`, 'StandbyFailed');
          ctx.heartbeat({ csVmId, state: v.state });
          if (v.state === 'Error') throw ApplicationFailure.retryable(`CloudStack standby ${input.name} (${csVmId}) is in state Error`, 'StandbyFailed');
          if (v.state === 'Stopped') return true;
          if (v.state === 'Running') {
            const { jobid } = await cs.stopVirtualMachine(csVmId, {}, { signal });
            await cs.waitForJob(jobid, { signal, pollIntervalMs: pollMs, onProgress: beat });
          }
          return undefined;
        });
        return { csVmId, created, replaced };
      });
    },

    // ---- retention: every delete treats "already gone" as success --------------------------

    /**
     * By id, or by `name`: every image of that name in our project — what a step that failed
     * after Glance made its image (so its id never reached the workflow) leaves behind.
     */
    async osDeleteImage(input: { accountId: string; imageId?: string; name?: string }): Promise<{ existed: boolean }> {
      return translateCloudErrors(async () => {
        const signal = Context.current().cancellationSignal;
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const ids = input.imageId ? [input.imageId] : input.name ? (await imagesNamed(os, input.name, DELETED_IMAGE, signal)).map((i) => i.id) : [];
        let existed = false;
        for (const id of ids) existed = (await os.image.deleteImage(id, { ignoreNotFound: true, signal })) || existed;
        return { existed };
      });
    },

    /** By id, or by `name`: every template of that name of ours (see osDeleteImage). */
    async csDeleteTemplate(input: { accountId: string; templateId?: string; name?: string; forced?: boolean }): Promise<{ existed: boolean }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const found = input.templateId ? await ownTemplates(cs, { id: input.templateId }, signal) : input.name ? await ownTemplates(cs, { name: input.name }, signal) : [];
        for (const { id } of found) await deleteTemplateAndWait(cs, id, !!input.forced, signal);
        return { existed: found.length > 0 };
      });
    },

    /**
     * Finds what the VM's operations left in the clouds and the image store without a record —
     * by the names every vmflow resource carries (`vmflow-<vmId>…`, store keys `vms/<vmId>/…`) —
     * and removes it. `everything` (deleteVm, the VM is being deleted): every server, image,
     * CloudStack instance, template and store object of the VM. `unrecorded-backups` (retention,
     * under the VM's lease, so no other backup runs): backup images, templates and store objects
     * that no unretired backup record names, e.g. made by an attempt still running after its
     * backup gave way to a failover. Returns what was removed.
     */
    async sweepVmLeftovers(input: {
      vmId: string;
      mode: 'everything' | 'unrecorded-backups';
      openstackAccountIds: string[];
      cloudstackAccountIds: string[];
      /** Backups whose store copies stay (a deleted VM's final backup); their cloud copies go. */
      keepBackupIds?: string[];
    }): Promise<{ removed: string[] }> {
      return translateCloudErrors(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const prefix = input.mode === 'everything' ? `${cloudResourceName(input.vmId)}-` : `${cloudResourceName(input.vmId)}-backup-`;
        const removed: string[] = [];
        const kept = { images: new Set<string>(), templates: new Set<string>(), keys: new Set<string>() };
        if (input.mode === 'unrecorded-backups') {
          for (const b of await backupModel(deps.db).find({ vmId: input.vmId, retiredAt: { $exists: false } }).lean()) {
            if (b.image) kept.images.add(b.image.id);
            if (b.template) kept.templates.add(b.template.id);
            if (b.store) kept.keys.add(b.store.key);
          }
        }
        for (const accountId of new Set(input.openstackAccountIds)) {
          const os = await cloudAccounts(deps).openstack(accountId);
          if (input.mode === 'everything') {
            for (const srv of await os.compute.listServers({ signal })) {
              if (!srv.name.startsWith(prefix) || srv.status === 'DELETED') continue;
              await assertNotLiveCopy(deps, { cloud: 'openstack', accountId, serverId: srv.id }, 'sweep');
              await deleteServerAndWait(os, srv.id, signal);
              removed.push(`server ${srv.name}`);
            }
          }
          const projectId = (await os.session.token(signal)).project?.id;
          for (const img of await os.image.listImages({ ...(projectId ? { extra: { owner: projectId } } : {}), signal })) {
            if (!img.name?.startsWith(prefix) || kept.images.has(img.id) || img.status === 'deleted' || img.status === 'pending_delete') continue;
            await os.image.deleteImage(img.id, { ignoreNotFound: true, signal });
            removed.push(`image ${img.name}`);
          }
        }
        for (const accountId of new Set(input.cloudstackAccountIds)) {
          const cs = await cloudAccounts(deps).cloudstack(accountId);
          if (input.mode === 'everything') {
            for (const v of await cs.listVirtualMachines({}, { signal })) {
              if (!v.name.startsWith(prefix) || CS_GONE.has(v.state)) continue;
              await assertNotLiveCopy(deps, { cloud: 'cloudstack', accountId, serverId: v.id }, 'sweep');
              await destroyCsVmAndWait(cs, v.id, signal);
              removed.push(`instance ${v.name}`);
            }
          }
          for (const t of await ownTemplates(cs, {}, signal)) {
            if (!t.name.startsWith(prefix) || kept.templates.has(t.id)) continue;
            await deleteTemplateAndWait(cs, t.id, true, signal);
            removed.push(`template ${t.name}`);
          }
        }
        if (deps.imageStore) {
          const preserved = (input.keepBackupIds ?? []).map((id) => `vms/${input.vmId}/${id}`);
          for (const obj of await deps.imageStore.client.list(`vms/${input.vmId}/`, signal)) {
            if (kept.keys.has(obj.key) || preserved.some((p) => obj.key.startsWith(p))) continue;
            await deps.imageStore.client.delete(obj.key, signal);
            removed.push(`store ${obj.key}`);
          }
        }
        if (removed.length) log.info({ vmId: input.vmId, mode: input.mode, removed }, 'swept resources no record kept');
        return { removed };
      });
    },

    async osDeleteServer(input: { accountId: string; serverId: string }): Promise<{ existed: boolean }> {
      return translateCloudErrors(async () => {
        await assertNotLiveCopy(deps, { cloud: 'openstack', accountId: input.accountId, serverId: input.serverId }, 'delete');
        const os = await cloudAccounts(deps).openstack(input.accountId);
        return { existed: await deleteServerAndWait(os, input.serverId, Context.current().cancellationSignal) };
      });
    },

    async csDestroyStandby(input: { accountId: string; csVmId: string }): Promise<{ existed: boolean }> {
      return translateCloudErrors(async () => {
        await assertNotLiveCopy(deps, { cloud: 'cloudstack', accountId: input.accountId, serverId: input.csVmId }, 'destroy');
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        return { existed: await destroyCsVmAndWait(cs, input.csVmId, Context.current().cancellationSignal) };
      });
    },

    /**
     * Removes every copy named `name` (a drill's isolated copy) in one cloud account: the drill's
     * tear-down when its boot was cancelled before it said which server it made. Only drill
     * names are accepted, so it can never reach a VM's own servers.
     */
    async removeDrillCopies(input: { cloud: 'openstack' | 'cloudstack'; accountId: string; name: string }): Promise<{ removed: number }> {
      if (!/^vmflow-[A-Za-z0-9-]+-drill-[A-Za-z0-9]+$/.test(input.name)) throw ApplicationFailure.nonRetryable(`not a drill copy's name: ${input.name}`, 'BadRequest');
      return translateCloudErrors(async () => {
        const signal = Context.current().cancellationSignal;
        let removed = 0;
        if (input.cloud === 'openstack') {
          const os = await cloudAccounts(deps).openstack(input.accountId);
          for (const srv of await liveServersNamed(os, input.name, signal)) if (await deleteServerAndWait(os, srv.id, signal)) removed += 1;
        } else {
          const cs = await cloudAccounts(deps).cloudstack(input.accountId);
          for (const vm of await csVmsNamed(cs, input.name, signal)) if (await destroyCsVmAndWait(cs, vm.id, signal)) removed += 1;
        }
        if (removed) log.info({ name: input.name, removed }, 'removed drill copies left by a cancelled boot');
        return { removed };
      });
    },

    async storeDeleteImage(input: { key: string }): Promise<void> {
      const { client } = imageStore(deps);
      return translateCloudErrors(async () => {
        await client.delete(input.key, Context.current().cancellationSignal).catch(rethrowInvalidKey);
      });
    },
  };
}

export type BackupActivities = ReturnType<typeof createBackupActivities>;
