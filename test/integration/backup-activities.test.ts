/**
 * The backup activities run one by one in MockActivityEnvironment (no Temporal server) against
 * the OpenStack and CloudStack simulators (fast timings), a real image store on port 0, the run's
 * database (for the live-copy guard) and a tiny account resolver that builds clients straight from the simulators' credentials. Idempotency is
 * checked the way an operator would: by counting what the clouds hold (GET /_sim/state).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Connection } from 'mongoose';
import { request } from 'undici';
import { createBackupActivities, type BackupActivities } from '../../activities/backup';
import { createDrActivities } from '../../activities/dr';
import { connectDatabase } from '../../src/db/connection';
import { vmModel } from '../../src/vms/model';
import { allowSimulators } from '../harness/clouds';
import { sharedStack } from '../harness/stack';
import type { ActivityDeps } from '../../activities/deps';
import type { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { CloudStackClient } from '../../src/clouds/cloudstack/client';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackClient } from '../../src/clouds/openstack';
import { ImageStoreClient, startImageStore, type RunningImageStore } from '../../src/imagestore';
import { createLogger } from '../../src/logger';
import { startCloudStackSimulator, type CloudStackSimulator, type SimStateSummary as CsState } from '../../src/sim/cloudstack';
import { startOpenStackSimulator, type OpenStackSimulator, type SimStateSummary as OsState } from '../../src/sim/openstack';

const TOKEN = 'backup-test-store-token-7d2e';
const SECRET = 'backup-test-signing-secret-41c9';
const MiB = 1024 * 1024;
const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

/** Expected activity failures would otherwise be logged as warnings by the SDK's logger. */
const mockEnv = () => new MockActivityEnvironment({ startToCloseTimeoutMs: 30_000 }, { logger: new DefaultLogger('ERROR') });

/** Runs one activity in a fresh mock context (a cancelled context would poison later runs). */
async function run<I, O>(fn: (input: I) => Promise<O>, input: I, opts: { heartbeats?: unknown[]; env?: MockActivityEnvironment } = {}): Promise<O> {
  const env = opts.env ?? mockEnv();
  if (opts.heartbeats) env.on('heartbeat', (d: unknown) => opts.heartbeats!.push(d));
  return env.run(fn, input);
}

/** Awaits a rejection and hands back the ApplicationFailure it carries. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the activity to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url);
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as T;
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.body.dump();
  assert.ok(res.statusCode === 200 || res.statusCode === 201, `POST ${url} answered ${res.statusCode}`);
}

/**
 * A pass-through to Glance that flips one byte of every image download: the bytes arrive damaged
 * while Glance's Content-MD5 still names the real checksum.
 */
async function startCorruptingProxy(target: string): Promise<{ url: string; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      let flipped = !/\/file$/.test(req.url ?? '');
      upRes.on('data', (chunk: Buffer) => {
        if (!flipped && chunk.length > 0) {
          chunk = Buffer.from(chunk);
          chunk[0] ^= 0xff;
          flipped = true;
        }
        res.write(chunk);
      });
      upRes.on('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('backup activities against the simulators and the image store', function () {
  this.timeout(60_000);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'backup-activities-test');

  let osSim: OpenStackSimulator;
  let csSim: CloudStackSimulator;
  let store: RunningImageStore;
  let proxy: { url: string; stop(): Promise<void> };
  let storeDir: string;
  let storeClient: ImageStoreClient;
  let acts: BackupActivities;
  let admin: OpenStackClient;
  let sourceServerId: string;
  let db: Connection;
  let deps: ActivityDeps;

  const osState = () => getJson<OsState>(`${osSim.url}/_sim/state`);
  const csState = () => getJson<CsState>(`${csSim.url}/_sim/state`);
  const imagesNamed = async (name: string) => (await osState()).images.items.filter((i) => i.name === name);
  const serversNamed = async (name: string) => (await osState()).servers.items.filter((s) => s.name === name);
  const templatesNamed = async (name: string) => (await csState()).templates.items.filter((t) => t.name === name);
  const csVmsNamed = async (name: string) => (await csState()).vms.items.filter((v) => v.name === name && v.state !== 'Expunging' && v.state !== 'Destroyed');

  before(async () => {
    db = await connectDatabase((await sharedStack()).mongoUri);
    osSim = await startOpenStackSimulator({ timings: { snapshotBytes: 3 * MiB + 12_345 }, logger });
    csSim = await startCloudStackSimulator({ timings: 'fast' });
    allowSimulators({ openstack: osSim, cloudstack: csSim });
    storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-backup-store-'));
    store = await startImageStore({ dir: storeDir, serviceToken: TOKEN, signingSecret: SECRET, logger });
    proxy = await startCorruptingProxy(`${osSim.url}/image`);
    storeClient = new ImageStoreClient({ baseUrl: store.url, serviceToken: TOKEN });

    const c = osSim.credentials;
    const osCredentials = { authUrl: osSim.authUrl, username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName, region: c.region };
    const tokenCache = new TokenCache();
    const openstack = (endpointOverrides?: Record<string, string>) => createOpenStackClient(new OpenStackSession(osCredentials, { tokenCache, logger, endpointOverrides }));
    // What the worker's CloudAccountResolver does, without MongoDB: one account per simulator,
    // plus an OpenStack account whose Glance traffic goes through the corrupting proxy.
    const resolver = {
      async openstack(id: string) {
        if (id === 'os') return openstack();
        if (id === 'os-damaged') return openstack({ image: proxy.url });
        throw new Error(`unknown account ${id}`);
      },
      async cloudstack(id: string) {
        if (id !== 'cs') throw new Error(`unknown account ${id}`);
        return new CloudStackClient({ apiUrl: csSim.apiUrl, ...csSim.credentials, logger });
      },
    };
    deps = {
      db,
      logger,
      cloudAccounts: resolver as unknown as CloudAccountResolver,
      timing: { pollIntervalMs: 20 },
      imageStore: { client: storeClient, publicBaseUrl: store.publicUrl, signingSecret: SECRET },
    };
    acts = createBackupActivities(deps);

    admin = openstack();
    const [flavors, [network], images] = await Promise.all([admin.compute.listFlavors(), admin.network.listNetworks({ name: 'private' }), admin.image.listImages()]);
    const created = await admin.compute.createServer({
      name: 'backup-source',
      flavorRef: flavors.find((f) => f.name === 'm1.small')!.id,
      imageRef: images[0].id,
      networks: [{ uuid: network.id }],
    });
    sourceServerId = created.id;
    for (let i = 0; i < 200 && (await admin.compute.getServer(sourceServerId)).status !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 20));
  });

  after(async () => {
    await Promise.allSettled([osSim?.stop(), csSim?.stop(), store?.stop(), proxy?.stop(), db?.close()]);
    if (storeDir) fs.rmSync(storeDir, { recursive: true, force: true });
  });

  describe('a backup from snapshot to standbys', () => {
    const imageName = 'vmflow-vm1-backup-b1';
    const storeKey = 'vm-vm1/backup-b1.qcow2';
    const templateName = 'vmflow-vm1-backup-b1';
    let imageId: string;
    let checksum: string;
    let imageSize: number;
    let templateId: string;
    let osStandbyId: string;
    let csStandbyId: string;

    it('when the server is snapshotted twice under one name, then Glance holds one image and both calls return it', async () => {
      const first = await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName, metadata: { vmflow_backup_id: 'b1' } });
      const second = await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName, metadata: { vmflow_backup_id: 'b1' } });
      assert.equal(second.imageId, first.imageId);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal((await imagesNamed(imageName)).length, 1);
      imageId = first.imageId;
    });

    it('when the snapshot is awaited, then it reports Glance size, md5 and formats once active', async () => {
      const heartbeats: unknown[] = [];
      const info = await run(acts.osAwaitImage, { accountId: 'os', imageId }, { heartbeats });
      const again = await run(acts.osAwaitImage, { accountId: 'os', imageId });
      assert.deepEqual(again, info);
      assert.equal(info.size, 3 * MiB + 12_345);
      assert.match(info.checksum, /^[0-9a-f]{32}$/);
      assert.equal(info.osHashAlgo, 'sha512');
      assert.equal(info.diskFormat, 'qcow2');
      assert.ok(heartbeats.some((h) => (h as { status?: string }).status === 'active'));
      const simImage = (await osState()).images.items.find((i) => i.id === imageId)!;
      assert.equal(simImage.checksum, info.checksum);
      checksum = info.checksum;
      imageSize = info.size;
    });

    it('when the image is exported, then the store holds bytes whose md5 is Glance checksum, and progress reads in MiB', async () => {
      const heartbeats: unknown[] = [];
      const stored = await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey, expectedMd5: checksum }, { heartbeats });
      assert.equal(stored.key, storeKey);
      assert.equal(stored.md5, checksum);
      assert.equal(stored.size, imageSize);
      const progress = heartbeats.map((h) => (h as { progress?: string }).progress).filter(Boolean);
      assert.ok(progress.includes('0 MiB of 3 MiB'), `progress heartbeats: ${progress.join(', ')}`);
      assert.ok(progress.includes('3 MiB of 3 MiB'), `progress heartbeats: ${progress.join(', ')}`);

      const url = (await storeClient.downloadUrl(storeKey, 60)).url;
      const res = await request(url);
      assert.equal(res.statusCode, 200);
      const bytes = Buffer.from(await res.body.arrayBuffer());
      assert.equal(md5(bytes), checksum);
      assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), stored.sha256);
    });

    it('when the export runs again, then it returns the stored object at once without downloading from Glance', async () => {
      const downloadsBefore = (await osState()).requests.byRoute;
      const again = await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey });
      const downloadsAfter = (await osState()).requests.byRoute;
      const route = 'GET /image/v2/images/:id/file';
      assert.ok(downloadsBefore[route] >= 1, `routes seen: ${Object.keys(downloadsBefore).join(', ')}`);
      assert.equal(downloadsAfter[route], downloadsBefore[route]);
      assert.equal(again.md5, checksum);
      assert.equal((await storeClient.list('vm-vm1/')).length, 1);
    });

    it('when the template is registered twice from the store, then CloudStack holds one template that downloads completely', async () => {
      const first = await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName, storeKey, ttlSeconds: 600 });
      const second = await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName, storeKey, ttlSeconds: 600 });
      assert.equal(second.templateId, first.templateId);
      assert.equal((await templatesNamed(templateName)).length, 1);
      templateId = first.templateId;

      const heartbeats: unknown[] = [];
      const done = await run(acts.csAwaitTemplate, { accountId: 'cs', templateId }, { heartbeats });
      assert.equal(done.size, imageSize);
      assert.equal(done.status, 'Download Complete');
      assert.ok(heartbeats.length > 0);
      const again = await run(acts.csAwaitTemplate, { accountId: 'cs', templateId });
      assert.equal(again.size, imageSize);
    });

    it('when the OpenStack standby is ensured twice, then one stopped server from the backup image exists', async () => {
      const input = { accountId: 'os', name: 'vmflow-vm1-standby', imageId, flavorName: 'm1.small', networkName: 'private' };
      const first = await run(acts.osEnsureStandby, input);
      const second = await run(acts.osEnsureStandby, input);
      assert.equal(second.serverId, first.serverId);
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      const servers = await serversNamed('vmflow-vm1-standby');
      assert.equal(servers.length, 1);
      assert.equal(servers[0].status, 'SHUTOFF');
      assert.equal(servers[0].imageId, imageId);
      osStandbyId = first.serverId;
    });

    it('when the OpenStack standby was started by someone, then ensuring it stops it again', async () => {
      await admin.compute.startServer(osStandbyId);
      const again = await run(acts.osEnsureStandby, { accountId: 'os', name: 'vmflow-vm1-standby', imageId, flavorName: 'm1.small', networkName: 'private' });
      assert.equal(again.serverId, osStandbyId);
      assert.equal((await admin.compute.getServer(osStandbyId)).status, 'SHUTOFF');
    });

    it('when the CloudStack standby is ensured twice, then one Stopped instance from the template exists', async () => {
      const input = { accountId: 'cs', name: 'vmflow-vm1-standby', templateId, serviceOfferingName: 'Small Instance' };
      const first = await run(acts.csEnsureStandby, input);
      const second = await run(acts.csEnsureStandby, input);
      assert.equal(second.csVmId, first.csVmId);
      const vms = await csVmsNamed('vmflow-vm1-standby');
      assert.equal(vms.length, 1);
      assert.equal(vms[0].state, 'Stopped');
      assert.equal(vms[0].templateid, templateId);
      csStandbyId = first.csVmId;
    });

    it('when two attempts deploy the same CloudStack standby at the same time, then both return the one instance CloudStack let through', async () => {
      const input = { accountId: 'cs', name: 'vmflow-vm1-standby-race', templateId, serviceOfferingName: 'Small Instance' };
      const [a, b] = await Promise.all([run(acts.csEnsureStandby, input), run(acts.csEnsureStandby, input)]);
      assert.equal(a.csVmId, b.csVmId);
      assert.deepEqual((await csVmsNamed(input.name)).map((v) => [v.id, v.state]), [[a.csVmId, 'Stopped']]);
      await run(acts.csDestroyStandby, { accountId: 'cs', csVmId: a.csVmId });
    });

    describe('when a newer backup replaces the standbys', () => {
      let imageId2: string;
      let templateId2: string;

      before(async () => {
        imageId2 = (await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName: 'vmflow-vm1-backup-b2' })).imageId;
        await run(acts.osAwaitImage, { accountId: 'os', imageId: imageId2 });
        await run(acts.exportImageToStore, { accountId: 'os', imageId: imageId2, storeKey: 'vm-vm1/backup-b2.qcow2' });
        templateId2 = (await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName: 'vmflow-vm1-backup-b2', storeKey: 'vm-vm1/backup-b2.qcow2', ttlSeconds: 600 })).templateId;
        await run(acts.csAwaitTemplate, { accountId: 'cs', templateId: templateId2 });
      });

      it('then the OpenStack standby is rebuilt from the new image, the old server is gone and there is still one', async () => {
        const result = await run(acts.osEnsureStandby, { accountId: 'os', name: 'vmflow-vm1-standby', imageId: imageId2, flavorName: 'm1.small', networkName: 'private' });
        assert.notEqual(result.serverId, osStandbyId);
        assert.equal(result.replaced, true);
        const servers = await serversNamed('vmflow-vm1-standby');
        assert.deepEqual(servers.map((s) => [s.id, s.imageId, s.status]), [[result.serverId, imageId2, 'SHUTOFF']]);
        assert.equal((await osState()).servers.items.some((s) => s.id === osStandbyId), false);
        osStandbyId = result.serverId;
      });

      it('then the CloudStack standby is redeployed from the new template, the old instance is expunged and there is still one', async () => {
        const result = await run(acts.csEnsureStandby, { accountId: 'cs', name: 'vmflow-vm1-standby', templateId: templateId2, serviceOfferingName: 'Small Instance' });
        assert.notEqual(result.csVmId, csStandbyId);
        assert.equal(result.replaced, true);
        const vms = await csVmsNamed('vmflow-vm1-standby');
        assert.deepEqual(vms.map((v) => [v.id, v.templateid, v.state]), [[result.csVmId, templateId2, 'Stopped']]);
        assert.equal((await csState()).vms.items.some((v) => v.id === csStandbyId), false);
        csStandbyId = result.csVmId;
      });

      it('then retention deletes of the old backup succeed, and succeed again when it is already gone', async () => {
        assert.deepEqual(await run(acts.osDeleteImage, { accountId: 'os', imageId }), { existed: true });
        assert.deepEqual(await run(acts.osDeleteImage, { accountId: 'os', imageId }), { existed: false });
        assert.equal((await imagesNamed(imageName)).length, 0);

        assert.deepEqual(await run(acts.csDeleteTemplate, { accountId: 'cs', templateId }), { existed: true });
        assert.deepEqual(await run(acts.csDeleteTemplate, { accountId: 'cs', templateId }), { existed: false });
        assert.equal((await templatesNamed(templateName)).length, 0);

        await run(acts.storeDeleteImage, { key: storeKey });
        await run(acts.storeDeleteImage, { key: storeKey });
        assert.equal(await storeClient.meta(storeKey), undefined);
        assert.equal((await storeClient.list('vm-vm1/')).length, 1);
      });

      it('then retention deletes of the standbys remove them, and succeed again when they are already gone', async () => {
        assert.deepEqual(await run(acts.osDeleteServer, { accountId: 'os', serverId: osStandbyId }), { existed: true });
        assert.equal((await serversNamed('vmflow-vm1-standby')).length, 0);
        assert.deepEqual(await run(acts.osDeleteServer, { accountId: 'os', serverId: osStandbyId }), { existed: false });

        assert.deepEqual(await run(acts.csDestroyStandby, { accountId: 'cs', csVmId: csStandbyId }), { existed: true });
        // Gone for the account: at most still Expunging on the management server.
        assert.deepEqual((await csState()).vms.items.filter((v) => v.id === csStandbyId && v.state !== 'Expunging'), []);
        assert.deepEqual(await run(acts.csDestroyStandby, { accountId: 'cs', csVmId: csStandbyId }), { existed: false });
      });
    });
  });

  describe('failures', () => {
    let imageId: string;
    let checksum: string;

    before(async () => {
      imageId = (await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName: 'vmflow-vm2-backup-f1' })).imageId;
      checksum = (await run(acts.osAwaitImage, { accountId: 'os', imageId })).checksum;
    });

    afterEach(async () => {
      await request(`${osSim.url}/_sim/faults`, { method: 'DELETE' }).then((r) => r.body.dump());
      await request(`${csSim.url}/_sim/faults`, { method: 'DELETE' }).then((r) => r.body.dump());
    });

    it('when the server is in ERROR, then the snapshot fails non-retryable (ServerBroken) and leaves no image, while a busy server is retried', async () => {
      const [flavor] = (await admin.compute.listFlavors()).filter((f) => f.name === 'm1.small');
      const [network] = await admin.network.listNetworks({ name: 'private' });
      const [image] = await admin.image.listImages();
      const { id } = await admin.compute.createServer({ name: 'backup-broken', flavorRef: flavor.id, imageRef: image.id, networks: [{ uuid: network.id }] });
      for (let i = 0; i < 200 && (await admin.compute.getServer(id)).status !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 20));
      // Busy (a reboot in progress): Nova's 409 clears by itself, so it stays retryable.
      await admin.compute.rebootServer(id, { type: 'HARD' });
      const busy = await failureOf(run(acts.osSnapshotServer, { accountId: 'os', serverId: id, imageName: 'vmflow-vm3-backup-busy' }));
      assert.equal(busy.type, 'Conflict');
      assert.equal(busy.nonRetryable, false);
      await postJson(`${osSim.url}/_sim/servers/${id}/break`, { mode: 'error' });
      for (let i = 0; i < 200 && (await admin.compute.getServer(id)).status !== 'ERROR'; i++) await new Promise((r) => setTimeout(r, 20));
      const broken = await failureOf(run(acts.osSnapshotServer, { accountId: 'os', serverId: id, imageName: 'vmflow-vm3-backup-broken' }));
      assert.equal(broken.type, 'ServerBroken');
      assert.equal(broken.nonRetryable, true);
      assert.deepEqual(await imagesNamed('vmflow-vm3-backup-broken'), []);
    });

    it('when Glance answers 503 to the download, then the export fails retryable and the next attempt stores one object', async () => {
      await postJson(`${osSim.url}/_sim/faults`, { service: 'image', method: 'GET', path: '/file$', status: 503, count: 1 });
      const storeKey = 'vm-vm2/backup-f1.qcow2';
      const failure = await failureOf(run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey }));
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.type, 'Unavailable');
      assert.equal(await storeClient.meta(storeKey), undefined);

      const stored = await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey });
      assert.equal(stored.md5, checksum);
      assert.deepEqual((await storeClient.list('vm-vm2/')).map((m) => m.key), [storeKey]);
    });

    it('when the bytes arrive damaged, then the export fails retryable with ChecksumMismatch and the store keeps nothing', async () => {
      const storeKey = 'vm-vm2/backup-damaged.qcow2';
      const failure = await failureOf(run(acts.exportImageToStore, { accountId: 'os-damaged', imageId, storeKey }));
      assert.equal(failure.type, 'ChecksumMismatch');
      assert.equal(failure.nonRetryable, false);
      assert.equal(await storeClient.meta(storeKey), undefined);
    });

    it('when the workflow expects another md5 than Glance reports, then the export fails non-retryable before any transfer', async () => {
      const failure = await failureOf(run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey: 'vm-vm2/backup-other.qcow2', expectedMd5: '0'.repeat(32) }));
      assert.equal(failure.type, 'ChecksumMismatch');
      assert.equal(failure.nonRetryable, true);
    });

    it('when the export is cancelled while Glance hangs, then it stops with CancelledFailure and stores nothing', async () => {
      await postJson(`${osSim.url}/_sim/faults`, { service: 'image', method: 'GET', path: '/file$', hang: true });
      const env = mockEnv();
      const storeKey = 'vm-vm2/backup-cancelled.qcow2';
      const pending = run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey }, { env });
      setTimeout(() => env.cancel(), 200);
      const err = await pending.then(
        () => assert.fail('expected cancellation'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CancelledFailure, `expected CancelledFailure, got ${String(err)}`);
      assert.equal(await storeClient.meta(storeKey), undefined);
    });

    it('when two attempts snapshot the server at the same time, then Glance holds one image and a retry of the loser returns it', async () => {
      const input = { accountId: 'os', serverId: sourceServerId, imageName: 'vmflow-vm2-backup-race' };
      const outcomes = await Promise.allSettled([run(acts.osSnapshotServer, input), run(acts.osSnapshotServer, input)]);
      const ids = outcomes.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<{ imageId: string }>).value.imageId);
      assert.ok(ids.length >= 1);
      for (const o of outcomes) {
        // Nova refuses a second createImage while the first runs (409): a retryable failure.
        if (o.status === 'rejected') assert.equal((o.reason as ApplicationFailure).nonRetryable, false);
      }
      const retried = await run(acts.osSnapshotServer, input);
      assert.ok(ids.every((id) => id === retried.imageId));
      assert.equal((await imagesNamed(input.imageName)).length, 1);
      await run(acts.osAwaitImage, { accountId: 'os', imageId: retried.imageId });
    });

    it('when two attempts ensure the same OpenStack standby at the same time, then both return one stopped server', async () => {
      const input = { accountId: 'os', name: 'vmflow-vm2-standby-race', imageId, flavorName: 'm1.small', networkName: 'private' };
      const [a, b] = await Promise.all([run(acts.osEnsureStandby, input), run(acts.osEnsureStandby, input)]);
      const again = await run(acts.osEnsureStandby, input);
      assert.equal(again.created, false);
      assert.ok([a.serverId, b.serverId].includes(again.serverId));
      const servers = (await serversNamed(input.name)).filter((s) => s.taskState !== 'deleting');
      assert.deepEqual(servers.map((s) => [s.id, s.status]), [[again.serverId, 'SHUTOFF']]);
      await run(acts.osDeleteServer, { accountId: 'os', serverId: again.serverId });
    });

    it('when the snapshot image is deleted while awaited, then osAwaitImage fails non-retryable with ImageFailed', async () => {
      const doomed = (await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName: 'vmflow-vm2-backup-doomed' })).imageId;
      await admin.image.deleteImage(doomed);
      const failure = await failureOf(run(acts.osAwaitImage, { accountId: 'os', imageId: doomed }));
      assert.equal(failure.type, 'ImageFailed');
      assert.equal(failure.nonRetryable, true);
    });

    it('when CloudStack fails to download the template, then csAwaitTemplate fails non-retryable with its status text, and registering again replaces the failed template', async () => {
      const storeKey = 'vm-vm2/backup-f1.qcow2';
      if (!(await storeClient.meta(storeKey))) await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey });
      await postJson(`${csSim.url}/_sim/faults`, { command: 'registerTemplate', downloadFail: true, count: 1 });
      const templateName = 'vmflow-vm2-backup-f1';
      const { templateId } = await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName, storeKey, ttlSeconds: 600 });
      const failure = await failureOf(run(acts.csAwaitTemplate, { accountId: 'cs', templateId }));
      assert.equal(failure.type, 'TemplateDownloadFailed');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /Failed to download template/);

      const again = await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName, storeKey, ttlSeconds: 600 });
      assert.notEqual(again.templateId, templateId);
      const done = await run(acts.csAwaitTemplate, { accountId: 'cs', templateId: again.templateId });
      assert.equal(done.status, 'Download Complete');
      assert.deepEqual((await templatesNamed(templateName)).map((t) => t.id), [again.templateId]);
    });

    it("when another run removes a template or instance between the sweep's look-up and its delete, then the sweep still succeeds (soak seed 7: deleteVm failed on CloudStack's 431)", async () => {
      const storeKey = 'vm-vm2/backup-f1.qcow2';
      if (!(await storeClient.meta(storeKey))) await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey });
      const made: string[] = [];
      for (const templateName of ['vmflow-vm3-backup-s1', 'vmflow-vm3-backup-s2']) {
        const { templateId } = await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName, storeKey, ttlSeconds: 600 });
        await run(acts.csAwaitTemplate, { accountId: 'cs', templateId });
        made.push(templateId);
      }
      await run(acts.csEnsureStandby, { accountId: 'cs', name: 'vmflow-vm3-standby', templateId: made[1], serviceOfferingName: 'Small Instance' });
      // Every delete and destroy of this client is beaten to it by another client (another run).
      const racing: CloudAccountResolver = {
        ...(deps.cloudAccounts as object),
        async cloudstack(id: string) {
          const c = await (deps.cloudAccounts as unknown as { cloudstack(id: string): Promise<CloudStackClient> }).cloudstack(id);
          const other = new CloudStackClient({ apiUrl: csSim.apiUrl, ...csSim.credentials, logger });
          const deleteTemplate = c.deleteTemplate.bind(c);
          const destroyVirtualMachine = c.destroyVirtualMachine.bind(c);
          c.deleteTemplate = async (...args) => {
            await other.waitForJob((await other.deleteTemplate(...args)).jobid, { pollIntervalMs: 20 });
            return deleteTemplate(...args);
          };
          c.destroyVirtualMachine = async (...args) => {
            await other.waitForJob((await other.destroyVirtualMachine(...args)).jobid, { pollIntervalMs: 20 });
            return destroyVirtualMachine(...args);
          };
          return c;
        },
      } as unknown as CloudAccountResolver;
      const raced = createBackupActivities({ ...deps, cloudAccounts: racing });
      const swept = await run(raced.sweepVmLeftovers, { vmId: 'vm3', mode: 'everything', openstackAccountIds: [], cloudstackAccountIds: ['cs'] });
      assert.deepEqual(swept.removed.sort(), ['instance vmflow-vm3-standby', 'template vmflow-vm3-backup-s1', 'template vmflow-vm3-backup-s2']);
      assert.deepEqual([...(await templatesNamed('vmflow-vm3-backup-s1')), ...(await templatesNamed('vmflow-vm3-backup-s2')), ...(await csVmsNamed('vmflow-vm3-standby'))], []);
    });

    it('when the store key does not exist, then registering a template fails non-retryable with StoreImageMissing', async () => {
      const failure = await failureOf(run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName: 'vmflow-missing', storeKey: 'vm-none/none.qcow2', ttlSeconds: 60 }));
      assert.equal(failure.type, 'StoreImageMissing');
      assert.equal(failure.nonRetryable, true);
      assert.equal((await templatesNamed('vmflow-missing')).length, 0);
    });
  });
  describe('the live copy is never deleted, replaced or stopped (defence in depth behind the VM owner)', () => {
    const vmId = `guard-${crypto.randomUUID().slice(0, 8)}`;
    const name = `vmflow-${vmId}-standby`;
    let imageId: string;
    let templateId: string;
    let osLiveId: string;
    let csLiveId: string;

    /** The VM record as the failover's switch leaves it: its placement names the live copy. */
    const placeVm = (placement: { cloud: 'openstack' | 'cloudstack'; accountId: string; serverId: string }) =>
      vmModel(db).replaceOne(
        { _id: vmId },
        { _id: vmId, ownerId: 'guard-owner', name: 'guard', cloud: 'openstack', accountId: 'os', requirements: {}, state: 'active', placement: { ...placement, status: 'ACTIVE', addresses: [] }, workflowIds: [], history: [] },
        { upsert: true },
      );

    before(async () => {
      imageId = (await run(acts.osSnapshotServer, { accountId: 'os', serverId: sourceServerId, imageName: `vmflow-${vmId}-backup-g1` })).imageId;
      await run(acts.osAwaitImage, { accountId: 'os', imageId });
      const key = `vm-${vmId}/backup-g1.qcow2`;
      await run(acts.exportImageToStore, { accountId: 'os', imageId, storeKey: key });
      templateId = (await run(acts.csRegisterTemplateFromStore, { accountId: 'cs', templateName: `vmflow-${vmId}-backup-g1`, storeKey: key, ttlSeconds: 600 })).templateId;
      await run(acts.csAwaitTemplate, { accountId: 'cs', templateId });
      // Standbys as a backup makes them; a failover then promotes each in turn (started, placement switched).
      osLiveId = (await run(acts.osEnsureStandby, { accountId: 'os', name, imageId, flavorName: 'm1.small', networkName: 'private' })).serverId;
      csLiveId = (await run(acts.csEnsureStandby, { accountId: 'cs', name, templateId, serviceOfferingName: 'Small Instance' })).csVmId;
    });
    after(async () => {
      await vmModel(db).deleteOne({ _id: vmId });
      await run(acts.osDeleteServer, { accountId: 'os', serverId: osLiveId }).catch(() => undefined);
      await run(acts.csDestroyStandby, { accountId: 'cs', csVmId: csLiveId }).catch(() => undefined);
    });

    it('when the promoted CloudStack standby runs the VM, then a backup ensuring a standby from another template refuses, and the copy keeps running', async () => {
      const dr = createDrActivities(deps);
      await run(dr.csStartVmAndWait, { accountId: 'cs', csVmId: csLiveId });
      await placeVm({ cloud: 'cloudstack', accountId: 'cs', serverId: csLiveId });
      const other = (await templatesNamed('vmflow-vm1-backup-b2'))[0]?.id ?? 'another-template';
      const failure = await failureOf(run(acts.csEnsureStandby, { accountId: 'cs', name, templateId: other, serviceOfferingName: 'Small Instance' }));
      assert.equal(failure.type, 'LiveCopyProtected');
      assert.equal(failure.nonRetryable, true);
      assert.equal((await failureOf(run(acts.csDestroyStandby, { accountId: 'cs', csVmId: csLiveId }))).type, 'LiveCopyProtected');
      assert.equal((await failureOf(run(dr.csStopVmAndWait, { accountId: 'cs', csVmId: csLiveId }))).type, 'LiveCopyProtected');
      assert.deepEqual((await csVmsNamed(name)).map((v) => [v.id, v.state]), [[csLiveId, 'Running']]);
    });

    it('when the promoted OpenStack standby runs the VM, then deleting, replacing or fencing it is refused, and it stays ACTIVE', async () => {
      const dr = createDrActivities(deps);
      await run(dr.osStartServerAndWait, { accountId: 'os', serverId: osLiveId });
      await placeVm({ cloud: 'openstack', accountId: 'os', serverId: osLiveId });
      assert.equal((await failureOf(run(acts.osEnsureStandby, { accountId: 'os', name, imageId, flavorName: 'm1.small', networkName: 'private' }))).type, 'LiveCopyProtected');
      assert.equal((await failureOf(run(acts.osDeleteServer, { accountId: 'os', serverId: osLiveId }))).type, 'LiveCopyProtected');
      assert.equal((await failureOf(run(dr.osFenceServer, { accountId: 'os', serverId: osLiveId }))).type, 'LiveCopyProtected');
      assert.deepEqual((await serversNamed(name)).map((s) => [s.id, s.status]), [[osLiveId, 'ACTIVE']]);
    });

    it('when the VM is being deleted, then its copy may go', async () => {
      await vmModel(db).updateOne({ _id: vmId }, { $set: { state: 'deleting' } });
      assert.deepEqual(await run(acts.osDeleteServer, { accountId: 'os', serverId: osLiveId }), { existed: true });
    });
  });
});
