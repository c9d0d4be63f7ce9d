/**
 * The simulator's own admin API under `/_sim` (JSON, no authentication, never faulted): state
 * counts for tests, fault injection, whole-cloud outages, VM breakage, failing builds, quotas,
 * token expiry, timings and reset. Errors are `{error: message}`.
 */
import type { Cloud } from './cloud';
import type { BreakMode } from './compute';
import { ApiError } from './errors';
import { FaultSpecError } from './faults';
import { Router, type Ctx } from './http';
import { NETWORK_QUOTA_KEYS, type NetworkQuota } from './network';
import { mergeTimings } from './timings';
import { isPlainObject } from './util';

const ROUTES = [
  'GET    /_sim/state                      counts and lists of servers, images, stacks, networks, subnets, routers, ports, floating IPs, key pairs, tokens, requests',
  'GET    /_sim/faults                     active faults',
  'POST   /_sim/faults                     {service?, method?, path?, status?, rate?, count?, latencyMs?, hang?, retryAfter?} → {id}',
  'DELETE /_sim/faults[/:id]               remove one or all faults (hung requests go on)',
  'GET    /_sim/outage                     {mode}',
  "POST   /_sim/outage                     {mode: '503'|'refuse'}",
  'DELETE /_sim/outage                     recovery',
  "POST   /_sim/servers/:id/break          {mode: 'error'|'shutoff'|'gone'|'guest'} ('guest': the service inside stops, the server stays ACTIVE)",
  'DELETE /_sim/servers/:id/break          the guest service runs again',
  'GET    /_sim/servers/:id                the raw server record (user_data decoded)',
  'POST   /_sim/build-failures             {count?: 1, namePattern?, message?} the next matching builds end in ERROR',
  'DELETE /_sim/build-failures             cancel pending build failures',
  'PATCH  /_sim/quotas                     {project: name|id, instances?, cores?, ram?, key_pairs?, metadata_items?, network?, subnet?, router?, port?, floatingip?, …}',
  'POST   /_sim/tokens/expire              {user?: name} expire tokens now',
  'GET    /_sim/timings, PATCH /_sim/timings',
  'POST   /_sim/reset                      empty the cloud, clear faults, outage and request counters (keeps users, tokens, flavors, seeded networks and images)',
];

async function body(ctx: Ctx): Promise<Record<string, unknown>> {
  let b: unknown;
  try {
    b = await ctx.json();
  } catch (err) {
    throw new ApiError(400, (err as Error).message);
  }
  if (b === undefined) return {};
  if (!isPlainObject(b)) throw new ApiError(400, 'body must be a JSON object');
  return b;
}

export function adminRoutes(cloud: Cloud): Router {
  const r = new Router();

  r.get('/', (ctx) => ctx.send(200, { routes: ROUTES }));
  r.get('/state', (ctx) => ctx.send(200, cloud.summary()));

  r.get('/faults', (ctx) => ctx.send(200, { faults: cloud.faults.list() }));
  r.post('/faults', async (ctx) => {
    try {
      const fault = cloud.faults.add(await body(ctx));
      ctx.send(201, fault);
    } catch (err) {
      if (err instanceof FaultSpecError) throw new ApiError(400, err.message);
      throw err;
    }
  });
  r.delete('/faults', (ctx) => {
    cloud.faults.clear();
    ctx.send(204);
  });
  r.delete('/faults/:id', (ctx) => {
    if (!cloud.faults.remove(ctx.params.id)) throw new ApiError(404, `no fault ${ctx.params.id}`);
    ctx.send(204);
  });

  r.get('/outage', (ctx) => ctx.send(200, { mode: cloud.faults.outage }));
  r.post('/outage', async (ctx) => {
    const { mode } = await body(ctx);
    if (mode !== '503' && mode !== 'refuse') throw new ApiError(400, "mode must be '503' or 'refuse'");
    cloud.faults.outage = mode;
    cloud.log.info({ mode }, 'simulated cloud outage started');
    ctx.send(200, { mode });
  });
  r.delete('/outage', (ctx) => {
    cloud.faults.outage = null;
    cloud.log.info('simulated cloud outage ended');
    ctx.send(204);
  });

  r.post('/servers/:id/break', async (ctx) => {
    const { mode } = await body(ctx);
    if (!['error', 'shutoff', 'gone', 'guest'].includes(mode as string)) throw new ApiError(400, "mode must be 'error', 'shutoff', 'gone' or 'guest'");
    const s = cloud.compute.break(ctx.params.id, mode as BreakMode);
    ctx.send(200, { id: s.id, mode });
  });
  r.delete('/servers/:id/break', (ctx) => {
    const s = cloud.compute.repairGuest(ctx.params.id);
    ctx.send(200, { id: s.id, guestServing: cloud.guests?.isServing(s.id) ?? false });
  });
  r.get('/servers/:id', (ctx) => {
    const s = cloud.store.servers.get(ctx.params.id);
    if (!s) throw new ApiError(404, `no server ${ctx.params.id}`);
    ctx.send(200, { ...s, userDataDecoded: s.userData ? Buffer.from(s.userData, 'base64').toString('utf8') : null });
  });

  r.get('/build-failures', (ctx) => ctx.send(200, { pending: cloud.compute.buildFailures }));
  r.post('/build-failures', async (ctx) => {
    const b = await body(ctx);
    const count = b.count === undefined ? 1 : b.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw new ApiError(400, 'count must be an integer >= 1');
    if (b.namePattern !== undefined) {
      if (typeof b.namePattern !== 'string') throw new ApiError(400, 'namePattern must be a regular expression string');
      try {
        new RegExp(b.namePattern);
      } catch (err) {
        throw new ApiError(400, `namePattern: ${(err as Error).message}`);
      }
    }
    const failure = { remaining: count, namePattern: b.namePattern as string | undefined, message: typeof b.message === 'string' ? b.message : 'No valid host was found. ' };
    cloud.compute.buildFailures.push(failure);
    ctx.send(201, failure);
  });
  r.delete('/build-failures', (ctx) => {
    cloud.compute.buildFailures = [];
    ctx.send(204);
  });

  r.patch('/quotas', async (ctx) => {
    const b = await body(ctx);
    const ref = b.project;
    if (typeof ref !== 'string') throw new ApiError(400, 'project (name or id) is required');
    const project = cloud.identity.projects.get(ref) ?? [...cloud.identity.projects.values()].find((p) => p.name === ref);
    if (!project) throw new ApiError(404, `no project ${ref}`);
    const patch: Record<string, number> = {};
    for (const key of ['instances', 'cores', 'ram', 'key_pairs', 'metadata_items']) {
      if (b[key] === undefined) continue;
      if (typeof b[key] !== 'number' || !Number.isInteger(b[key]) || (b[key] as number) < 0) throw new ApiError(400, `${key} must be an integer >= 0`);
      patch[key] = b[key] as number;
    }
    const networkPatch: Partial<NetworkQuota> = {};
    for (const key of NETWORK_QUOTA_KEYS) {
      if (b[key] === undefined) continue;
      if (typeof b[key] !== 'number' || !Number.isInteger(b[key]) || (b[key] as number) < -1) throw new ApiError(400, `${key} must be an integer >= -1`);
      networkPatch[key] = b[key] as number;
    }
    cloud.compute.quotas.set(project.id, { ...(cloud.compute.quotas.get(project.id) ?? {}), ...patch });
    cloud.network.quotas.set(project.id, { ...(cloud.network.quotas.get(project.id) ?? {}), ...networkPatch });
    ctx.send(200, { project: project.id, quota: cloud.compute.quota(project.id), networkQuota: cloud.network.quota(project.id) });
  });

  r.post('/tokens/expire', async (ctx) => {
    const b = await body(ctx);
    const expired = cloud.identity.expireTokens(typeof b.user === 'string' ? b.user : undefined);
    ctx.send(200, { expired });
  });

  r.get('/timings', (ctx) => ctx.send(200, cloud.timings));
  r.patch('/timings', async (ctx) => {
    try {
      cloud.timings = mergeTimings(cloud.timings, await body(ctx));
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(400, (err as Error).message);
    }
    ctx.send(200, cloud.timings);
  });

  r.post('/reset', async (ctx) => {
    await cloud.reset();
    ctx.send(200, cloud.summary());
  });

  return r;
}
