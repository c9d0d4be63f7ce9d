/**
 * The disaster-recovery activities run one by one in MockActivityEnvironment against both
 * simulators (fast timings) and a real image store (test/harness/activity-clouds.ts). Idempotency
 * is checked by counting what the clouds hold (GET /_sim/state) after every step ran twice.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { request } from 'undici';
import { createBackupActivities, type BackupActivities } from '../../activities/backup';
import { createDrActivities, type DrActivities } from '../../activities/dr';
import type { CloudStackClient } from '../../src/clouds/cloudstack/client';
import type { OpenStackClient } from '../../src/clouds/openstack';
import { failbackImageName, failbackStoreKey, failbackTemplateName, drillServerName } from '../../src/contracts/dr';
import { createLogger } from '../../src/logger';
import { activityFailure as failureOf, runActivity as run, startActivityClouds, type ActivityClouds } from '../harness/activity-clouds';

const MiB = 1024 * 1024;
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deterministic bytes standing in for a VM disk (the simulators do not parse them beyond a qcow2 probe). */
function diskBytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

async function download(url: string, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await request(url, { headers });
  assert.equal(res.statusCode, 200, `GET ${url}`);
  return Buffer.from(await res.body.arrayBuffer());
}

describe('DR activities against the simulators and the image store', function () {
  this.timeout(60_000);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'dr-activities-test');
  let clouds: ActivityClouds;
  let acts: DrActivities;
  let backup: BackupActivities;
  let nova: OpenStackClient;
  let cs: CloudStackClient;

  const serversNamed = async (name: string) => (await clouds.osState()).servers.items.filter((s) => s.name === name && s.taskState !== 'deleting');
  const imagesNamed = async (name: string) => (await clouds.osState()).images.items.filter((i) => i.name === name);
  const templatesNamed = async (name: string) => (await clouds.csState()).templates.items.filter((t) => t.name === name);
  const csVmsNamed = async (name: string) => (await clouds.csState()).vms.items.filter((v) => v.name === name && v.state !== 'Expunging' && v.state !== 'Destroyed');
  const route = async (key: string) => (await clouds.osState()).requests.byRoute[key] ?? 0;

  async function waitServer(id: string, status: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const s = await nova.compute.getServer(id);
      if (s.status === status && !s['OS-EXT-STS:task_state']) return;
      await pause(20);
    }
    assert.fail(`server ${id} did not reach ${status}`);
  }

  async function bootServer(name: string): Promise<string> {
    const [flavors, [network], images] = await Promise.all([nova.compute.listFlavors(), nova.network.listNetworks({ name: 'private' }), nova.image.listImages({ name: 'ubuntu-24.04' })]);
    const { id } = await nova.compute.createServer({ name, flavorRef: flavors.find((f) => f.name === 'm1.small')!.id, imageRef: images[0].id, networks: [{ uuid: network.id }] });
    await waitServer(id, 'ACTIVE');
    return id;
  }

  async function deployCsVm(name: string, templateId: string, startvm: boolean): Promise<string> {
    const [zone] = await cs.listZones();
    const offering = (await cs.listServiceOfferings()).find((o) => o.name === 'Small Instance')!;
    const ref = await cs.deployVirtualMachine({ serviceofferingid: offering.id, templateid: templateId, zoneid: zone.id, name, displayname: name, startvm });
    await cs.waitForJob(ref.jobid, { pollIntervalMs: 20 });
    return ref.id!;
  }

  before(async () => {
    clouds = await startActivityClouds({ logger });
    acts = createDrActivities(clouds.deps);
    backup = createBackupActivities(clouds.deps);
    nova = clouds.openstack;
    cs = clouds.cloudstack;
  });

  after(async () => {
    await clouds?.stop();
  });

  afterEach(async () => {
    await clouds?.clearFaults();
  });

  describe('fencing and switching on OpenStack', () => {
    let primaryId: string;
    let standbyId: string;

    before(async () => {
      [primaryId, standbyId] = await Promise.all([bootServer('dr-primary'), bootServer('dr-standby')]);
      await nova.compute.stopServer(standbyId);
      await waitServer(standbyId, 'SHUTOFF');
    });

    it('when the old primary is ACTIVE, then the fence stops it, and a second fence finds it SHUTOFF without another os-stop', async () => {
      const fenceMe = await bootServer('dr-fence-active');
      const actionsBefore = await route('POST /compute/v2.1/servers/:id/action');
      const first = await run(acts.osFenceServer, { accountId: 'os', serverId: fenceMe });
      assert.equal(first.fenced, true, first.reason);
      assert.equal(first.status, 'SHUTOFF');
      assert.equal((await nova.compute.getServer(fenceMe)).status, 'SHUTOFF');
      const second = await run(acts.osFenceServer, { accountId: 'os', serverId: fenceMe });
      assert.deepEqual(second, { fenced: true, reason: 'the server is SHUTOFF', status: 'SHUTOFF' });
      assert.equal((await route('POST /compute/v2.1/servers/:id/action')) - actionsBefore, 1);
    });

    it('when the cloud refuses every connection, then the fence answers fenced:false with the reason instead of failing, and the server keeps running', async () => {
      const victim = await bootServer('dr-fence-outage');
      await clouds.sim('os', 'POST', '/outage', { mode: 'refuse' });
      const result = await run(acts.osFenceServer, { accountId: 'os', serverId: victim });
      await clouds.sim('os', 'DELETE', '/outage');
      assert.equal(result.fenced, false);
      assert.match(result.reason, /unreachable/);
      assert.equal((await nova.compute.getServer(victim)).status, 'ACTIVE');
      // Once the cloud is back, the pending fence completes.
      const later = await run(acts.osFenceServer, { accountId: 'os', serverId: victim });
      assert.equal(later.fenced, true, later.reason);
    });

    it('when Nova does not answer, then the fence gives up after its call deadline and answers fenced:false', async () => {
      await clouds.sim('os', 'POST', '/faults', { service: 'compute', method: 'GET', path: '/servers/[^/]+$', hang: true });
      const result = await run(acts.osFenceServer, { accountId: 'os', serverId: primaryId, callTimeoutMs: 300 });
      assert.equal(result.fenced, false);
      assert.match(result.reason, /no answer within 300 ms/);
    });

    it('when the server is in ERROR and Nova refuses os-stop, then fenced:false names the refusal; when Nova accepts, then it is SHUTOFF', async () => {
      const broken = await bootServer('dr-fence-error');
      await clouds.sim('os', 'POST', `/servers/${broken}/break`, { mode: 'error' });
      await clouds.sim('os', 'POST', '/faults', { service: 'compute', method: 'POST', path: '/action$', status: 409, count: 1 });
      const refused = await run(acts.osFenceServer, { accountId: 'os', serverId: broken });
      assert.equal(refused.fenced, false);
      assert.equal(refused.status, 'ERROR');
      assert.match(refused.reason, /refused os-stop while the server is ERROR/);
      const accepted = await run(acts.osFenceServer, { accountId: 'os', serverId: broken });
      assert.equal(accepted.fenced, true, accepted.reason);
      assert.equal((await nova.compute.getServer(broken)).status, 'SHUTOFF');
    });

    it('when the server no longer exists, then it counts as fenced', async () => {
      const result = await run(acts.osFenceServer, { accountId: 'os', serverId: crypto.randomUUID() });
      assert.deepEqual(result, { fenced: true, reason: 'the server no longer exists', status: 'MISSING' });
    });

    it('when the standby is started twice, then it is ACTIVE with its fixed address and Nova got one os-start', async () => {
      const actionsBefore = await route('POST /compute/v2.1/servers/:id/action');
      const heartbeats: unknown[] = [];
      const first = await run(acts.osStartServerAndWait, { accountId: 'os', serverId: standbyId }, { heartbeats });
      const second = await run(acts.osStartServerAndWait, { accountId: 'os', serverId: standbyId });
      assert.equal(first.status, 'ACTIVE');
      assert.deepEqual(second, first);
      assert.equal(first.addresses.length, 1);
      assert.equal(first.addresses[0].type, 'fixed');
      assert.ok(heartbeats.length > 0);
      assert.equal((await route('POST /compute/v2.1/servers/:id/action')) - actionsBefore, 1);
    });

    it('when the standby is in ERROR, then starting it fails non-retryable with StandbyFailed', async () => {
      const broken = await bootServer('dr-standby-error');
      await clouds.sim('os', 'POST', `/servers/${broken}/break`, { mode: 'error' });
      const failure = await failureOf(run(acts.osStartServerAndWait, { accountId: 'os', serverId: broken }));
      assert.equal(failure.type, 'StandbyFailed');
      assert.equal(failure.nonRetryable, true);
    });

    it('when the recorded standby is gone but one of its name exists (a backup replaced it unrecorded), then that one is started; without the name it fails', async () => {
      const replacement = await bootServer('dr-standby-by-name');
      const gone = crypto.randomUUID();
      const started = await run(acts.osStartServerAndWait, { accountId: 'os', serverId: gone, name: 'dr-standby-by-name' });
      assert.equal(started.serverId, replacement);
      assert.equal(started.status, 'ACTIVE');
      const failure = await failureOf(run(acts.osStartServerAndWait, { accountId: 'os', serverId: gone }));
      assert.equal(failure.type, 'StandbyFailed');
    });

    it('when the floating IP is moved twice, then it sits on the standby port, the standby addresses show it and the primary ones no longer do', async () => {
      const [publicNet] = await nova.network.listNetworks({ name: 'public' });
      const [primaryPort] = await nova.network.listPorts({ device_id: primaryId });
      const fip = await nova.network.createFloatingIp({ floating_network_id: publicNet.id, port_id: primaryPort.id });
      const floatingOf = async (id: string) => Object.values((await nova.compute.getServer(id)).addresses ?? {}).flat().filter((a) => a['OS-EXT-IPS:type'] === 'floating').map((a) => a.addr);
      assert.deepEqual(await floatingOf(primaryId), [fip.floating_ip_address]);

      const first = await run(acts.osMoveFloatingIp, { accountId: 'os', fromServerId: primaryId, toServerId: standbyId });
      const second = await run(acts.osMoveFloatingIp, { accountId: 'os', fromServerId: primaryId, toServerId: standbyId });
      assert.deepEqual(first, { moved: true, address: fip.floating_ip_address });
      assert.deepEqual(second, first);
      const [standbyPort] = await nova.network.listPorts({ device_id: standbyId });
      const state = await clouds.osState();
      assert.deepEqual(state.floatingIps.items.map((f) => [f.address, f.portId]), [[fip.floating_ip_address, standbyPort.id]]);
      assert.deepEqual(await floatingOf(standbyId), [fip.floating_ip_address]);
      assert.deepEqual(await floatingOf(primaryId), []);
      const started = await run(acts.osStartServerAndWait, { accountId: 'os', serverId: standbyId });
      assert.ok(started.addresses.some((a) => a.type === 'floating' && a.addr === fip.floating_ip_address));
    });

    it('when neither server has a floating IP, then nothing moves', async () => {
      const other = await bootServer('dr-no-fip');
      assert.deepEqual(await run(acts.osMoveFloatingIp, { accountId: 'os', fromServerId: other, toServerId: primaryId }), { moved: false });
    });

    it('when the cloud is in outage, then moving the floating IP fails retryable', async () => {
      await clouds.sim('os', 'POST', '/outage', { mode: '503' });
      const failure = await failureOf(run(acts.osMoveFloatingIp, { accountId: 'os', fromServerId: standbyId, toServerId: primaryId }));
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.type, 'Unavailable');
    });
  });

  describe('switching on CloudStack', () => {
    let csVmId: string;
    let featuredTemplateId: string;

    before(async () => {
      featuredTemplateId = (await cs.listTemplates({ templatefilter: 'featured' })).find((t) => t.name === 'Ubuntu 24.04 LTS')!.id;
      csVmId = await deployCsVm('dr-cs-standby', featuredTemplateId, false);
    });

    it('when a stopped instance is started twice, then it is Running with its address and CloudStack ran one start job', async () => {
      const jobsBefore = (await clouds.csState()).requests.byCommand.startVirtualMachine ?? 0;
      const first = await run(acts.csStartVmAndWait, { accountId: 'cs', csVmId });
      const second = await run(acts.csStartVmAndWait, { accountId: 'cs', csVmId });
      assert.equal(first.state, 'Running');
      assert.deepEqual(second, first);
      assert.equal(first.addresses.length, 1);
      assert.match(first.addresses[0].addr, /^10\.1\./);
      assert.equal(((await clouds.csState()).requests.byCommand.startVirtualMachine ?? 0) - jobsBefore, 1);
    });

    it('when the instance is stopped twice, then it is Stopped, and a vanished one answers Gone', async () => {
      assert.deepEqual(await run(acts.csStopVmAndWait, { accountId: 'cs', csVmId }), { state: 'Stopped' });
      assert.deepEqual(await run(acts.csStopVmAndWait, { accountId: 'cs', csVmId, forced: true }), { state: 'Stopped' });
      assert.equal((await csVmsNamed('dr-cs-standby'))[0].state, 'Stopped');
      assert.deepEqual(await run(acts.csStopVmAndWait, { accountId: 'cs', csVmId: crypto.randomUUID() }), { state: 'Gone' });
    });

    it('when an instance is in Error, then starting it fails non-retryable with StandbyFailed, and stopping it leaves it Stopped', async () => {
      const broken = await deployCsVm('dr-cs-broken', featuredTemplateId, false);
      await clouds.sim('cs', 'POST', `/vms/${broken}/break`, { mode: 'error' });
      const failure = await failureOf(run(acts.csStartVmAndWait, { accountId: 'cs', csVmId: broken }));
      assert.equal(failure.type, 'StandbyFailed');
      assert.equal(failure.nonRetryable, true);
      assert.deepEqual(await run(acts.csStopVmAndWait, { accountId: 'cs', csVmId: broken }), { state: 'Stopped' });
    });
  });

  describe('failback from CloudStack to OpenStack', () => {
    const source = diskBytes(2 * MiB + 4321, 'dr-failback-source');
    const sourceKey = 'vms/vm9/backup-b1.qcow2';
    const templateName = failbackTemplateName('vm9', 'f1');
    const storeKey = failbackStoreKey('vm9', 'f1');
    const imageName = failbackImageName('vm9', 'f1');
    let csVmId: string;
    let templateId: string;

    before(async () => {
      await clouds.storeClient.upload(sourceKey, source);
      // A backup-like template: registered from the store, extractable, as the backup workflow does.
      const registered = await run(backup.csRegisterTemplateFromStore, { accountId: 'cs', templateName: 'vmflow-vm9-backup-b1', storeKey: sourceKey, ttlSeconds: 600 });
      await run(backup.csAwaitTemplate, { accountId: 'cs', templateId: registered.templateId });
      csVmId = await deployCsVm('vmflow-vm9-dr', registered.templateId, true);
    });

    it('when the VM still runs, then csTemplateFromVm refuses non-retryable with VmNotStopped and makes nothing', async () => {
      const failure = await failureOf(run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName }));
      assert.equal(failure.type, 'VmNotStopped');
      assert.equal(failure.nonRetryable, true);
      assert.equal((await templatesNamed(templateName)).length, 0);
    });

    it('when the stopped VM is templated twice, then CloudStack holds one ready, extractable template of that name', async () => {
      await run(acts.csStopVmAndWait, { accountId: 'cs', csVmId });
      const first = await run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName });
      const second = await run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName });
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.templateId, first.templateId);
      assert.equal(first.extractable, true);
      assert.equal(first.physicalSize, source.length);
      assert.deepEqual((await templatesNamed(templateName)).map((t) => [t.id, t.isready, t.isextractable]), [[first.templateId, true, true]]);
      templateId = first.templateId;
    });

    it('when a URL is extracted and copied twice, then the store holds the source bytes once and the second copy downloads nothing', async () => {
      const { url, physicalSize } = await run(acts.csExtractTemplateUrl, { accountId: 'cs', templateId });
      assert.equal(physicalSize, source.length);
      const heartbeats: unknown[] = [];
      const stored = await run(acts.copyUrlToStore, { url, storeKey, expectedSize: physicalSize }, { heartbeats });
      assert.equal(stored.md5, md5(source));
      assert.equal(stored.size, source.length);
      assert.ok(heartbeats.some((h) => (h as { progress?: string }).progress === '2 MiB of 2 MiB'), JSON.stringify(heartbeats));

      const again = await run(acts.csExtractTemplateUrl, { accountId: 'cs', templateId });
      assert.notEqual(again.url, url, 'every call extracts a fresh URL');
      const uploadsBefore = (await clouds.storeClient.meta(storeKey))!.created;
      assert.deepEqual(await run(acts.copyUrlToStore, { url: again.url, storeKey, expectedSize: again.physicalSize }), stored);
      assert.equal((await clouds.storeClient.meta(storeKey))!.created, uploadsBefore);
      assert.deepEqual((await clouds.storeClient.list('vms/vm9/')).map((m) => m.key).sort(), [sourceKey, storeKey].sort());
    });

    it('when the stored object has another size than expected, then it is replaced by the download', async () => {
      const key = 'vms/vm9/failback-size.qcow2';
      await clouds.storeClient.upload(key, Buffer.from('a truncated leftover'));
      const { url, physicalSize } = await run(acts.csExtractTemplateUrl, { accountId: 'cs', templateId });
      const stored = await run(acts.copyUrlToStore, { url, storeKey: key, expectedSize: physicalSize });
      assert.equal(stored.md5, md5(source));
      await clouds.storeClient.delete(key);
    });

    it('when the image is imported into Glance twice, then one active image holds exactly the source bytes', async () => {
      const heartbeats: unknown[] = [];
      const first = await run(acts.glanceImportFromStore, { accountId: 'os', imageName, storeKey, ttlSeconds: 600 }, { heartbeats });
      const second = await run(acts.glanceImportFromStore, { accountId: 'os', imageName, storeKey, ttlSeconds: 600 });
      assert.equal(first.created, true);
      assert.deepEqual(second, { ...first, created: false });
      assert.equal(first.checksum, md5(source));
      assert.equal(first.size, source.length);
      assert.ok(heartbeats.some((h) => (h as { status?: string }).status === 'active'));
      assert.deepEqual((await imagesNamed(imageName)).map((i) => [i.id, i.status, i.checksum]), [[first.imageId, 'active', md5(source)]]);
      const token = (await nova.session.token()).token;
      const glanceBytes = await download(`${clouds.osSim.url}/image/v2/images/${first.imageId}/file`, { 'x-auth-token': token });
      assert.equal(md5(glanceBytes), md5(source));
      assert.equal((await clouds.storeClient.meta(storeKey))!.md5, md5(source));
    });

    it('when every step of the chain runs again, then the same ids come back and each cloud still holds one of each', async () => {
      const template = await run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName });
      const { url } = await run(acts.csExtractTemplateUrl, { accountId: 'cs', templateId: template.templateId });
      const stored = await run(acts.copyUrlToStore, { url, storeKey });
      const image = await run(acts.glanceImportFromStore, { accountId: 'os', imageName, storeKey, ttlSeconds: 600 });
      assert.equal(template.templateId, templateId);
      assert.equal(stored.md5, md5(source));
      assert.equal(image.checksum, md5(source));
      assert.equal((await templatesNamed(templateName)).length, 1);
      assert.equal((await imagesNamed(imageName)).length, 1);
    });

    it('when an earlier attempt left a queued image of that name, then the import reuses it', async () => {
      const name = failbackImageName('vm9', 'crashed');
      const leftover = await nova.image.createImage({ name, disk_format: 'qcow2', container_format: 'bare' });
      const result = await run(acts.glanceImportFromStore, { accountId: 'os', imageName: name, storeKey, ttlSeconds: 600 });
      assert.equal(result.imageId, leftover.id);
      assert.deepEqual((await imagesNamed(name)).map((i) => [i.id, i.status, i.checksum]), [[leftover.id, 'active', md5(source)]]);
    });

    it('when two attempts template the VM and import the image at the same time, then both return the same template and image and one of each remains', async () => {
      const name = failbackTemplateName('vm9', 'race');
      const [a, b] = await Promise.all([
        run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName: name }),
        run(acts.csTemplateFromVm, { accountId: 'cs', csVmId, templateName: name }),
      ]);
      assert.equal(a.templateId, b.templateId);
      assert.deepEqual((await templatesNamed(name)).map((t) => t.id), [a.templateId]);

      const imageName2 = failbackImageName('vm9', 'race');
      const [x, y] = await Promise.all([
        run(acts.glanceImportFromStore, { accountId: 'os', imageName: imageName2, storeKey, ttlSeconds: 600 }),
        run(acts.glanceImportFromStore, { accountId: 'os', imageName: imageName2, storeKey, ttlSeconds: 600 }),
      ]);
      assert.equal(x.imageId, y.imageId);
      assert.deepEqual((await imagesNamed(imageName2)).map((i) => [i.id, i.status]), [[x.imageId, 'active']]);
    });

    it('when Glance answers 503 to the import call, then the activity fails retryable and the retry imports into the same queued image', async () => {
      const name = failbackImageName('vm9', 'glance-503');
      await clouds.sim('os', 'POST', '/faults', { service: 'image', method: 'POST', path: '/import$', status: 503, count: 1 });
      const failure = await failureOf(run(acts.glanceImportFromStore, { accountId: 'os', imageName: name, storeKey, ttlSeconds: 600 }));
      assert.equal(failure.type, 'Unavailable');
      assert.equal(failure.nonRetryable, false);
      const [queued] = await imagesNamed(name);
      assert.equal(queued.status, 'queued');
      const result = await run(acts.glanceImportFromStore, { accountId: 'os', imageName: name, storeKey, ttlSeconds: 600 });
      assert.equal(result.imageId, queued.id);
      assert.equal((await imagesNamed(name)).length, 1);
    });

    it('when Glance web-download fails (the store refuses the URL), then ImportFailed is retryable and no image of that name is left', async () => {
      const name = failbackImageName('vm9', 'bad-url');
      const wrongSecret = createDrActivities({ ...clouds.deps, imageStore: { ...clouds.deps.imageStore!, signingSecret: 'not-the-store-secret' } });
      const failure = await failureOf(run(wrongSecret.glanceImportFromStore, { accountId: 'os', imageName: name, storeKey, ttlSeconds: 600 }));
      assert.equal(failure.type, 'ImportFailed');
      assert.equal(failure.nonRetryable, false);
      assert.match(failure.message, /HTTP 403/);
      assert.doesNotMatch(failure.message, /sig=[0-9a-f]/);
      assert.deepEqual(await imagesNamed(name), []);
    });

    it('when Glance has no web-download, then the bytes are uploaded through PUT …/file and the image is the same', async () => {
      const name = failbackImageName('vm9', 'no-import');
      await clouds.sim('os', 'POST', '/faults', { service: 'image', method: 'GET', path: '/info/import$', status: 404 });
      const putsBefore = await route('PUT /image/v2/images/:id/file');
      const importsBefore = await route('POST /image/v2/images/:id/import');
      const result = await run(acts.glanceImportFromStore, { accountId: 'os', imageName: name, storeKey, ttlSeconds: 600 });
      assert.equal(result.checksum, md5(source));
      assert.equal((await route('PUT /image/v2/images/:id/file')) - putsBefore, 1);
      assert.equal(await route('POST /image/v2/images/:id/import'), importsBefore);
    });

    it('when the download URL is unknown or expired, then copyUrlToStore fails non-retryable with DownloadUrlGone and stores nothing', async () => {
      const key = 'vms/vm9/failback-expired.qcow2';
      const failure = await failureOf(run(acts.copyUrlToStore, { url: `${clouds.csSim.url}/download/expired-token/x.qcow2`, storeKey: key }));
      assert.equal(failure.type, 'DownloadUrlGone');
      assert.equal(failure.nonRetryable, true);
      assert.doesNotMatch(failure.message, /expired-token/);
      assert.equal(await clouds.storeClient.meta(key), undefined);
    });

    it('when the VM came from a template registered not extractable, then its template says so and extracting fails non-retryable', async () => {
      const [zone] = await cs.listZones();
      const osType = (await cs.listOsTypes())[0];
      const url = (await clouds.storeClient.downloadUrl(sourceKey, 600)).url;
      const t = await cs.registerTemplate({ name: 'dr-not-extractable', format: 'QCOW2', hypervisor: 'KVM', url, ostypeid: osType.id, zoneid: zone.id, isextractable: false });
      await run(backup.csAwaitTemplate, { accountId: 'cs', templateId: t.id });
      const vmId = await deployCsVm('dr-not-extractable-vm', t.id, false);
      const made = await run(acts.csTemplateFromVm, { accountId: 'cs', csVmId: vmId, templateName: failbackTemplateName('vm8', 'f1') });
      assert.equal(made.extractable, false);
      const failure = await failureOf(run(acts.csExtractTemplateUrl, { accountId: 'cs', templateId: made.templateId }));
      assert.equal(failure.type, 'NotExtractable');
      assert.equal(failure.nonRetryable, true);
    });
  });

  describe('drills', () => {
    it('when an isolated OpenStack copy boots twice under one name, then one ACTIVE drill server without floating IP exists, and deleting it leaves none', async () => {
      const name = drillServerName('vm7', 'd1');
      const [image] = await nova.image.listImages({ name: 'ubuntu-24.04' });
      const input = { accountId: 'os', name, imageId: image.id, flavorName: 'm1.small', networkName: 'private', metadata: { vmflow_vm_id: 'vm7' } };
      const first = await run(acts.osBootIsolated, input);
      const second = await run(acts.osBootIsolated, input);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.serverId, first.serverId);
      assert.ok(first.bootSeconds >= 0);
      const server = await nova.compute.getServer(first.serverId);
      assert.equal(server.status, 'ACTIVE');
      assert.equal(server.metadata?.vmflow_drill, 'true');
      assert.equal(server.metadata?.vmflow_vm_id, 'vm7');
      assert.ok(Object.values(server.addresses ?? {}).flat().every((a) => a['OS-EXT-IPS:type'] === 'fixed'));
      assert.equal((await serversNamed(name)).length, 1);

      assert.deepEqual(await run(backup.osDeleteServer, { accountId: 'os', serverId: first.serverId }), { existed: true });
      assert.deepEqual(await run(backup.osDeleteServer, { accountId: 'os', serverId: first.serverId }), { existed: false });
      assert.equal((await serversNamed(name)).length, 0);
    });

    it('when the drill server build fails, then osBootIsolated fails non-retryable with DrillBootFailed and the server can be removed', async () => {
      const name = drillServerName('vm7', 'd2');
      await clouds.sim('os', 'POST', '/build-failures', { count: 1, namePattern: `^${name}$` });
      const [image] = await nova.image.listImages({ name: 'ubuntu-24.04' });
      const failure = await failureOf(run(acts.osBootIsolated, { accountId: 'os', name, imageId: image.id, flavorName: 'm1.small', networkName: 'private' }));
      assert.equal(failure.type, 'DrillBootFailed');
      assert.equal(failure.nonRetryable, true);
      const [server] = await serversNamed(name);
      assert.equal(server.status, 'ERROR');
      await run(backup.osDeleteServer, { accountId: 'os', serverId: server.id });
      assert.equal((await serversNamed(name)).length, 0);
    });

    it('when an isolated CloudStack copy boots twice under one name, then one Running instance exists, and destroying it leaves none', async () => {
      const name = drillServerName('vm7', 'd3');
      const templateId = (await cs.listTemplates({ templatefilter: 'featured' })).find((t) => t.name === 'Ubuntu 24.04 LTS')!.id;
      const input = { accountId: 'cs', name, templateId, serviceOfferingName: 'Small Instance' };
      const first = await run(acts.csBootIsolated, input);
      const second = await run(acts.csBootIsolated, input);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.csVmId, first.csVmId);
      assert.ok(first.bootSeconds >= 0);
      assert.deepEqual((await csVmsNamed(name)).map((v) => [v.id, v.state]), [[first.csVmId, 'Running']]);

      assert.deepEqual(await run(backup.csDestroyStandby, { accountId: 'cs', csVmId: first.csVmId }), { existed: true });
      assert.deepEqual(await run(backup.csDestroyStandby, { accountId: 'cs', csVmId: first.csVmId }), { existed: false });
      assert.equal((await csVmsNamed(name)).length, 0);
    });
  });
});
