/**
 * Glance (image v2): image records, streamed data upload/download, web-download import and
 * JSON-patch updates. The catalog URL of `image` carries no version; `/v2` is added here.
 */
import { Readable } from 'node:stream';
import { bodyObject, enc, header, runDelete, unwrap, versionPrefix, type DeleteOptions } from './envelope';
import { collectLinkedPages } from './pagination';
import type { JsonResponse, OpenStackSession, QueryValue, RequestOptions } from './session';
import type { RequestBody } from './transport';

export type ImageStatus = 'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';
export type DiskFormat = 'ami' | 'ari' | 'aki' | 'vhd' | 'vhdx' | 'vmdk' | 'raw' | 'qcow2' | 'vdi' | 'ploop' | 'iso';
export type ContainerFormat = 'ami' | 'ari' | 'aki' | 'bare' | 'ovf' | 'ova' | 'docker' | 'compressed';

export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus | string;
  visibility?: 'public' | 'private' | 'shared' | 'community';
  protected?: boolean;
  container_format?: string | null;
  disk_format?: string | null;
  size?: number | null;
  virtual_size?: number | null;
  /** MD5 hex of the data. */
  checksum?: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  min_disk?: number;
  min_ram?: number;
  owner?: string;
  tags?: string[];
  created_at?: string;
  updated_at?: string;
  self?: string;
  file?: string;
  schema?: string;
  /** Custom properties appear as top-level string fields (e.g. os_glance_failed_import). */
  [property: string]: unknown;
}

export interface CreateImageOptions {
  name: string;
  disk_format: DiskFormat | string;
  container_format: ContainerFormat | string;
  visibility?: 'public' | 'private' | 'shared' | 'community';
  min_disk?: number;
  min_ram?: number;
  tags?: string[];
  protected?: boolean;
  /** Choose the id yourself (makes the create idempotent across retries). */
  id?: string;
  /** Custom properties, sent as top-level fields. */
  properties?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ListImagesOptions {
  name?: string;
  status?: ImageStatus | string;
  visibility?: string;
  /** Page size; all pages are followed. */
  limit?: number;
  extra?: Record<string, QueryValue>;
  signal?: AbortSignal;
}

export type ImagePatchOp =
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export interface ImageDownload {
  /** False on 204: the image record has no data (yet). The stream is then empty. */
  hasData: boolean;
  stream: Readable;
  /** Content-Length, when sent. */
  size?: number;
  /** Glance sends the image checksum (MD5 hex, not RFC 1864 base64) as Content-MD5. */
  contentMd5?: string;
}

export interface TransferOptions {
  signal?: AbortSignal;
  /** Deadline of the transfer (upload: whole call; download: until headers, then idle time). */
  timeoutMs?: number;
}

/** JSON-patch ops that set (replace existing / add new) or, for null, remove properties. */
export function propertyPatch(current: Image | undefined, props: Record<string, string | null>): ImagePatchOp[] {
  const ops: ImagePatchOp[] = [];
  for (const [key, value] of Object.entries(props)) {
    const path = `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const exists = current !== undefined && current[key] !== undefined;
    if (value === null) {
      if (exists || current === undefined) ops.push({ op: 'remove', path });
    } else ops.push({ op: exists ? 'replace' : 'add', path, value });
  }
  return ops;
}

export class ImageClient {
  constructor(private readonly session: OpenStackSession) {}

  private async call<T = unknown>(opts: Omit<RequestOptions, 'service' | 'stream'>): Promise<JsonResponse<T>> {
    const prefix = await versionPrefix(this.session, 'image', 'v2', opts.signal);
    return this.session.request<T>({ ...opts, service: 'image', path: `${prefix}${opts.path}` });
  }

  /** GET /v2/images with filters, following `next`. */
  async listImages(o: ListImagesOptions = {}): Promise<Image[]> {
    const first: Record<string, QueryValue> = { ...o.extra, name: o.name, status: o.status, visibility: o.visibility, limit: o.limit };
    return collectLinkedPages(async (next) => {
      const res = await this.call<{ images?: Image[]; next?: string }>({ method: 'GET', path: '/images', query: next ?? first, expected: [200], signal: o.signal });
      return { items: unwrap<Image[]>(res, 'images'), next: typeof res.json.next === 'string' ? res.json.next : undefined };
    });
  }

  /** GET /v2/images/{id} */
  async getImage(id: string, opts: { signal?: AbortSignal } = {}): Promise<Image> {
    return bodyObject<Image>(await this.call({ method: 'GET', path: `/images/${enc(id)}`, expected: [200], signal: opts.signal }));
  }

  /** POST /v2/images → 201, status queued. */
  async createImage(o: CreateImageOptions): Promise<Image> {
    const { signal, properties, ...fields } = o;
    const json: Record<string, unknown> = { ...properties };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) json[k] = v;
    return bodyObject<Image>(await this.call({ method: 'POST', path: '/images', json, expected: [201], signal }));
  }

  /**
   * PUT /v2/images/{id}/file → 204 (only from queued; 409 otherwise). The body is streamed; pass a
   * factory (`() => fs.createReadStream(p)`) to let the session replay it after a 401.
   */
  async uploadImageData(id: string, data: RequestBody, opts: TransferOptions & { size?: number } = {}): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (opts.size !== undefined) headers['content-length'] = String(opts.size);
    await this.call({ method: 'PUT', path: `/images/${enc(id)}/file`, body: data, headers, expected: [204], signal: opts.signal, timeoutMs: opts.timeoutMs });
  }

  /** GET /v2/images/{id}/file → 200 streamed, or 204 when the image has no data. */
  async downloadImageData(id: string, opts: TransferOptions = {}): Promise<ImageDownload> {
    const prefix = await versionPrefix(this.session, 'image', 'v2', opts.signal);
    const res = await this.session.request({
      service: 'image',
      method: 'GET',
      path: `${prefix}/images/${enc(id)}/file`,
      headers: { accept: 'application/octet-stream' },
      expected: [200, 204],
      stream: true,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
    });
    if (res.status === 204) {
      res.stream.resume(); // consume the (empty) body so the socket is reused
      return { hasData: false, stream: Readable.from([]), size: 0 };
    }
    const length = header(res.headers, 'content-length');
    return {
      hasData: true,
      stream: res.stream,
      size: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
      contentMd5: header(res.headers, 'content-md5'),
    };
  }

  /** DELETE /v2/images/{id} → 204 (403 when protected). */
  deleteImage(id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: `/images/${enc(id)}`, expected: [204], signal: opts?.signal }));
  }

  /** POST /v2/images/{id}/import web-download → 202; Glance then fetches `uri` (queued → importing → active). */
  async importImage(id: string, o: { uri: string; stores?: string[]; allStores?: boolean; signal?: AbortSignal }): Promise<void> {
    const json: Record<string, unknown> = { method: { name: 'web-download', uri: o.uri } };
    if (o.stores !== undefined) json.stores = o.stores;
    if (o.allStores !== undefined) json.all_stores = o.allStores;
    await this.call({ method: 'POST', path: `/images/${enc(id)}/import`, json, expected: [202], signal: o.signal });
  }

  /** PATCH /v2/images/{id} with JSON-patch ops → 200 updated image. */
  async updateImage(id: string, ops: ImagePatchOp[], opts: { signal?: AbortSignal } = {}): Promise<Image> {
    const res = await this.call({
      method: 'PATCH',
      path: `/images/${enc(id)}`,
      body: JSON.stringify(ops),
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
      expected: [200],
      signal: opts.signal,
    });
    return bodyObject<Image>(res);
  }

  /** Sets custom properties (null removes one); reads the image first unless given. */
  async updateImageProperties(id: string, props: Record<string, string | null>, opts: { current?: Image; signal?: AbortSignal } = {}): Promise<Image> {
    const current = opts.current ?? (await this.getImage(id, { signal: opts.signal }));
    const ops = propertyPatch(current, props);
    if (ops.length === 0) return current;
    return this.updateImage(id, ops, { signal: opts.signal });
  }
}
