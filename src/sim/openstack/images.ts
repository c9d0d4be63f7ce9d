/**
 * The simulated Glance's domain logic: image records and their life cycle (queued → saving →
 * active, killed on a failed upload; the import API's uploading → importing → active, back to
 * queued with `os_glance_failed_import` on a failed import), bytes on disk or generated, seeded
 * public images, and Nova snapshots. glance.ts is its HTTP face.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import type { Cloud } from './cloud';
import { ApiError, conflict, forbidden, notFound } from './errors';
import { generatedStream, hashStream, HashingStream, type Digest } from './image-bytes';
import type { AuthContext, Image, ImageData, ImageTask, Server } from './model';
import { stableUuid, Stopped } from './util';

export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
export const IMPORT_METHODS = ['glance-direct', 'web-download'];
/** The single store of this Glance (os_glance_* properties name it). */
export const STORE_ID = 'file';

/** Public images a fresh simulator offers (what the product's catalog names). */
export const SEED_IMAGES: { name: string; osDistro: string; osVersion: string; virtualGiB: number }[] = [
  { name: 'ubuntu-24.04', osDistro: 'ubuntu', osVersion: '24.04', virtualGiB: 3.5 },
  { name: 'ubuntu-22.04', osDistro: 'ubuntu', osVersion: '22.04', virtualGiB: 2.2 },
  { name: 'centos-stream-9', osDistro: 'centos', osVersion: '9', virtualGiB: 10 },
  { name: 'fedora-41', osDistro: 'fedora', osVersion: '41', virtualGiB: 5 },
];

export class ImageEngine {
  /** Abort handles of uploads and imports in flight, by image id. */
  private readonly inflight = new Map<string, AbortController>();

  constructor(
    private readonly cloud: Cloud,
    readonly dataDir: string,
  ) {
    fs.mkdirSync(this.imagesDir, { recursive: true });
  }

  get imagesDir(): string {
    return path.join(this.dataDir, 'images');
  }

  private get store() {
    return this.cloud.store;
  }

  async seed(ownerProjectId: string): Promise<void> {
    const size = this.cloud.timings.seedImageBytes;
    for (const s of SEED_IMAGES) {
      const id = stableUuid(`image:${s.name}`);
      const data: ImageData = { kind: 'generated', key: `seed:${s.name}:${size}`, size };
      const digest = await hashStream(generatedStream(data.key, size));
      const now = Date.now();
      this.store.images.set(id, {
        id,
        name: s.name,
        status: 'active',
        visibility: 'public',
        protected: false,
        containerFormat: 'bare',
        diskFormat: 'qcow2',
        size: digest.size,
        virtualSize: Math.round(s.virtualGiB * 1024 ** 3),
        checksum: digest.md5,
        osHashValue: digest.sha512,
        minDisk: 0,
        minRam: 0,
        owner: ownerProjectId,
        tags: [],
        hidden: false,
        createdAt: now,
        updatedAt: now,
        properties: { os_distro: s.osDistro, os_version: s.osVersion, hw_disk_bus: 'virtio', hw_vif_model: 'virtio', stores: STORE_ID },
        data,
        tasks: [],
      });
    }
    this.store.changed();
  }

  canSee(auth: AuthContext, img: Image): boolean {
    return auth.isAdmin || img.visibility === 'public' || img.visibility === 'community' || img.owner === auth.projectId;
  }

  /** The image if the caller may see it; 404 otherwise (Glance hides others' private images). */
  get(auth: AuthContext, id: string): Image {
    const img = this.store.images.get(id);
    if (!img || !this.canSee(auth, img)) throw notFound(`No image found with ID ${id}`);
    return img;
  }

  /** The image if the caller may change it (owner or admin); 403 for others' public images. */
  getOwned(auth: AuthContext, id: string): Image {
    const img = this.get(auth, id);
    if (!auth.isAdmin && img.owner !== auth.projectId) throw forbidden('You are not permitted to modify this image.');
    return img;
  }

  touch(img: Image): void {
    img.updatedAt = Date.now();
    this.store.changed();
  }

  private filePath(id: string, suffix = ''): string {
    return path.join(this.imagesDir, `${id}${suffix}`);
  }

  delete(auth: AuthContext, id: string): void {
    const img = this.getOwned(auth, id);
    if (img.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    this.remove(img);
  }

  /** Removes the record, cancels its upload/import and frees its bytes. */
  remove(img: Image): void {
    this.inflight.get(img.id)?.abort();
    this.inflight.delete(img.id);
    this.store.images.delete(img.id);
    for (const suffix of ['', '.part', '.staging']) fs.rm(this.filePath(img.id, suffix), { force: true }, () => undefined);
    this.store.changed();
  }

  /** The transfer's controller: aborted by a delete of the image or when the simulator stops. */
  private begin(id: string): AbortController {
    const ac = this.cloud.clock.link();
    this.inflight.set(id, ac);
    return ac;
  }

  /** Ends a transfer (also when it finished normally): the clock no longer holds its controller. */
  private end(id: string, ac: AbortController): void {
    this.cloud.clock.release(ac);
    if (this.inflight.get(id) === ac) this.inflight.delete(id);
  }

  private activate(img: Image, data: ImageData, digest: Digest): void {
    img.data = data;
    img.size = digest.size;
    img.checksum = digest.md5;
    img.osHashValue = digest.sha512;
    img.status = 'active';
    img.properties.stores = STORE_ID;
    this.touch(img);
  }

  /**
   * `PUT /v2/images/{id}/file`: streams the body to disk while hashing. Only from queued (409
   * otherwise); a broken upload leaves the image `killed`; an image deleted meanwhile → 410.
   */
  async upload(auth: AuthContext, id: string, body: Readable): Promise<void> {
    const img = this.getOwned(auth, id);
    if (img.status !== 'queued') throw conflict(`Image status transition from ${img.status} to saving is not allowed`);
    img.status = 'saving';
    this.touch(img);
    const ac = this.begin(id);
    const part = this.filePath(id, '.part');
    const hasher = new HashingStream();
    try {
      await pipeline(body, hasher, fs.createWriteStream(part), { signal: ac.signal });
    } catch (err) {
      await fs.promises.rm(part, { force: true });
      this.end(id, ac);
      if (!this.store.images.has(id)) throw new ApiError(410, 'Image deleted during upload, cleaning up the chunks uploaded.');
      img.status = 'killed';
      this.touch(img);
      if (this.cloud.clock.signal.aborted) throw new Stopped();
      throw new ApiError(400, `Error in store configuration or upload failed: ${(err as Error).message}`);
    }
    this.end(id, ac);
    if (!this.store.images.has(id)) {
      await fs.promises.rm(part, { force: true });
      throw new ApiError(410, 'Image deleted during upload, cleaning up the chunks uploaded.');
    }
    const file = this.filePath(id);
    await fs.promises.rename(part, file);
    this.activate(img, { kind: 'file', path: file }, hasher.digest());
  }

  /** `PUT /v2/images/{id}/stage` (glance-direct, step 1): queued → uploading. */
  async stage(auth: AuthContext, id: string, body: Readable): Promise<void> {
    const img = this.getOwned(auth, id);
    if (img.status !== 'queued') throw conflict(`Image status transition from ${img.status} to uploading is not allowed`);
    img.status = 'uploading';
    this.touch(img);
    const ac = this.begin(id);
    try {
      await pipeline(body, fs.createWriteStream(this.filePath(id, '.staging')), { signal: ac.signal });
    } catch (err) {
      await fs.promises.rm(this.filePath(id, '.staging'), { force: true });
      this.end(id, ac);
      if (this.store.images.has(id)) {
        img.status = 'queued';
        this.touch(img);
      }
      throw new ApiError(400, `Staging failed: ${(err as Error).message}`);
    } finally {
      this.end(id, ac);
    }
  }

  /**
   * `POST /v2/images/{id}/import`: web-download really fetches the URI (streamed to disk,
   * hashed); glance-direct takes the staged bytes. 202 first, the work happens in the background.
   */
  startImport(auth: AuthContext, id: string, method: string, uri?: string): void {
    const img = this.getOwned(auth, id);
    if (method === 'web-download' && img.status !== 'queued') throw conflict("Image needs to be in 'queued' state to use 'web-download' method");
    if (method === 'glance-direct' && img.status !== 'uploading') throw conflict("Image needs to be staged before 'glance-direct' method can be used");
    if (this.inflight.has(id)) throw conflict(`Image ${id} has an import in progress`);
    const now = Date.now();
    const task: ImageTask = { id: this.cloud.rng.uuid(), type: 'api_image_import', status: 'processing', method, uri, message: '', createdAt: now, updatedAt: now };
    img.tasks.push(task);
    img.status = 'importing';
    img.properties.os_glance_import_task = task.id;
    img.properties.os_glance_importing_to_stores = STORE_ID;
    img.properties.os_glance_failed_import = '';
    this.touch(img);
    const ac = this.begin(id);
    this.cloud.clock.spawn(`import ${id}`, async () => {
      const started = Date.now();
      const part = this.filePath(id, '.part');
      try {
        let digest: Digest;
        if (method === 'web-download') digest = await this.download(uri!, part, ac.signal);
        else {
          const hasher = new HashingStream();
          await pipeline(fs.createReadStream(this.filePath(id, '.staging')), hasher, fs.createWriteStream(part), { signal: ac.signal });
          await fs.promises.rm(this.filePath(id, '.staging'), { force: true });
          digest = hasher.digest();
        }
        await this.cloud.clock.sleep(Math.max(0, this.cloud.timings.importMs - (Date.now() - started)), ac.signal);
        if (!this.store.images.has(id)) return;
        const file = this.filePath(id);
        await fs.promises.rename(part, file);
        img.properties.os_glance_importing_to_stores = '';
        task.status = 'success';
        task.message = '';
        task.updatedAt = Date.now();
        this.activate(img, { kind: 'file', path: file }, digest);
      } catch (err) {
        await fs.promises.rm(part, { force: true });
        if (ac.signal.aborted || !this.store.images.has(id)) return;
        img.status = 'queued';
        img.properties.os_glance_importing_to_stores = '';
        img.properties.os_glance_failed_import = STORE_ID;
        task.status = 'failure';
        task.message = (err as Error).message;
        task.updatedAt = Date.now();
        this.touch(img);
        this.cloud.log.info({ imageId: id, err: (err as Error).message }, 'simulated glance import failed');
      } finally {
        this.end(id, ac);
      }
    });
  }

  private async download(uri: string, dest: string, signal: AbortSignal): Promise<Digest> {
    const res = await fetch(uri, { signal, redirect: 'follow' });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`web-download of ${uri} failed: HTTP ${res.status}`);
    }
    const hasher = new HashingStream();
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), hasher, fs.createWriteStream(dest), { signal });
    return hasher.digest();
  }

  /** A Nova snapshot: a queued private image now, bytes and `active` when Nova uploads them. */
  createSnapshot(server: Server, name: string, metadata: Record<string, string>, auth: AuthContext): Image {
    const base = this.store.images.get(server.imageId);
    const flavor = this.cloud.compute.flavor(server.flavorId);
    const inherited: Record<string, string> = {};
    for (const [k, v] of Object.entries(base?.properties ?? {})) {
      if (!k.startsWith('os_glance') && k !== 'stores' && !['image_type', 'instance_uuid', 'base_image_ref', 'image_location'].includes(k)) inherited[k] = v;
    }
    const now = Date.now();
    const img: Image = {
      id: this.cloud.rng.uuid(),
      name,
      status: 'queued',
      visibility: 'private',
      protected: false,
      containerFormat: 'bare',
      diskFormat: 'qcow2',
      size: null,
      virtualSize: null,
      checksum: null,
      osHashValue: null,
      minDisk: flavor?.disk ?? 0,
      minRam: base?.minRam ?? 0,
      owner: server.projectId,
      tags: [],
      hidden: false,
      createdAt: now,
      updatedAt: now,
      properties: {
        ...inherited,
        ...metadata,
        image_type: 'snapshot',
        instance_uuid: server.id,
        base_image_ref: server.imageId,
        image_location: 'snapshot',
        owner_project_name: auth.projectName,
        owner_user_name: auth.userName,
        user_id: auth.userId,
        boot_roles: auth.roles.join(','),
      },
      tasks: [],
    };
    this.store.images.set(img.id, img);
    this.store.changed();
    return img;
  }

  /** Nova's upload of a snapshot: saving while the generated bytes are hashed, then active. */
  async uploadSnapshot(img: Image, signal: AbortSignal): Promise<boolean> {
    if (!this.store.images.has(img.id) || img.status !== 'queued') return false;
    img.status = 'saving';
    this.touch(img);
    const size = this.cloud.timings.snapshotBytes;
    const data: ImageData = { kind: 'generated', key: `snapshot:${img.id}`, size };
    const [digest] = await Promise.all([hashStream(generatedStream(data.key, size), signal), this.cloud.clock.sleep(this.cloud.timings.imageSaveMs, signal)]);
    if (!this.store.images.has(img.id)) return false;
    this.activate(img, data, digest);
    img.virtualSize = img.minDisk * 1024 ** 3 || digest.size;
    return true;
  }

  /** After a restart: work that was in flight cannot resume, so it ends the way Glance's would. */
  recover(): void {
    for (const img of this.store.images.values()) {
      if (img.status === 'saving' && img.properties.image_type !== 'snapshot') img.status = 'killed';
      if (img.status === 'importing') {
        img.status = 'queued';
        img.properties.os_glance_importing_to_stores = '';
        img.properties.os_glance_failed_import = STORE_ID;
        for (const t of img.tasks) if (t.status === 'processing') Object.assign(t, { status: 'failure', message: 'Glance restarted during import' });
      }
      if (img.data?.kind === 'file' && !fs.existsSync(img.data.path)) {
        this.cloud.log.warn({ imageId: img.id }, 'image bytes missing from the data dir; image marked killed');
        img.status = 'killed';
        img.data = undefined;
      }
    }
  }
}
