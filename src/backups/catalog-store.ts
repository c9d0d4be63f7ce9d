/**
 * The backup catalog kept beside the images (issue 16, item 6): each finished backup's record,
 * without its task list and standbys, is written as the `vmflowBackup` annotation of its store
 * copy, so the catalog of a VM can be rebuilt from the image store (and checked against the
 * clouds) after vmflow's database is lost. Standbys are left out on purpose: a standby may since
 * have been promoted to the live copy, and a rebuilt record must never call the live server a
 * standby; the next backup makes new standbys.
 */
import type { Connection } from 'mongoose';
import type { ImageStoreClient } from '../imagestore';
import type { Logger } from '../logger';
import { backupModel, type BackupRecord } from './model';

export const CATALOG_ANNOTATION = 'vmflowBackup';

export type CatalogEntry = Pick<BackupRecord, '_id' | 'vmId' | 'ownerId' | 'workflowId' | 'trigger' | 'status' | 'source' | 'image' | 'store' | 'template'> & {
  startedAt: string;
  finishedAt?: string;
  reason?: string;
};

export function catalogEntry(r: BackupRecord): CatalogEntry {
  return {
    _id: r._id,
    vmId: r.vmId,
    ownerId: r.ownerId,
    workflowId: r.workflowId,
    trigger: r.trigger,
    status: r.status,
    ...(r.reason ? { reason: r.reason.slice(0, 300) } : {}),
    startedAt: new Date(r.startedAt).toISOString(),
    ...(r.finishedAt ? { finishedAt: new Date(r.finishedAt).toISOString() } : {}),
    ...(r.source ? { source: r.source } : {}),
    ...(r.image ? { image: r.image } : {}),
    ...(r.store ? { store: r.store } : {}),
    ...(r.template ? { template: r.template } : {}),
  };
}

/** Writes the record beside its store copy; a failure is logged, never fails the backup. */
export async function writeCatalogEntry(store: ImageStoreClient, record: BackupRecord, log: Logger): Promise<boolean> {
  if (!record.store?.key) return false;
  try {
    return !!(await store.annotate(record.store.key, { [CATALOG_ANNOTATION]: catalogEntry(record) }));
  } catch (err) {
    log.warn({ err, backupId: record._id }, 'backup catalog entry could not be written beside the image; the database record stands');
    return false;
  }
}

export interface RebuildResult {
  /** Records written again from the store. */
  restored: string[];
  /** Records the database still had. */
  present: string[];
  /** Entries not restored, and why (image gone from the base cloud, not an entry of this VM…). */
  skipped: Array<{ key: string; reason: string }>;
}

/**
 * Rebuilds a VM's backup records from the catalog entries beside its images in the store
 * (`vms/<vmId>/`). `imageExists` asks the base cloud whether the backup's Glance image is still
 * there: an entry whose image is gone is skipped (restore could not use it). Existing records are
 * left as they are.
 */
export async function rebuildBackupCatalog(o: { db: Connection; store: ImageStoreClient; vmId: string; imageExists: (accountId: string, imageId: string) => Promise<boolean> }): Promise<RebuildResult> {
  const out: RebuildResult = { restored: [], present: [], skipped: [] };
  const Backup = backupModel(o.db);
  for (const meta of await o.store.list(`vms/${o.vmId}/`)) {
    const entry = meta.annotations?.[CATALOG_ANNOTATION] as CatalogEntry | undefined;
    if (!entry) {
      out.skipped.push({ key: meta.key, reason: 'no catalog entry' });
      continue;
    }
    if (entry.vmId !== o.vmId || entry.store?.key !== meta.key) {
      out.skipped.push({ key: meta.key, reason: 'the entry names another VM or image' });
      continue;
    }
    if (await Backup.exists({ _id: entry._id })) {
      out.present.push(entry._id);
      continue;
    }
    if (entry.image && entry.source && !(await o.imageExists(entry.source.accountId, entry.image.id))) {
      out.skipped.push({ key: meta.key, reason: `image ${entry.image.id} is gone from the base cloud` });
      continue;
    }
    try {
      await Backup.create({ ...entry, startedAt: new Date(entry.startedAt), ...(entry.finishedAt ? { finishedAt: new Date(entry.finishedAt) } : {}), tasks: [] });
      out.restored.push(entry._id);
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      out.present.push(entry._id);
    }
  }
  return out;
}
