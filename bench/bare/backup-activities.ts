/**
 * The bare baseline's backup activities (bareBackupVm in bench/bare/workflows.ts): the cloud and
 * image-store calls of backupVm's eight cloud activities (activities/backup.ts), made with vmflow's
 * own clients and look-up helpers, in the same order and with the same idempotency look-ups before
 * and after each create. Left out is vmflow's own bookkeeping around them: the credentials read
 * from the database per activity, the live-copy check of a standby name, the backup record's
 * writes, the catalog copy in the store, retention.
 *
 * Every bare run backs up a server it has never backed up, so there is never a standby to replace
 * or a leftover to sweep: those branches of vmflow's activities are not mirrored.
 */
import { Context } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import { CloudStackClient } from '../../src/clouds/cloudstack/client';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackCredentials } from '../../src/clouds/openstack';
import { ImageStoreClient, signDownloadUrl } from '../../src/imagestore';
import { createLogger } from '../../src/logger';
import {
  CS_GONE,
  DEFAULT_CS_OS_TYPE,
  createServerOnce,
  csVmsNamed,
  findZone,
  flavorAndNetwork,
  imagesNamed,
  oldest,
  ownTemplates,
  pollUntil,
  serverImageId,
  serviceOfferingNamed,
  templateStatusFailed,
  transferHeartbeat,
} from '../../activities/cloud-helpers';

/** Glance states an image never leaves for `active` (as in activities/backup.ts). */
const UNUSABLE_IMAGE: ReadonlySet<string> = new Set(['killed', 'deleted', 'pending_delete']);

export interface BareBackupCloudOptions {
  db: Connection;
  openstack: OpenStackCredentials;
  cloudstack: { apiUrl: string; apiKey: string; secretKey: string };
  store: { url: string; publicUrl: string; token: string; signingSecret: string };
  pollMs: number;
}

export function createBareBackupActivities(o: BareBackupCloudOptions) {
  const os = createOpenStackClient(new OpenStackSession(o.openstack, { tokenCache: new TokenCache() }));
  const cs = new CloudStackClient({ ...o.cloudstack, pollIntervalMs: o.pollMs });
  const store = new ImageStoreClient({ baseUrl: o.store.url, serviceToken: o.store.token });
  const log = createLogger('silent', 'bare-backup');
  const signal = () => Context.current().cancellationSignal;

  return {
    /** osSnapshotServer: an image of that name first, else Nova createImage, then the racing-attempt look-up. */
    async bareSnapshot(input: { serverId: string; imageName: string }): Promise<{ imageId: string }> {
      const existing = oldest(await imagesNamed(os, input.imageName, UNUSABLE_IMAGE, signal()), (i) => i.created_at);
      if (existing) return { imageId: existing.id };
      const { image_id } = await os.compute.createImage(input.serverId, { name: input.imageName, signal: signal() });
      const winner = oldest(await imagesNamed(os, input.imageName, UNUSABLE_IMAGE, signal()), (i) => i.created_at);
      return { imageId: winner?.id ?? image_id };
    },

    /** osAwaitImage: Glance polled until the image is active. */
    async bareAwaitImage(input: { imageId: string }): Promise<{ size: number; checksum: string }> {
      const ctx = Context.current();
      return pollUntil(`image ${input.imageId}`, o.pollMs, async () => {
        const img = await os.image.getImage(input.imageId, { signal: ctx.cancellationSignal });
        ctx.heartbeat({ status: img.status });
        if (UNUSABLE_IMAGE.has(img.status)) throw new Error(`image ${img.id} is ${img.status}`);
        return img.status === 'active' && typeof img.size === 'number' && img.checksum ? { size: img.size, checksum: img.checksum } : undefined;
      });
    },

    /** osEnsureStandby: a stopped server from the image (look-up by name, create once, stop, wait for SHUTOFF). */
    async bareBaseStandby(input: { name: string; imageId: string; flavorName: string; networkName: string }): Promise<{ serverId: string }> {
      const ctx = Context.current();
      const named = (await os.compute.listServers({ name: input.name, signal: signal() })).filter((s) => s.name === input.name && s.status !== 'DELETED');
      let server = named.find((s) => serverImageId(s) === input.imageId && s.status !== 'ERROR');
      if (!server) {
        const { flavor, network } = await flavorAndNetwork(os, input.flavorName, input.networkName, signal());
        const spec = { name: input.name, imageId: input.imageId, flavorId: flavor.id, networkId: network.id, metadata: { bare_role: 'standby' } };
        ({ server } = await createServerOnce(os, log, spec, 'standby', signal()));
      }
      const serverId = server.id;
      await pollUntil(`standby ${input.name}`, o.pollMs, async () => {
        const s = await os.compute.getServer(serverId, { signal: signal() });
        const task = s['OS-EXT-STS:task_state'] ?? null;
        ctx.heartbeat({ status: s.status, task });
        if (s.status === 'ERROR') throw new Error(`standby ${serverId} went to ERROR`);
        if (task) return undefined;
        if (s.status === 'SHUTOFF') return true;
        if (s.status === 'ACTIVE') await os.compute.stopServer(serverId, { signal: signal() });
        return undefined;
      });
      return { serverId };
    },

    /** exportImageToStore: Glance's bytes streamed into the image store, MD5 checked by the store. */
    async bareExport(input: { imageId: string; storeKey: string; md5: string }): Promise<{ key: string; md5: string }> {
      const ctx = Context.current();
      const img = await os.image.getImage(input.imageId, { signal: signal() });
      if (img.status !== 'active') throw new Error(`image ${img.id} is ${img.status}`);
      const existing = await store.meta(input.storeKey, signal());
      if (existing && existing.md5 === input.md5) return { key: existing.key, md5: existing.md5 };
      const download = await os.image.downloadImageData(img.id, { signal: signal() });
      const total = download.size ?? img.size ?? undefined;
      const { beat, onProgress } = transferHeartbeat(ctx, total);
      beat(0);
      try {
        const stored = await store.upload(input.storeKey, download.stream, { expectedMd5: input.md5, size: total, overwrite: existing !== undefined, signal: signal(), onProgress });
        beat(stored.size);
        return { key: stored.key, md5: stored.md5 };
      } finally {
        if (!download.stream.destroyed) download.stream.destroy();
      }
    },

    /** csRegisterTemplateFromStore: a template of that name first, else register from a signed store URL, then the racing-attempt look-up. */
    async bareRegisterTemplate(input: { templateName: string; storeKey: string; md5: string }): Promise<{ templateId: string }> {
      const mine = (await ownTemplates(cs, { name: input.templateName }, signal())).filter((t) => !templateStatusFailed(t.status));
      const existing = oldest(mine, (t) => t.created);
      if (existing) return { templateId: existing.id };
      const meta = await store.meta(input.storeKey, signal());
      if (!meta) throw new Error(`the image store has no ${input.storeKey}`);
      const url = signDownloadUrl(o.store.publicUrl, input.storeKey, 6 * 3600, o.store.signingSecret).url;
      const zone = await findZone(cs, undefined, signal());
      const osTypes = await cs.listOsTypes({}, { signal: signal() });
      const osType = osTypes.find((t) => t.description === DEFAULT_CS_OS_TYPE) ?? osTypes[0];
      const registered = await cs.registerTemplate(
        { name: input.templateName, displaytext: input.templateName, format: 'QCOW2', hypervisor: 'KVM', url, ostypeid: osType.id, zoneid: zone.id, isextractable: true, checksum: input.md5 },
        { signal: signal() },
      );
      const winner = oldest((await ownTemplates(cs, { name: input.templateName }, signal())).filter((t) => !templateStatusFailed(t.status)), (t) => t.created);
      return { templateId: winner?.id ?? registered.id };
    },

    /** csAwaitTemplate: listTemplates polled until the download is complete. */
    async bareAwaitTemplate(input: { templateId: string }): Promise<{ size: number }> {
      const ctx = Context.current();
      return pollUntil(`template ${input.templateId}`, o.pollMs, async () => {
        const [t] = await ownTemplates(cs, { id: input.templateId }, ctx.cancellationSignal);
        if (!t) throw new Error(`template ${input.templateId} is gone`);
        ctx.heartbeat({ status: t.status, isready: t.isready });
        if (templateStatusFailed(t.status)) throw new Error(`template ${t.id} failed: ${t.status}`);
        return t.isready && /download complete|^downloaded$/i.test(t.status ?? '') ? { size: Number(t.size ?? t.physicalsize ?? 0) } : undefined;
      });
    },

    /** csEnsureStandby: a stopped CloudStack instance from the template (look-up by name, deploy with startvm=false, wait for Stopped). */
    async bareBackupCloudStandby(input: { name: string; templateId: string; serviceOfferingName: string }): Promise<{ csVmId: string }> {
      const ctx = Context.current();
      let vm = (await csVmsNamed(cs, input.name, signal())).find((v) => v.templateid === input.templateId && v.state !== 'Error');
      if (!vm) {
        const zone = await findZone(cs, undefined, signal());
        const offering = await serviceOfferingNamed(cs, input.serviceOfferingName, signal());
        const ref = await cs.deployVirtualMachine({ serviceofferingid: offering.id, templateid: input.templateId, zoneid: zone.id, name: input.name, displayname: input.name, startvm: false }, { signal: signal() });
        await cs.waitForJob(ref.jobid, { signal: signal(), pollIntervalMs: o.pollMs, onProgress: (j) => ctx.heartbeat({ jobstatus: j.jobstatus }) });
        vm = await cs.getVirtualMachine(ref.id!, { signal: signal() });
        if (!vm) throw new Error(`instance ${ref.id} vanished after deploy`);
      }
      const csVmId = vm.id;
      await pollUntil(`standby ${input.name}`, o.pollMs, async () => {
        const v = await cs.getVirtualMachine(csVmId, { signal: signal() });
        if (!v || CS_GONE.has(v.state) || v.state === 'Error') throw new Error(`standby ${csVmId} is ${v?.state ?? 'gone'}`);
        ctx.heartbeat({ state: v.state });
        if (v.state === 'Stopped') return true;
        if (v.state === 'Running') {
          const { jobid } = await cs.stopVirtualMachine(csVmId, {}, { signal: signal() });
          await cs.waitForJob(jobid, { signal: signal(), pollIntervalMs: o.pollMs });
        }
        return undefined;
      });
      return { csVmId };
    },

    /**
     * sweepVmLeftovers ('unrecorded-backups'): the same three listings (the project's images, our
     * templates, the VM's store keys). Nothing here is ever left over, so nothing is deleted.
     */
    async bareSweep(input: { namePrefix: string; storePrefix: string }): Promise<{ found: number }> {
      const projectId = (await os.session.token(signal())).project?.id;
      const images = (await os.image.listImages({ ...(projectId ? { extra: { owner: projectId } } : {}), signal: signal() })).filter((i) => i.name?.startsWith(input.namePrefix));
      const templates = (await ownTemplates(cs, {}, signal())).filter((t) => t.name.startsWith(input.namePrefix));
      const keys = await store.list(input.storePrefix, signal());
      return { found: images.length + templates.length + keys.length };
    },

    /** The run's one database write: what it made. */
    async bareRecordBackup(input: { id: string; backupId: string; imageId: string; storeKey: string; templateId: string; baseStandbyId: string; backupCloudStandbyId: string }): Promise<void> {
      const { backupId, ...made } = input;
      await o.db.collection('bare_backups').insertOne({ _id: backupId, ...made, status: 'succeeded', at: new Date() } as never);
    },
  };
}

export type BareBackupActivities = ReturnType<typeof createBareBackupActivities>;
