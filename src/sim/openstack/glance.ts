/**
 * Glance v2 under `/image`: versions (300), images list/show/create/patch/delete, data upload
 * (streamed to disk with md5 + sha512), download (Content-MD5, Range → 206, 204 without data),
 * the import API (web-download really fetches; glance-direct via stage), tags, deactivation,
 * import info and the image schemas the clients fetch.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, conflict, forbidden, notFound } from './errors';
import { openData } from './image-bytes';
import { CONTAINER_FORMATS, DISK_FORMATS, IMPORT_METHODS } from './images';
import { Router, type Ctx } from './http';
import type { AuthContext, Image } from './model';
import { isoSeconds, isPlainObject, isUuidLike } from './util';

const READ_ONLY = ['id', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'created_at', 'updated_at', 'file', 'self', 'schema', 'direct_url', 'locations', 'stores'];
const BASE_ATTRS = ['name', 'visibility', 'protected', 'min_disk', 'min_ram', 'container_format', 'disk_format', 'tags', 'os_hidden', 'owner'];
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

export function renderImage(img: Image): Record<string, unknown> {
  return {
    ...img.properties,
    id: img.id,
    name: img.name,
    status: img.status,
    visibility: img.visibility,
    protected: img.protected,
    os_hidden: img.hidden,
    checksum: img.checksum,
    os_hash_algo: img.osHashValue ? 'sha512' : null,
    os_hash_value: img.osHashValue,
    owner: img.owner,
    size: img.size,
    virtual_size: img.virtualSize,
    min_ram: img.minRam,
    min_disk: img.minDisk,
    container_format: img.containerFormat,
    disk_format: img.diskFormat,
    created_at: isoSeconds(img.createdAt),
    updated_at: isoSeconds(img.updatedAt),
    tags: [...img.tags],
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
}

function schemaError(detail: string): ApiError {
  return badRequest(`Provided object does not match schema 'image': ${detail}`);
}

/** Applies one base attribute or custom property value, validated as Glance's schema does. */
function setAttr(auth: AuthContext, img: Image, key: string, value: unknown): void {
  switch (key) {
    case 'name':
      if (value !== null && (typeof value !== 'string' || value.length > 255)) throw schemaError(`${JSON.stringify(value)} is not of type 'null', 'string' or is too long`);
      img.name = value as string | null;
      return;
    case 'visibility':
      if (!['public', 'private', 'shared', 'community'].includes(value as string)) throw schemaError(`${JSON.stringify(value)} is not one of ['community', 'public', 'private', 'shared']`);
      if (value === 'public' && !auth.isAdmin) throw forbidden('You are not authorized to complete publicize_image action.');
      img.visibility = value as Image['visibility'];
      return;
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') throw schemaError(`${JSON.stringify(value)} is not of type 'boolean'`);
      if (key === 'protected') img.protected = value;
      else img.hidden = value;
      return;
    case 'min_disk':
    case 'min_ram':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw schemaError(`${JSON.stringify(value)} is not of type 'integer' or is less than the minimum of 0`);
      if (key === 'min_disk') img.minDisk = value;
      else img.minRam = value;
      return;
    case 'container_format':
    case 'disk_format': {
      const allowed = key === 'disk_format' ? DISK_FORMATS : CONTAINER_FORMATS;
      if (value !== null && !allowed.includes(value as string)) throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify(allowed)}`);
      if (key === 'disk_format') img.diskFormat = value as string | null;
      else img.containerFormat = value as string | null;
      return;
    }
    case 'tags':
      if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && t.length <= 255)) throw schemaError(`${JSON.stringify(value)} is not of type 'array' of strings`);
      img.tags = [...new Set(value as string[])];
      return;
    case 'owner':
      if (!auth.isAdmin) throw forbidden("Attribute 'owner' can be set only by administrators.");
      if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string'`);
      img.owner = value;
      return;
    default:
      if (typeof value !== 'string') throw schemaError(`${JSON.stringify(value)} is not of type 'string'`);
      img.properties[key] = value;
  }
}

function checkWritable(key: string): void {
  if (READ_ONLY.includes(key)) throw forbidden(`Attribute '${key}' is read-only.`);
  if (key.startsWith('os_glance')) throw forbidden(`Attribute '${key}' is reserved.`);
}

function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

const IMAGE_SCHEMA_PROPERTIES: Record<string, unknown> = {
  id: { type: 'string', description: 'An identifier for the image', pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$' },
  name: { type: ['null', 'string'], description: 'Descriptive name for the image', maxLength: 255 },
  status: { type: 'string', readOnly: true, description: 'Status of the image', enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] },
  visibility: { type: 'string', description: 'Scope of image accessibility', enum: ['community', 'public', 'private', 'shared'] },
  protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
  os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
  checksum: { type: ['null', 'string'], readOnly: true, description: 'md5 hash of image contents.', maxLength: 32 },
  os_hash_algo: { type: ['null', 'string'], readOnly: true, description: 'Algorithm to calculate the os_hash_value', maxLength: 64 },
  os_hash_value: { type: ['null', 'string'], readOnly: true, description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo', maxLength: 128 },
  owner: { type: ['null', 'string'], description: 'Owner of the image', maxLength: 255 },
  size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
  virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
  container_format: { type: ['null', 'string'], description: 'Format of the container', enum: [null, ...CONTAINER_FORMATS] },
  disk_format: { type: ['null', 'string'], description: 'Format of the disk', enum: [null, ...DISK_FORMATS] },
  created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
  updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
  tags: { type: 'array', description: 'List of strings related to the image', items: { type: 'string', maxLength: 255 } },
  direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
  min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
  min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
  self: { type: 'string', readOnly: true, description: 'An image self url' },
  file: { type: 'string', readOnly: true, description: 'An image file url' },
  stores: { type: 'string', readOnly: true, description: 'Store in which image data resides.' },
  schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  locations: { type: 'array', description: 'A set of URLs to access the image file kept in external store', items: { type: 'object' } },
};

function imageSchema() {
  return {
    name: 'image',
    properties: IMAGE_SCHEMA_PROPERTIES,
    additionalProperties: { type: 'string' },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function glanceRoutes(cloud: Cloud): Router {
  const r = new Router();
  const images = cloud.images;
  const store = cloud.store;

  const versions = (ctx: Ctx) => {
    const list = [];
    for (let minor = 16; minor >= 0; minor--) {
      list.push({ id: `v2.${minor}`, status: minor === 16 ? 'CURRENT' : 'SUPPORTED', links: [{ rel: 'self', href: `${ctx.base}/image/v2/` }] });
    }
    return { versions: list };
  };
  r.get('/', (ctx) => ctx.send(300, versions(ctx)), { public: true });
  r.get('/versions', (ctx) => ctx.send(200, versions(ctx)), { public: true });

  r.get('/v2/schemas/image', (ctx) => ctx.send(200, imageSchema()));
  r.get('/v2/schemas/images', (ctx) =>
    ctx.send(200, {
      name: 'images',
      properties: { images: { type: 'array', items: imageSchema() }, schema: { type: 'string' }, first: { type: 'string' }, next: { type: 'string' } },
      links: [
        { rel: 'first', href: '{first}' },
        { rel: 'next', href: '{next}' },
        { rel: 'describedby', href: '{schema}' },
      ],
    }),
  );
  r.get('/v2/info/import', (ctx) => ctx.send(200, { 'import-methods': { description: 'Import methods available.', type: 'array', value: IMPORT_METHODS } }));

  r.get('/v2/images', (ctx) => {
    const who = ctx.who;
    const q = ctx.query;
    const rawLimit = q.get('limit');
    let limit = DEFAULT_LIMIT;
    if (rawLimit !== null) {
      if (!/^-?\d+$/.test(rawLimit)) throw badRequest('limit param must be an integer');
      limit = Number(rawLimit);
      if (limit < 0) throw badRequest('limit param must be positive');
      limit = Math.min(limit, MAX_LIMIT);
    }
    const visibility = q.get('visibility');
    if (visibility && !['public', 'private', 'shared', 'community', 'all'].includes(visibility)) throw badRequest(`Invalid visibility value: ${visibility}`);
    let list = [...store.images.values()].filter((img) => {
      if (!images.canSee(who, img)) return false;
      if (!visibility) return img.visibility !== 'community' || img.owner === who.projectId;
      if (visibility === 'all') return true;
      return img.visibility === visibility;
    });
    const hidden = q.get('os_hidden');
    list = list.filter((i) => i.hidden === (hidden === 'true'));
    const exact: Record<string, (i: Image) => unknown> = {
      name: (i) => i.name,
      status: (i) => i.status,
      owner: (i) => i.owner,
      disk_format: (i) => i.diskFormat,
      container_format: (i) => i.containerFormat,
      protected: (i) => String(i.protected),
    };
    const ignored = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'visibility', 'os_hidden', 'member_status', 'tag', 'size_min', 'size_max']);
    for (const [key, value] of q) {
      if (ignored.has(key)) continue;
      if (key === 'id' && value.startsWith('in:')) {
        const ids = value.slice(3).split(',');
        list = list.filter((i) => ids.includes(i.id));
      } else if (exact[key]) list = list.filter((i) => String(exact[key](i)) === value);
      else if (key === 'id') list = list.filter((i) => i.id === value);
      else list = list.filter((i) => i.properties[key] === value);
    }
    for (const tag of q.getAll('tag')) list = list.filter((i) => i.tags.includes(tag));
    const sizeMin = q.get('size_min');
    if (sizeMin !== null) list = list.filter((i) => (i.size ?? -1) >= Number(sizeMin));
    const sizeMax = q.get('size_max');
    if (sizeMax !== null) list = list.filter((i) => i.size !== null && i.size <= Number(sizeMax));

    let sortKey = q.get('sort_key') ?? 'created_at';
    let sortDir = q.get('sort_dir') ?? 'desc';
    const sort = q.get('sort');
    if (sort) {
      const [k, d] = sort.split(',')[0].split(':');
      sortKey = k;
      sortDir = d ?? 'desc';
    }
    if (!['asc', 'desc'].includes(sortDir)) throw badRequest(`Invalid sort direction: ${sortDir}`);
    const keyOf = (i: Image): string | number => {
      const v = renderImage(i)[sortKey];
      return typeof v === 'number' ? v : String(v ?? '');
    };
    const dir = sortDir === 'asc' ? 1 : -1;
    list.sort((a, b) => {
      const ka = sortKey === 'created_at' ? a.createdAt : sortKey === 'updated_at' ? a.updatedAt : keyOf(a);
      const kb = sortKey === 'created_at' ? b.createdAt : sortKey === 'updated_at' ? b.updatedAt : keyOf(b);
      if (ka !== kb) return (ka < kb ? -1 : 1) * dir;
      return (a.id < b.id ? -1 : 1) * dir;
    });

    const marker = q.get('marker');
    if (marker) {
      const i = list.findIndex((x) => x.id === marker);
      if (i < 0) throw badRequest(`Invalid marker. Image ${marker} could not be found.`);
      list = list.slice(i + 1);
    }
    const page = list.slice(0, limit);
    const body: Record<string, unknown> = { images: page.map(renderImage), first: '/v2/images', schema: '/v2/schemas/images' };
    if (page.length > 0 && page.length === limit) {
      const next = new URLSearchParams(q);
      next.set('marker', page[page.length - 1].id);
      next.set('limit', String(limit));
      body.next = `/v2/images?${next.toString()}`;
    }
    ctx.send(200, body);
  });

  r.post('/v2/images', async (ctx) => {
    const who = ctx.who;
    const body = await ctx.json();
    if (!isPlainObject(body)) throw badRequest('Body expected in request.');
    const now = Date.now();
    let id = cloud.rng.uuid();
    if (body.id !== undefined) {
      if (typeof body.id !== 'string' || !isUuidLike(body.id)) throw schemaError(`${JSON.stringify(body.id)} does not match the uuid pattern`);
      if (store.images.has(body.id)) throw conflict(`Image with identifier ${body.id} already exists!`);
      id = body.id;
    }
    const img: Image = {
      id,
      name: null,
      status: 'queued',
      visibility: 'shared',
      protected: false,
      containerFormat: null,
      diskFormat: null,
      size: null,
      virtualSize: null,
      checksum: null,
      osHashValue: null,
      minDisk: 0,
      minRam: 0,
      owner: who.projectId,
      tags: [],
      hidden: false,
      createdAt: now,
      updatedAt: now,
      properties: {},
      tasks: [],
    };
    for (const [key, value] of Object.entries(body)) {
      if (key === 'id') continue;
      checkWritable(key);
      setAttr(who, img, key, value);
    }
    store.images.set(img.id, img);
    store.changed();
    ctx.send(201, renderImage(img), { Location: `${ctx.base}/image/v2/images/${img.id}`, 'OpenStack-image-import-methods': IMPORT_METHODS.join(',') });
  });

  r.get('/v2/images/:id', (ctx) => ctx.send(200, renderImage(images.get(ctx.who, ctx.params.id))));

  r.patch('/v2/images/:id', async (ctx) => {
    const type = (ctx.header('content-type') ?? '').split(';')[0].trim();
    if (!['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'].includes(type)) {
      throw new ApiError(415, `Unsupported Content-Type: ${type || '(none)'}`, {
        headers: { 'Accept-Patch': 'application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch' },
      });
    }
    const img = images.getOwned(ctx.who, ctx.params.id);
    const ops = await ctx.json();
    if (!Array.isArray(ops)) throw badRequest('Request body must be a JSON array of operation objects.');
    // Apply to a copy: a failing operation leaves the image untouched, as in Glance.
    const draft: Image = structuredClone(img);
    for (const op of ops) {
      if (!isPlainObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw badRequest('Operation objects must contain exactly one member named "op" and "path".');
      const m = /^\/([^/]+)$/.exec(op.path);
      if (!m) throw badRequest(`Invalid JSON pointer for this resource: '${op.path}'`);
      const key = m[1].replace(/~1/g, '/').replace(/~0/g, '~');
      checkWritable(key);
      const isBase = BASE_ATTRS.includes(key);
      switch (op.op) {
        case 'add':
          if (!isBase && key in draft.properties) throw conflict(`Property ${key} already present.`);
          setAttr(ctx.who, draft, key, op.value);
          break;
        case 'replace':
          if (!isBase && !(key in draft.properties)) throw conflict(`Property ${key} does not exist.`);
          setAttr(ctx.who, draft, key, op.value);
          break;
        case 'remove':
          if (isBase) throw forbidden(`Attribute '${key}' cannot be removed.`);
          if (!(key in draft.properties)) throw conflict(`Property ${key} does not exist.`);
          delete draft.properties[key];
          break;
        default:
          throw badRequest(`Invalid operation: '${op.op}'`);
      }
    }
    Object.assign(img, draft, { status: img.status, data: img.data, tasks: img.tasks });
    images.touch(img);
    ctx.send(200, renderImage(img));
  });

  r.delete('/v2/images/:id', (ctx) => {
    images.delete(ctx.who, ctx.params.id);
    ctx.send(204);
  });

  r.put('/v2/images/:id/file', async (ctx) => {
    const type = (ctx.header('content-type') ?? 'application/octet-stream').split(';')[0].trim();
    if (type !== 'application/octet-stream') throw new ApiError(415, `Content-Type ${type} is not supported; use application/octet-stream.`);
    await images.upload(ctx.who, ctx.params.id, ctx.req);
    ctx.send(204);
  });

  r.put('/v2/images/:id/stage', async (ctx) => {
    await images.stage(ctx.who, ctx.params.id, ctx.req);
    ctx.send(204);
  });

  r.get('/v2/images/:id/file', async (ctx) => {
    const img = images.get(ctx.who, ctx.params.id);
    if (img.status === 'deactivated' && !ctx.who.isAdmin) throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    if (img.status !== 'active' && img.status !== 'deactivated') return ctx.send(204);
    if (!img.data || img.size === null) return ctx.send(204);
    const size = img.size;
    const range = ctx.header('range');
    const parsed = range ? parseRange(range, size) : undefined;
    if (parsed === 'invalid') {
      throw new ApiError(416, `Requested range not satisfiable: ${range}`, { headers: { 'Content-Range': `bytes */${size}` } });
    }
    if (parsed) {
      return ctx.sendStream(
        206,
        { 'Content-Type': 'application/octet-stream', 'Content-Length': String(parsed.end - parsed.start + 1), 'Content-Range': `bytes ${parsed.start}-${parsed.end}/${size}` },
        openData(img.data, parsed.start, parsed.end),
      );
    }
    const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
    if (img.checksum) headers['Content-MD5'] = img.checksum;
    if (size === 0) return ctx.send(200, '', headers);
    return ctx.sendStream(200, headers, openData(img.data, 0, size - 1));
  });

  r.post('/v2/images/:id/import', async (ctx) => {
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.method) || typeof body.method.name !== 'string') throw badRequest("Invalid input: 'method' with a 'name' is required");
    const method = body.method.name;
    if (!IMPORT_METHODS.includes(method)) throw badRequest(`Unknown import method name '${method}'.`);
    let uri: string | undefined;
    if (method === 'web-download') {
      if (typeof body.method.uri !== 'string') throw badRequest("'uri' is required for the web-download import method");
      let parsed: URL;
      try {
        parsed = new URL(body.method.uri);
      } catch {
        throw badRequest(`URI for web-download does not pass filtering: ${body.method.uri}`);
      }
      if (!['http:', 'https:'].includes(parsed.protocol)) throw badRequest(`URI for web-download does not pass filtering: ${body.method.uri}`);
      uri = parsed.toString();
    }
    images.startImport(ctx.who, ctx.params.id, method, uri);
    ctx.send(202);
  });

  r.get('/v2/images/:id/tasks', (ctx) => {
    const img = images.get(ctx.who, ctx.params.id);
    ctx.send(200, {
      tasks: img.tasks.map((t) => ({
        id: t.id,
        type: t.type,
        status: t.status,
        owner: img.owner,
        message: t.message,
        image_id: img.id,
        request_id: ctx.requestId,
        user_id: ctx.who.userId,
        input: { import_req: { method: { name: t.method, ...(t.uri ? { uri: t.uri } : {}) } } },
        result: null,
        created_at: isoSeconds(t.createdAt),
        updated_at: isoSeconds(t.updatedAt),
        expires_at: null,
      })),
    });
  });

  r.put('/v2/images/:id/tags/:tag', (ctx) => {
    const img = images.getOwned(ctx.who, ctx.params.id);
    if (!img.tags.includes(ctx.params.tag)) img.tags.push(ctx.params.tag);
    images.touch(img);
    ctx.send(204);
  });
  r.delete('/v2/images/:id/tags/:tag', (ctx) => {
    const img = images.getOwned(ctx.who, ctx.params.id);
    if (!img.tags.includes(ctx.params.tag)) throw notFound(`Tag ${ctx.params.tag} not found`);
    img.tags = img.tags.filter((t) => t !== ctx.params.tag);
    images.touch(img);
    ctx.send(204);
  });

  const setActivation = (ctx: Ctx, to: 'active' | 'deactivated') => {
    if (!ctx.who.isAdmin) throw forbidden(`You are not authorized to complete ${to === 'active' ? 'reactivate' : 'deactivate'} action.`);
    const img = images.get(ctx.who, ctx.params.id);
    if (img.status !== 'active' && img.status !== 'deactivated') throw forbidden(`Not allowed to ${to === 'active' ? 'reactivate' : 'deactivate'} image in status '${img.status}'`);
    img.status = to;
    images.touch(img);
    ctx.send(204);
  };
  r.post('/v2/images/:id/actions/deactivate', (ctx) => setActivation(ctx, 'deactivated'));
  r.post('/v2/images/:id/actions/reactivate', (ctx) => setActivation(ctx, 'active'));

  return r;
}
