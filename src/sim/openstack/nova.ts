/**
 * Nova v2.1 under `/compute`: version documents, microversion negotiation (echoed on every
 * answer with Vary, as gophercloud reads it), flavors, servers (create with Nova's validation,
 * list/detail with regex `name`, `status`, limit/marker pagination and servers_links, show,
 * update, delete, metadata, ips), server actions, key pairs, limits and quota sets.
 */
import type { Cloud } from './cloud';
import { DEFAULT_QUOTA, FLAVORS, parseMetadata, serverStatus, type CreateServerRequest, type NetworkRequest } from './compute';
import { ApiError, badRequest, forbidden, notFound } from './errors';
import { Router, type Ctx } from './http';
import type { Flavor, Keypair, Server } from './model';
import { isIpv4 } from './network';
import { isoMicrosNaive, isoSeconds, isPlainObject, isUuidLike } from './util';

export const NOVA_MIN_MICROVERSION: [number, number] = [2, 1];
export const NOVA_MAX_MICROVERSION: [number, number] = [2, 96];
const MAX_STR = `${NOVA_MAX_MICROVERSION[0]}.${NOVA_MAX_MICROVERSION[1]}`;
const MAX_LIMIT = 1000;

/** Reads OpenStack-API-Version / X-OpenStack-Nova-API-Version; 400 on bad format, 406 out of range. */
export function negotiateMicroversion(ctx: Ctx): void {
  let requested: string | undefined;
  const modern = ctx.header('openstack-api-version');
  if (modern) {
    for (const part of modern.split(',')) {
      const [svc, ver] = part.trim().split(/\s+/);
      if (svc?.toLowerCase() === 'compute' && ver) requested = ver;
    }
  }
  requested ??= ctx.header('x-openstack-nova-api-version')?.trim();
  let version: [number, number] = NOVA_MIN_MICROVERSION;
  if (requested) {
    if (requested.toLowerCase() === 'latest') version = NOVA_MAX_MICROVERSION;
    else {
      const m = /^([1-9]\d*)\.(0|[1-9]\d*)$/.exec(requested);
      if (!m) throw badRequest(`API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`);
      version = [Number(m[1]), Number(m[2])];
      const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
      if (cmp(version, NOVA_MIN_MICROVERSION) < 0 || cmp(version, NOVA_MAX_MICROVERSION) > 0) {
        throw new ApiError(406, `Version ${requested} is not supported by the API. Minimum is 2.1 and maximum is ${MAX_STR}.`);
      }
    }
  }
  ctx.microversion = version;
  const v = `${version[0]}.${version[1]}`;
  ctx.responseHeaders['OpenStack-API-Version'] = `compute ${v}`;
  ctx.responseHeaders['X-OpenStack-Nova-API-Version'] = v;
  ctx.responseHeaders.Vary = 'OpenStack-API-Version, X-OpenStack-Nova-API-Version';
}

function versionDoc(base: string) {
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_STR,
    min_version: '2.1',
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base}/compute/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

function invalidInput(field: string, value: unknown, why: string): ApiError {
  return badRequest(`Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${why}`);
}

function parseLimit(ctx: Ctx): number | undefined {
  const raw = ctx.query.get('limit');
  if (raw === null) return undefined;
  if (!/^[0-9]+$/.test(raw)) throw badRequest(`Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
  return Math.min(Number(raw), MAX_LIMIT);
}

/** Items after `marker`, up to `limit`, and a `next` link when the page is full (as Nova does). */
function paginate<T>(ctx: Ctx, items: T[], hrefPath: string, idOf: (t: T) => string): { page: T[]; links?: { rel: string; href: string }[] } {
  const limit = parseLimit(ctx) ?? MAX_LIMIT;
  const marker = ctx.query.get('marker');
  let start = 0;
  if (marker) {
    const i = items.findIndex((x) => idOf(x) === marker);
    if (i < 0) throw badRequest(`marker [${marker}] not found`);
    start = i + 1;
  }
  const page = items.slice(start, start + limit);
  if (page.length === 0 || page.length < limit) return { page };
  const q = new URLSearchParams(ctx.query);
  q.delete('marker');
  q.set('limit', String(limit));
  q.set('marker', idOf(page[page.length - 1]));
  return { page, links: [{ rel: 'next', href: `${ctx.base}/compute/v2.1/${hrefPath}?${q.toString()}` }] };
}

const byId = (x: { id: string }) => x.id;

export function novaRoutes(cloud: Cloud): Router {
  const r = new Router();
  const compute = cloud.compute;
  const store = cloud.store;

  const flavorLinks = (ctx: Ctx, id: string) => [
    { rel: 'self', href: `${ctx.base}/compute/v2.1/flavors/${id}` },
    { rel: 'bookmark', href: `${ctx.base}/compute/flavors/${id}` },
  ];
  const serverLinks = (ctx: Ctx, id: string) => [
    { rel: 'self', href: `${ctx.base}/compute/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${ctx.base}/compute/servers/${id}` },
  ];

  const renderFlavor = (ctx: Ctx, f: Flavor, detail: boolean) => {
    const out: Record<string, unknown> = { id: f.id, name: f.name, links: flavorLinks(ctx, f.id) };
    if (ctx.atLeast(55)) out.description = f.description;
    if (!detail) return out;
    Object.assign(out, {
      ram: f.ram,
      disk: f.disk,
      vcpus: f.vcpus,
      swap: ctx.atLeast(75) ? f.swap : f.swap || '',
      'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
      'OS-FLV-DISABLED:disabled': false,
      'os-flavor-access:is_public': f.isPublic,
      rxtx_factor: 1.0,
    });
    if (ctx.atLeast(61)) out.extra_specs = {};
    return out;
  };

  const renderServer = (ctx: Ctx, s: Server) => {
    const status = serverStatus(s);
    const flavor = compute.flavor(s.flavorId);
    const admin = ctx.who.isAdmin;
    const out: Record<string, unknown> = {
      id: s.id,
      name: s.name,
      status,
      tenant_id: s.projectId,
      user_id: s.userId,
      metadata: { ...s.metadata },
      hostId: s.vmState === 'building' && s.taskState === 'scheduling' ? '' : compute.hostId(s.projectId),
      image: { id: s.imageId, links: [{ rel: 'bookmark', href: `${ctx.base}/compute/images/${s.imageId}` }] },
      flavor: ctx.atLeast(47)
        ? { vcpus: flavor?.vcpus, ram: flavor?.ram, disk: flavor?.disk, ephemeral: flavor?.ephemeral ?? 0, swap: flavor?.swap ?? 0, original_name: flavor?.name, extra_specs: {} }
        : { id: s.flavorId, links: [{ rel: 'bookmark', href: `${ctx.base}/compute/flavors/${s.flavorId}` }] },
      created: isoSeconds(s.createdAt),
      updated: isoSeconds(s.updatedAt),
      addresses: cloud.network.addressesForServer(s),
      accessIPv4: '',
      accessIPv6: '',
      links: serverLinks(ctx, s.id),
      'OS-DCF:diskConfig': 'MANUAL',
      'OS-EXT-AZ:availability_zone': s.availabilityZone,
      config_drive: '',
      key_name: s.keyName,
      'OS-SRV-USG:launched_at': s.launchedAt ? isoMicrosNaive(s.launchedAt) : null,
      'OS-SRV-USG:terminated_at': null,
      'OS-EXT-STS:task_state': s.taskState,
      'OS-EXT-STS:vm_state': s.vmState,
      'OS-EXT-STS:power_state': s.powerState,
      'os-extended-volumes:volumes_attached': [],
      security_groups: s.securityGroups.map((name) => ({ name })),
    };
    if (['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'].includes(status)) out.progress = s.progress;
    if (admin) {
      out['OS-EXT-SRV-ATTR:host'] = 'sim-compute-1';
      out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = 'sim-compute-1';
      out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${s.id.slice(0, 8)}`;
      if (ctx.atLeast(3)) {
        out['OS-EXT-SRV-ATTR:user_data'] = s.userData;
        out['OS-EXT-SRV-ATTR:reservation_id'] = `r-${s.id.slice(0, 8)}`;
        out['OS-EXT-SRV-ATTR:launch_index'] = 0;
        out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
        out['OS-EXT-SRV-ATTR:kernel_id'] = '';
        out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      }
    }
    if (ctx.atLeast(3) && (admin || ctx.atLeast(90))) out['OS-EXT-SRV-ATTR:hostname'] = s.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
    if (ctx.atLeast(9)) out.locked = false;
    if (ctx.atLeast(19)) out.description = s.description;
    if (ctx.atLeast(26)) out.tags = [...s.tags];
    if (ctx.atLeast(63)) out.trusted_image_certificates = null;
    if (ctx.atLeast(71)) out.server_groups = [];
    if (ctx.atLeast(73)) out.locked_reason = null;
    if (ctx.atLeast(96)) out.pinned_availability_zone = null;
    if (s.fault && status === 'ERROR') {
      out.fault = { code: s.fault.code, created: s.fault.created, message: s.fault.message, ...(admin && s.fault.details ? { details: s.fault.details } : {}) };
    }
    return out;
  };

  const listServers = (ctx: Ctx): Server[] => {
    const who = ctx.who;
    const allTenants = who.isAdmin && ['1', 'true', 'True', ''].includes(ctx.query.get('all_tenants') ?? 'no');
    let list = [...store.servers.values()].filter((s) => allTenants || s.projectId === who.projectId);
    const name = ctx.query.get('name');
    if (name) {
      // Nova matches `name` as a regular expression (a DB REGEXP), not as an exact name.
      let re: RegExp | undefined;
      try {
        re = new RegExp(name);
      } catch {
        re = undefined;
      }
      list = re ? list.filter((s) => re.test(s.name)) : [];
    }
    const statuses = ctx.query.getAll('status').map((x) => x.toUpperCase());
    if (statuses.length) list = list.filter((s) => statuses.includes(serverStatus(s)));
    const image = ctx.query.get('image');
    if (image) list = list.filter((s) => s.imageId === image || image.endsWith(`/${s.imageId}`));
    const flavor = ctx.query.get('flavor');
    if (flavor) list = list.filter((s) => s.flavorId === flavor || flavor.endsWith(`/${s.flavorId}`));
    const since = ctx.query.get('changes-since');
    if (since) {
      const t = Date.parse(since);
      if (Number.isNaN(t)) throw badRequest(`Invalid input for query parameters changes-since. Value: ${since}. '${since}' is not a 'date-time'`);
      list = list.filter((s) => s.updatedAt >= t);
    }
    const sortDir = ctx.query.get('sort_dir') === 'asc' ? 1 : -1;
    const sortKey = ctx.query.get('sort_key') ?? 'created_at';
    const keyOf = (s: Server): string | number => (sortKey === 'display_name' ? s.name : sortKey === 'updated_at' ? s.updatedAt : sortKey === 'uuid' ? s.id : s.createdAt);
    list.sort((a, b) => {
      const ka = keyOf(a);
      const kb = keyOf(b);
      if (ka !== kb) return (ka < kb ? -1 : 1) * sortDir;
      return (a.id < b.id ? -1 : 1) * sortDir;
    });
    return list;
  };

  // ---- versions ----
  r.get('/', (ctx) => ctx.send(200, { versions: [{ ...versionDoc(ctx.base), links: [{ rel: 'self', href: `${ctx.base}/compute/v2.1/` }] }] }), { public: true });
  r.get('/v2.1', (ctx) => ctx.send(200, { version: versionDoc(ctx.base) }), { public: true });

  // ---- flavors ----
  const listFlavors = (ctx: Ctx) => {
    let list = FLAVORS.filter((f) => f.isPublic);
    const minRam = ctx.query.get('minRam');
    if (minRam !== null) list = list.filter((f) => f.ram >= Number(minRam));
    const minDisk = ctx.query.get('minDisk');
    if (minDisk !== null) list = list.filter((f) => f.disk >= Number(minDisk));
    return list;
  };
  r.get('/v2.1/flavors', (ctx) => {
    const { page, links } = paginate(ctx, listFlavors(ctx), 'flavors', byId);
    ctx.send(200, { flavors: page.map((f) => renderFlavor(ctx, f, false)), ...(links ? { flavors_links: links } : {}) });
  });
  r.get('/v2.1/flavors/detail', (ctx) => {
    const { page, links } = paginate(ctx, listFlavors(ctx), 'flavors/detail', byId);
    ctx.send(200, { flavors: page.map((f) => renderFlavor(ctx, f, true)), ...(links ? { flavors_links: links } : {}) });
  });
  r.get('/v2.1/flavors/:id', (ctx) => {
    const f = compute.flavor(ctx.params.id);
    if (!f) throw notFound(`Flavor ${ctx.params.id} could not be found.`);
    ctx.send(200, { flavor: renderFlavor(ctx, f, true) });
  });
  r.get('/v2.1/flavors/:id/os-extra_specs', (ctx) => {
    if (!compute.flavor(ctx.params.id)) throw notFound(`Flavor ${ctx.params.id} could not be found.`);
    ctx.send(200, { extra_specs: {} });
  });

  // ---- servers ----
  r.get('/v2.1/servers', (ctx) => {
    const { page, links } = paginate(ctx, listServers(ctx), 'servers', byId);
    ctx.send(200, { servers: page.map((s) => ({ id: s.id, name: s.name, links: serverLinks(ctx, s.id) })), ...(links ? { servers_links: links } : {}) });
  });
  r.get('/v2.1/servers/detail', (ctx) => {
    const { page, links } = paginate(ctx, listServers(ctx), 'servers/detail', byId);
    ctx.send(200, { servers: page.map((s) => renderServer(ctx, s)), ...(links ? { servers_links: links } : {}) });
  });

  r.post('/v2.1/servers', async (ctx) => {
    const req = parseCreate(ctx, await ctx.json());
    const { server, adminPass } = await compute.create(ctx.who, req);
    ctx.send(
      202,
      { server: { id: server.id, links: serverLinks(ctx, server.id), 'OS-DCF:diskConfig': 'MANUAL', security_groups: server.securityGroups.map((name) => ({ name })), adminPass } },
      { Location: `${ctx.base}/compute/v2.1/servers/${server.id}` },
    );
  });

  r.get('/v2.1/servers/:id', (ctx) => ctx.send(200, { server: renderServer(ctx, compute.get(ctx.who, ctx.params.id)) }));

  r.put('/v2.1/servers/:id', async (ctx) => {
    const s = compute.get(ctx.who, ctx.params.id);
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.server)) throw invalidInput('server', body, "'server' is a required property");
    const u = body.server;
    for (const k of Object.keys(u)) {
      if (!['name', 'description', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', 'hostname'].includes(k)) throw badRequest(`Invalid input for field/attribute server. Value: ${JSON.stringify(u)}. Additional properties are not allowed ('${k}' was unexpected)`);
    }
    if (u.name !== undefined) {
      if (typeof u.name !== 'string' || !u.name.trim() || u.name.length > 255) throw invalidInput('name', u.name, "'name' must be a non-empty string of at most 255 characters");
      s.name = u.name;
    }
    if (u.description !== undefined) {
      if (!ctx.atLeast(19)) throw badRequest(`Invalid input for field/attribute server. Value: ${JSON.stringify(u)}. Additional properties are not allowed ('description' was unexpected)`);
      if (u.description !== null && (typeof u.description !== 'string' || u.description.length > 255)) throw invalidInput('description', u.description, 'must be a string of at most 255 characters or null');
      s.description = u.description as string | null;
    }
    s.updatedAt = Date.now();
    store.changed();
    ctx.send(200, { server: renderServer(ctx, s) });
  });

  r.delete('/v2.1/servers/:id', (ctx) => {
    compute.delete(ctx.who, ctx.params.id);
    ctx.send(204);
  });

  r.get('/v2.1/servers/:id/ips', (ctx) => ctx.send(200, { addresses: cloud.network.addressesForServer(compute.get(ctx.who, ctx.params.id)) }));

  // ---- server metadata ----
  const metaBody = async (ctx: Ctx, key: 'metadata' | 'meta') => {
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body[key])) throw invalidInput(key, body, `'${key}' is a required property`);
    return parseMetadata(body[key], key);
  };
  const writable = (ctx: Ctx) => {
    const s = compute.get(ctx.who, ctx.params.id);
    if (s.deleting) throw new ApiError(409, `Cannot 'update metadata' instance ${s.id} while it is in task_state deleting`);
    return s;
  };
  r.get('/v2.1/servers/:id/metadata', (ctx) => ctx.send(200, { metadata: { ...compute.get(ctx.who, ctx.params.id).metadata } }));
  r.put('/v2.1/servers/:id/metadata', async (ctx) => {
    const s = writable(ctx);
    s.metadata = await metaBody(ctx, 'metadata');
    s.updatedAt = Date.now();
    store.changed();
    ctx.send(200, { metadata: { ...s.metadata } });
  });
  r.post('/v2.1/servers/:id/metadata', async (ctx) => {
    const s = writable(ctx);
    Object.assign(s.metadata, await metaBody(ctx, 'metadata'));
    s.updatedAt = Date.now();
    store.changed();
    ctx.send(200, { metadata: { ...s.metadata } });
  });
  r.get('/v2.1/servers/:id/metadata/:key', (ctx) => {
    const s = compute.get(ctx.who, ctx.params.id);
    if (!(ctx.params.key in s.metadata)) throw notFound('Metadata item was not found');
    ctx.send(200, { meta: { [ctx.params.key]: s.metadata[ctx.params.key] } });
  });
  r.put('/v2.1/servers/:id/metadata/:key', async (ctx) => {
    const s = writable(ctx);
    const meta = await metaBody(ctx, 'meta');
    if (Object.keys(meta).length !== 1 || !(ctx.params.key in meta)) throw badRequest('Request body and URI mismatch');
    s.metadata[ctx.params.key] = meta[ctx.params.key];
    s.updatedAt = Date.now();
    store.changed();
    ctx.send(200, { meta });
  });
  r.delete('/v2.1/servers/:id/metadata/:key', (ctx) => {
    const s = writable(ctx);
    if (!(ctx.params.key in s.metadata)) throw notFound('Metadata item was not found');
    delete s.metadata[ctx.params.key];
    s.updatedAt = Date.now();
    store.changed();
    ctx.send(204);
  });

  // ---- server actions ----
  r.post('/v2.1/servers/:id/action', async (ctx) => {
    const body = await ctx.json();
    if (!isPlainObject(body) || Object.keys(body).length === 0) throw badRequest('Malformed request body');
    const action = Object.keys(body)[0];
    const arg = body[action];
    const id = ctx.params.id;
    const who = ctx.who;
    switch (action) {
      case 'os-start':
        compute.start(who, id);
        return ctx.send(202);
      case 'os-stop':
        compute.stop(who, id);
        return ctx.send(202);
      case 'reboot': {
        const type = isPlainObject(arg) ? arg.type : undefined;
        if (typeof type !== 'string' || !['SOFT', 'HARD'].includes(type.toUpperCase())) {
          throw invalidInput('type', type, `${JSON.stringify(type)} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`);
        }
        compute.reboot(who, id, type.toUpperCase() as 'SOFT' | 'HARD');
        return ctx.send(202);
      }
      case 'createImage': {
        if (!isPlainObject(arg)) throw invalidInput('createImage', arg, "'createImage' must be an object");
        if (typeof arg.name !== 'string' || !arg.name.trim() || arg.name.length > 255) throw invalidInput('name', arg.name, "'name' is a required property");
        const metadata = parseMetadata(arg.metadata);
        const imageId = compute.createImage(who, id, arg.name, metadata);
        if (ctx.atLeast(45)) return ctx.send(202, { image_id: imageId });
        // Nova builds this from the Glance endpoint as `<glance>/images/<id>` (no /v2).
        return ctx.send(202, undefined, { Location: `${ctx.base}/image/images/${imageId}` });
      }
      case 'resize': {
        const flavorRef = isPlainObject(arg) ? arg.flavorRef : undefined;
        if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number') throw invalidInput('flavorRef', flavorRef, "'flavorRef' is a required property");
        compute.resize(who, id, String(flavorRef));
        return ctx.send(202);
      }
      case 'confirmResize':
        compute.confirmResize(who, id);
        return ctx.send(204);
      case 'revertResize':
        compute.revertResize(who, id);
        return ctx.send(202);
      case 'os-getConsoleOutput': {
        const s = compute.get(who, id);
        return ctx.send(200, { output: `[    0.000000] Linux version 6.8.0 (simulated)\n${s.name} login: \n` });
      }
      default:
        compute.get(who, id);
        throw badRequest(`There is no such action: ${action}`);
    }
  });

  // ---- key pairs ----
  const renderKeypair = (ctx: Ctx, k: Keypair, full: boolean) => {
    const out: Record<string, unknown> = { name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint };
    if (ctx.atLeast(2)) out.type = k.type;
    if (full) Object.assign(out, { user_id: k.userId, id: k.id, created_at: isoMicrosNaive(k.createdAt), deleted: false, deleted_at: null, updated_at: null });
    return out;
  };
  const keypairOwner = (ctx: Ctx): string => {
    const userId = ctx.query.get('user_id');
    if (userId && userId !== ctx.who.userId) {
      if (!ctx.who.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:index to be performed.`);
      return userId;
    }
    return ctx.who.userId;
  };
  r.get('/v2.1/os-keypairs', (ctx) => {
    const list = compute.keypairs(keypairOwner(ctx));
    const { page, links } = ctx.atLeast(35) ? paginate(ctx, list, 'os-keypairs', (k) => k.name) : { page: list, links: undefined };
    ctx.send(200, { keypairs: page.map((k) => ({ keypair: renderKeypair(ctx, k, false) })), ...(links ? { keypairs_links: links } : {}) });
  });
  r.post('/v2.1/os-keypairs', async (ctx) => {
    const body = await ctx.json();
    if (!isPlainObject(body) || !isPlainObject(body.keypair)) throw invalidInput('keypair', body, "'keypair' is a required property");
    const k = body.keypair;
    if (ctx.atLeast(92) && k.public_key === undefined) throw invalidInput('keypair', k, "'public_key' is a required property");
    let userId = ctx.who.userId;
    if (typeof k.user_id === 'string' && k.user_id !== userId) {
      if (!ctx.who.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:create to be performed.`);
      userId = k.user_id;
    }
    const { keypair, privateKey } = await compute.createKeypair(userId, k.name, k.public_key, ctx.atLeast(2) ? k.type : undefined, ctx.atLeast(92));
    const out = { ...renderKeypair(ctx, keypair, false), user_id: keypair.userId, ...(privateKey ? { private_key: privateKey } : {}) };
    ctx.send(ctx.atLeast(2) ? 201 : 200, { keypair: out });
  });
  r.get('/v2.1/os-keypairs/:name', (ctx) => ctx.send(200, { keypair: renderKeypair(ctx, compute.keypair(keypairOwner(ctx), ctx.params.name), true) }));
  r.delete('/v2.1/os-keypairs/:name', (ctx) => {
    compute.deleteKeypair(keypairOwner(ctx), ctx.params.name);
    ctx.send(ctx.atLeast(2) ? 204 : 202);
  });

  // ---- limits, quotas, availability zones ----
  r.get('/v2.1/limits', (ctx) => {
    const q = compute.quota(ctx.who.projectId);
    const u = compute.usage(ctx.who.projectId);
    ctx.send(200, {
      limits: {
        rate: [],
        absolute: {
          maxServerMeta: q.metadata_items,
          maxImageMeta: 128,
          maxPersonality: 5,
          maxPersonalitySize: 10240,
          maxTotalKeypairs: q.key_pairs,
          maxServerGroups: 10,
          maxServerGroupMembers: 10,
          maxTotalCores: q.cores,
          maxTotalInstances: q.instances,
          maxTotalRAMSize: q.ram,
          totalCoresUsed: u.cores,
          totalInstancesUsed: u.instances,
          totalRAMUsed: u.ram,
          totalServerGroupsUsed: 0,
          ...(ctx.atLeast(36) ? {} : { maxSecurityGroups: 10, maxSecurityGroupRules: 20, maxTotalFloatingIps: 10, totalFloatingIpsUsed: 0, totalSecurityGroupsUsed: 0 }),
        },
      },
    });
  });
  r.get('/v2.1/os-quota-sets/:project', (ctx) => {
    if (!ctx.who.isAdmin && ctx.params.project !== ctx.who.projectId) throw forbidden(`Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.`);
    const q = compute.quota(ctx.params.project);
    ctx.send(200, { quota_set: { id: ctx.params.project, ...q, server_groups: 10, server_group_members: 10, injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255 } });
  });
  const quotaProject = (ctx: Ctx): string => {
    if (!ctx.who.isAdmin && ctx.params.project !== ctx.who.projectId) throw forbidden(`Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.`);
    return ctx.params.project;
  };
  const QUOTA_EXTRAS = { server_groups: 10, server_group_members: 10, injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255 };
  // `openstack quota show --usage` reads /detail, `--default` reads /defaults.
  r.get('/v2.1/os-quota-sets/:project/detail', (ctx) => {
    const id = quotaProject(ctx);
    const q = compute.quota(id);
    const u = compute.usage(id);
    const keypairs = [...cloud.store.keypairs.values()].filter((k) => k.userId === ctx.who.userId).length;
    const used: Record<string, number> = { instances: u.instances, cores: u.cores, ram: u.ram, key_pairs: keypairs };
    const all: Record<string, number> = { ...q, ...QUOTA_EXTRAS };
    ctx.send(200, { quota_set: { id, ...Object.fromEntries(Object.entries(all).map(([k, limit]) => [k, { limit, in_use: used[k] ?? 0, reserved: 0 }])) } });
  });
  r.get('/v2.1/os-quota-sets/:project/defaults', (ctx) => {
    ctx.send(200, { quota_set: { id: ctx.params.project, ...DEFAULT_QUOTA, ...QUOTA_EXTRAS } });
  });
  r.get('/v2.1/os-availability-zone', (ctx) => ctx.send(200, { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] }));
  // `openstack availability zone list --long` (admin): the zones with their hosts and services.
  r.get('/v2.1/os-availability-zone/detail', (ctx) => {
    if (!ctx.who.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.`);
    const updated = new Date().toISOString().replace('Z', '000');
    const svc = { available: true, active: true, updated_at: updated };
    ctx.send(200, {
      availabilityZoneInfo: [
        { zoneName: 'internal', zoneState: { available: true }, hosts: { 'sim-controller': { 'nova-scheduler': svc, 'nova-conductor': svc } } },
        { zoneName: 'nova', zoneState: { available: true }, hosts: { 'sim-compute-1': { 'nova-compute': svc } } },
      ],
    });
  });
  r.get('/v2.1/extensions', (ctx) => ctx.send(200, { extensions: [] }));

  return r;
}

/**
 * Block device mappings: the only kind this cloud (no Cinder, no extra disks) can honour is the
 * image → local entry that describes the ordinary boot from `imageRef`. openstacksdk (and so
 * `openstack server create --image`) always sends it: `{uuid:<image>, boot_index:0,
 * source_type:"image", destination_type:"local", delete_on_termination:true}`. As in Nova
 * (BlockDeviceDict.from_api) that entry is allowed only as the boot device of a request that also
 * names imageRef.
 */
function checkBlockDeviceMappings(bdm: unknown, imageRef: unknown): void {
  if (bdm === undefined || bdm === null) return;
  if (!Array.isArray(bdm)) throw invalidInput('block_device_mapping_v2', bdm, "is not of type 'array'");
  for (const m of bdm) {
    if (!isPlainObject(m)) throw invalidInput('block_device_mapping_v2', bdm, `${JSON.stringify(m)} is not of type 'object'`);
    if (m.source_type !== 'image' || (m.destination_type ?? 'local') !== 'local') {
      throw badRequest('Block device mapping is not supported by this cloud (there is no block storage service).');
    }
    const imageSpecified = typeof imageRef === 'string' && imageRef !== '';
    if (!imageSpecified || Number(m.boot_index ?? -1) !== 0) {
      throw badRequest('Block Device Mapping is Invalid: Mapping image to local is not supported.');
    }
  }
}

/** Nova's request validation for POST /servers (schema errors → 400 with Nova's wording). */
function parseCreate(ctx: Ctx, body: unknown): CreateServerRequest {
  if (!isPlainObject(body) || !isPlainObject(body.server)) throw invalidInput('server', body, "'server' is a required property");
  const s = body.server;
  if (typeof s.name !== 'string') throw invalidInput('server', s, "'name' is a required property");
  if (!s.name.trim() || s.name.length > 255) throw invalidInput('name', s.name, `'${s.name}' does not match '^(?! )[\\S ]{1,255}(?<! )$'`);
  if (s.flavorRef === undefined || s.flavorRef === null || s.flavorRef === '') throw invalidInput('server', s, "'flavorRef' is a required property");
  if (typeof s.flavorRef !== 'string' && typeof s.flavorRef !== 'number') throw invalidInput('flavorRef', s.flavorRef, "is not of type 'string', 'integer'");
  checkBlockDeviceMappings(s.block_device_mapping_v2 ?? s.block_device_mapping, s.imageRef);
  if (typeof s.imageRef !== 'string' || !s.imageRef) throw badRequest('Missing imageRef attribute');
  const maxCount = s.max_count ?? s.min_count ?? 1;
  if (maxCount !== 1 && maxCount !== '1') throw badRequest('Creating more than one server per request is not supported by this cloud; send one request per server.');

  let networks: NetworkRequest | undefined;
  if (s.networks === undefined) {
    if (ctx.atLeast(37)) throw invalidInput('server', s, "'networks' is a required property");
  } else if (typeof s.networks === 'string') {
    if (!ctx.atLeast(37) || !['auto', 'none'].includes(s.networks)) throw invalidInput('networks', s.networks, `'${s.networks}' is not of type 'array'`);
    networks = s.networks as 'auto' | 'none';
  } else if (Array.isArray(s.networks)) {
    networks = s.networks.map((n) => {
      if (!isPlainObject(n)) throw invalidInput('networks', s.networks, `${JSON.stringify(n)} is not of type 'object'`);
      for (const k of Object.keys(n)) if (!['uuid', 'port', 'fixed_ip', 'tag'].includes(k)) throw invalidInput('networks', s.networks, `Additional properties are not allowed ('${k}' was unexpected)`);
      if (n.uuid !== undefined && (typeof n.uuid !== 'string' || (ctx.atLeast(37) && !isUuidLike(n.uuid)))) throw invalidInput('uuid', n.uuid, `'${String(n.uuid)}' is not a 'uuid'`);
      if (n.port !== undefined && n.port !== null && typeof n.port !== 'string') throw invalidInput('port', n.port, "is not of type 'string'");
      if (n.fixed_ip !== undefined && !isIpv4(n.fixed_ip)) throw invalidInput('fixed_ip', n.fixed_ip, `'${String(n.fixed_ip)}' is not a 'ipv4'`);
      if (!n.uuid && !n.port) throw badRequest('Bad networks format: network uuid is not in proper format');
      return { uuid: n.uuid as string | undefined, port: (n.port as string | null) ?? undefined, fixed_ip: n.fixed_ip as string | undefined };
    });
  } else {
    throw invalidInput('networks', s.networks, "is not of type 'array'");
  }

  let userData: string | null = null;
  if (s.user_data !== undefined && s.user_data !== null) {
    if (typeof s.user_data !== 'string') throw invalidInput('user_data', s.user_data, "is not of type 'string'");
    if (s.user_data.length > 65535) throw invalidInput('user_data', `${s.user_data.slice(0, 32)}…`, `is too long (${s.user_data.length} > 65535)`);
    if (s.user_data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s.user_data)) throw invalidInput('user_data', s.user_data.slice(0, 64), "is not a 'base64'");
    userData = s.user_data;
  }
  if (s.key_name !== undefined && s.key_name !== null && typeof s.key_name !== 'string') throw invalidInput('key_name', s.key_name, "is not of type 'string'");
  let securityGroups: string[] | undefined;
  if (s.security_groups !== undefined) {
    if (!Array.isArray(s.security_groups) || !s.security_groups.every((g) => isPlainObject(g) && typeof g.name === 'string')) {
      throw invalidInput('security_groups', s.security_groups, "items must be objects with a 'name'");
    }
    securityGroups = [...new Set(s.security_groups.map((g) => (g as { name: string }).name))];
  }
  if (s.availability_zone !== undefined && s.availability_zone !== null && s.availability_zone !== 'nova') {
    throw badRequest(`The requested availability zone is not available`);
  }
  let description: string | null | undefined;
  if (s.description !== undefined) {
    if (!ctx.atLeast(19)) throw invalidInput('server', s, "Additional properties are not allowed ('description' was unexpected)");
    if (s.description !== null && (typeof s.description !== 'string' || s.description.length > 255)) throw invalidInput('description', s.description, 'must be a string of at most 255 characters or null');
    description = s.description as string | null;
  }
  let tags: string[] | undefined;
  if (s.tags !== undefined) {
    if (!ctx.atLeast(52)) throw invalidInput('server', s, "Additional properties are not allowed ('tags' was unexpected)");
    if (!Array.isArray(s.tags) || !s.tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 60 && !/[,/]/.test(t)) || s.tags.length > 50) {
      throw invalidInput('tags', s.tags, 'must be up to 50 strings of 1-60 characters without "," or "/"');
    }
    tags = s.tags as string[];
  }
  return {
    name: s.name,
    flavorRef: String(s.flavorRef),
    imageRef: s.imageRef,
    networks,
    keyName: (s.key_name as string | null | undefined) ?? null,
    userData,
    metadata: parseMetadata(s.metadata),
    securityGroups,
    availabilityZone: (s.availability_zone as string | undefined) ?? undefined,
    description,
    tags,
  };
}
