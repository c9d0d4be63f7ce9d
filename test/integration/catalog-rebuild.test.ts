/**
 * The backup catalog survives the loss of vmflow's database (issue 16, item 6): a finished
 * backup's record is kept beside its image in the image store; after the VM's backup records are
 * deleted from MongoDB, the rebuild (`npm run catalog -- rebuild <vmId>`) writes them back from
 * the store, checked against the base cloud, and a restore from the rebuilt backup works.
 */
import assert from 'node:assert/strict';
import { backupModel } from '../../src/backups/model';
import { CATALOG_ANNOTATION, rebuildBackupCatalog, type CatalogEntry } from '../../src/backups/catalog-store';
import { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { imageExistsVia, main as catalogCommand } from '../../scripts/catalog';
import type { TestApi } from '../harness/api';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { apiCall, waitUntil } from '../harness/http';
import { testKeyring, testLogger } from '../harness/secrets';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('backup catalog rebuilt from the image store', function () {
  this.timeout(600_000);
  let sys: DrSystem;
  let api: TestApi;
  let alice: TestUser;
  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, alice, method, p, body);
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 150_000) => waitUntil(what, fn, timeoutMs);
  const vm = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;

  before(async () => {
    sys = await startDrSystem();
    api = sys.api;
    alice = await signupAndLogin(api.url);
  });
  after(async () => {
    await sys?.stop();
  });

  it('when the command is called without a VM, then it prints its usage and exits 2', async () => {
    const lines: string[] = [];
    assert.equal(await catalogCommand(['rebuild'], (l) => lines.push(l)), 2);
    assert.match(lines.join('\n'), /usage: npm run catalog -- rebuild <vmId>/);
  });

  it('when annotations name no image, then the store says so and keeps nothing', async () => {
    assert.equal(await sys.storeClient.annotate('vms/none/missing.qcow2', { a: 1 }), undefined);
    assert.equal((await sys.storeClient.list('vms/none/')).length, 0);
  });

  it('when a VM\'s backup records are deleted, then the rebuild restores them from the store and a restore from the rebuilt backup works', async () => {
    const r = await call('POST', '/api/v1/vms', { name: 'catalog', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    await until('VM active', async () => ((await vm(vmId)).state === 'active' ? true : undefined));
    const run = await call('POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const backup = await until('backup done', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((b) => b.status !== 'running'));
    assert.equal(backup.status, 'succeeded', JSON.stringify(backup));

    // The record is beside its image in the store.
    const stored = await backupModel(api.deps.db).findById(backup.id).lean();
    assert.ok(stored?.store?.key);
    const meta = (await sys.storeClient.list(`vms/${vmId}/`)).find((m) => m.key === stored.store!.key);
    const entry = meta?.annotations?.[CATALOG_ANNOTATION] as CatalogEntry | undefined;
    assert.equal(entry?._id, backup.id);
    assert.equal(entry?.image?.id, stored.image?.id);
    assert.equal(entry?.status, 'succeeded');

    // The database loses the VM's backup catalog.
    await backupModel(api.deps.db).deleteMany({ vmId });
    assert.equal(((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).length, 0);
    const lost = await call('POST', `/api/v1/vms/${vmId}/restore`, { backupId: backup.id });
    assert.equal(lost.status, 404, 'nothing to restore from before the rebuild');

    const clouds = new CloudAccountResolver({ db: api.deps.db, keyring: testKeyring(), logger: testLogger() });
    const rebuilt = await rebuildBackupCatalog({ db: api.deps.db, store: sys.storeClient, vmId, imageExists: imageExistsVia(clouds) });
    assert.deepEqual(rebuilt.restored, [backup.id]);
    assert.deepEqual(rebuilt.skipped, []);
    const again = await rebuildBackupCatalog({ db: api.deps.db, store: sys.storeClient, vmId, imageExists: imageExistsVia(clouds) });
    assert.deepEqual(again, { restored: [], present: [backup.id], skipped: [] }, 'a second rebuild changes nothing');

    const listed = ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((b) => b.id === backup.id);
    assert.equal(listed?.status, 'succeeded');
    const restoredRecord = await backupModel(api.deps.db).findById(backup.id).lean();
    assert.equal(restoredRecord?.image?.id, stored.image?.id);
    assert.equal(restoredRecord?.store?.sha256, stored.store?.sha256);
    assert.equal(restoredRecord?.baseStandby, undefined, 'standbys are not rebuilt');

    const before = await vm(vmId);
    const restore = await call('POST', `/api/v1/vms/${vmId}/restore`, { backupId: backup.id });
    assert.equal(restore.status, 202, JSON.stringify(restore.body));
    const restored = await until('restored from the rebuilt backup', async () => {
      const v = await vm(vmId);
      return v.state === 'active' && (v.history as Json[]).some((h) => String(h.reason).startsWith(`restored from backup ${backup.id}`)) ? v : undefined;
    });
    assert.notEqual(restored.placement.serverId, before.placement.serverId, 'a new server from the backup image');
  });
});
