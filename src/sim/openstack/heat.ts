/**
 * Heat v1 under `/heat-api`: version document, stacks (create, list, lookup by name → 302 to the
 * canonical `stacks/<name>/<id>`, show, PUT/PATCH update, delete), resources, events (sort_dir,
 * marker, limit — what `openstack stack create --wait` polls), outputs, template, environment,
 * files, template validation and resource types.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, forbidden } from './errors';
import { RESOURCE_TYPES } from './heat-resources';
import { templateError, type StackRequest } from './heat-stacks';
import { parseTemplate, TemplateError } from './heat-template';
import { Router, type Ctx } from './http';
import type { Stack, StackEvent, StackResource } from './model';
import { isoSeconds, isPlainObject } from './util';

const SUBPATHS = ['resources', 'events', 'template', 'outputs', 'environment', 'files'];

function stackNotFound(name: string): ApiError {
  return new ApiError(404, `The Stack (${name}) could not be found.`, { type: 'EntityNotFound' });
}

function isDeleted(s: Stack): boolean {
  return s.action === 'DELETE' && s.status === 'COMPLETE';
}

export function heatRoutes(cloud: Cloud): Router {
  const r = new Router();
  const heat = cloud.heat;
  const store = cloud.store;

  const tenantUrl = (ctx: Ctx) => `${ctx.base}/heat-api/v1/${ctx.params.tenant}`;
  const stackUrl = (ctx: Ctx, s: Stack) => `${tenantUrl(ctx)}/stacks/${encodeURIComponent(s.name)}/${s.id}`;

  /** Heat only serves the caller's own tenant (admins may look at any). */
  const checkTenant = (ctx: Ctx) => {
    if (ctx.params.tenant !== ctx.who.projectId && !ctx.who.isAdmin) throw forbidden('You are not authorized to use this tenant.', 'Forbidden');
  };

  const visible = (ctx: Ctx, s: Stack | undefined): s is Stack => !!s && (s.projectId === ctx.params.tenant || (ctx.who.isAdmin && ctx.params.tenant === s.projectId));

  /** A stack by id (deleted ones included) or by live name. */
  const lookup = (ctx: Ctx, nameOrId: string): Stack => {
    checkTenant(ctx);
    const byId = store.stacks.get(nameOrId);
    if (visible(ctx, byId)) return byId;
    const byName = heat.findByName(ctx.params.tenant, nameOrId);
    if (!byName) throw stackNotFound(nameOrId);
    return byName;
  };

  /** The stack named by a canonical `<name>/<id>` pair. */
  const canonical = (ctx: Ctx): Stack => {
    checkTenant(ctx);
    const s = store.stacks.get(ctx.params.id);
    if (!visible(ctx, s) || s.name !== ctx.params.name) throw stackNotFound(`${ctx.params.name}/${ctx.params.id}`);
    return s;
  };

  const redirect = (ctx: Ctx, s: Stack, sub?: string) => {
    const qs = ctx.url.search;
    const location = `${stackUrl(ctx, s)}${sub ? `/${sub}` : ''}${qs}`;
    ctx.send(302, { location }, { Location: location });
  };

  const renderListItem = (ctx: Ctx, s: Stack) => ({
    id: s.id,
    stack_name: s.name,
    description: typeof s.template.description === 'string' ? s.template.description : '',
    stack_status: `${s.action}_${s.status}`,
    stack_status_reason: s.statusReason,
    creation_time: isoSeconds(s.createdAt),
    updated_time: s.updatedAt ? isoSeconds(s.updatedAt) : null,
    deletion_time: s.deletedAt ? isoSeconds(s.deletedAt) : null,
    stack_owner: heat.authFor(s).userName,
    stack_user_project_id: s.projectId,
    parent: null,
    tags: s.tags.length ? [...s.tags] : null,
    project: s.projectId,
    links: [{ href: stackUrl(ctx, s), rel: 'self' }],
  });

  const renderStack = (ctx: Ctx, s: Stack) => {
    const description = typeof s.template.description === 'string' ? s.template.description : '';
    let parameters: Record<string, string> = {};
    try {
      parameters = heat.displayParameters(s);
    } catch {
      parameters = {};
    }
    const out: Record<string, unknown> = {
      ...renderListItem(ctx, s),
      parameters,
      timeout_mins: s.timeoutMins,
      disable_rollback: s.disableRollback,
      capabilities: [],
      notification_topics: [],
      template_description: description,
    };
    if (ctx.query.get('resolve_outputs') !== 'false' && ctx.query.get('resolve_outputs') !== 'False') out.outputs = heat.outputs(s);
    return out;
  };

  const renderResource = (ctx: Ctx, s: Stack, res: StackResource, requiredBy: string[], withAttributes: boolean) => {
    const out: Record<string, unknown> = {
      resource_name: res.name,
      logical_resource_id: res.name,
      physical_resource_id: res.physicalId,
      resource_type: res.type,
      resource_status: `${res.action}_${res.status}`,
      resource_status_reason: res.statusReason,
      required_by: requiredBy,
      creation_time: isoSeconds(res.createdAt),
      updated_time: isoSeconds(res.updatedAt ?? res.createdAt),
      links: [
        { href: `${stackUrl(ctx, s)}/resources/${encodeURIComponent(res.name)}`, rel: 'self' },
        { href: stackUrl(ctx, s), rel: 'stack' },
      ],
    };
    if (withAttributes) {
      const plugin = RESOURCE_TYPES[res.type];
      const attrs: Record<string, unknown> = {};
      if (plugin && res.physicalId) {
        for (const name of attributeNames(res.type)) attrs[name] = plugin.attribute({ cloud, stack: s, auth: heat.authFor(s), resource: res }, name);
      }
      out.attributes = attrs;
      out.description = '';
      out.metadata = {};
    }
    return out;
  };

  const renderEvent = (ctx: Ctx, s: Stack, e: StackEvent) => ({
    id: e.id,
    event_time: isoSeconds(e.time),
    resource_name: e.resourceName,
    logical_resource_id: e.resourceName,
    physical_resource_id: e.physicalId,
    resource_status: e.status,
    resource_status_reason: e.reason,
    links: [
      { href: `${stackUrl(ctx, s)}/resources/${encodeURIComponent(e.resourceName)}/events/${e.id}`, rel: 'self' },
      { href: `${stackUrl(ctx, s)}/resources/${encodeURIComponent(e.resourceName)}`, rel: 'resource' },
      { href: stackUrl(ctx, s), rel: 'stack' },
    ],
  });

  const listEvents = (ctx: Ctx, s: Stack, resourceName?: string) => {
    const q = ctx.query;
    let events = s.events.filter((e) => !resourceName || e.resourceName === resourceName);
    const rn = q.get('resource_name');
    if (rn) events = events.filter((e) => e.resourceName === rn);
    const rs = q.get('resource_status');
    if (rs) events = events.filter((e) => e.status.endsWith(`_${rs}`) || e.status === rs);
    const ra = q.get('resource_action');
    if (ra) events = events.filter((e) => e.status.startsWith(`${ra}_`));
    const rt = q.get('resource_type');
    if (rt) events = events.filter((e) => e.resourceType === rt);
    if (q.get('sort_dir') === 'desc') events = [...events].reverse();
    const marker = q.get('marker');
    if (marker) {
      const i = events.findIndex((e) => e.id === marker);
      if (i < 0) throw new ApiError(404, `The Event (${marker}) could not be found.`, { type: 'EntityNotFound' });
      events = events.slice(i + 1);
    }
    const limit = q.get('limit');
    if (limit !== null) {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 0) throw badRequest(`Invalid value '${limit}' for limit`);
      events = events.slice(0, n);
    }
    ctx.send(200, { events: events.map((e) => renderEvent(ctx, s, e)) });
  };

  // ---- versions ----
  const versions = (ctx: Ctx) => ctx.send(300, { versions: [{ id: 'v1.0', status: 'CURRENT', links: [{ rel: 'self', href: `${ctx.base}/heat-api/v1/` }] }] });
  r.get('/', versions, { public: true });
  r.get('/v1', versions, { public: true });

  // ---- stacks ----
  const listStacks = (ctx: Ctx) => {
    checkTenant(ctx);
    const q = ctx.query;
    const showDeleted = q.get('show_deleted') === 'true' || q.get('show_deleted') === 'True';
    const allTenants = ctx.who.isAdmin && (q.get('global_tenant') === 'true' || q.get('global_tenant') === 'True');
    let list = [...store.stacks.values()].filter((s) => (allTenants || s.projectId === ctx.params.tenant) && (showDeleted || !isDeleted(s)));
    const names = [...q.getAll('name'), ...q.getAll('stack_name')];
    if (names.length) list = list.filter((s) => names.includes(s.name));
    const ids = q.getAll('id');
    if (ids.length) list = list.filter((s) => ids.includes(s.id));
    const statuses = [...q.getAll('status'), ...q.getAll('stack_status')];
    if (statuses.length) list = list.filter((s) => statuses.some((st) => (st.includes('_') ? `${s.action}_${s.status}` === st : s.status === st)));
    const actions = q.getAll('action');
    if (actions.length) list = list.filter((s) => actions.includes(s.action));
    const tags = q.get('tags');
    if (tags) list = list.filter((s) => tags.split(',').every((t) => s.tags.includes(t)));
    const tagsAny = q.get('tags_any');
    if (tagsAny) list = list.filter((s) => tagsAny.split(',').some((t) => s.tags.includes(t)));
    const sortKey = q.get('sort_keys') ?? 'creation_time';
    const dir = q.get('sort_dir') === 'asc' ? 1 : -1;
    const keyOf = (s: Stack): string | number =>
      sortKey === 'stack_name' ? s.name : sortKey === 'stack_status' ? `${s.action}_${s.status}` : sortKey === 'updated_time' ? (s.updatedAt ?? 0) : s.createdAt;
    list.sort((a, b) => {
      const ka = keyOf(a);
      const kb = keyOf(b);
      return ka === kb ? (a.id < b.id ? -1 : 1) * dir : (ka < kb ? -1 : 1) * dir;
    });
    const marker = q.get('marker');
    if (marker) {
      const i = list.findIndex((s) => s.id === marker);
      if (i < 0) throw stackNotFound(marker);
      list = list.slice(i + 1);
    }
    const limit = q.get('limit');
    if (limit !== null) list = list.slice(0, Math.max(0, Number(limit) || 0));
    const body: Record<string, unknown> = { stacks: list.map((s) => renderListItem(ctx, s)) };
    if (q.get('with_count') === 'true') body.count = list.length;
    ctx.send(200, body);
  };
  r.get('/v1/:tenant/stacks', listStacks);
  r.get('/v1/:tenant/stacks/detail', listStacks);

  r.post('/v1/:tenant/stacks', async (ctx) => {
    checkTenant(ctx);
    if (ctx.params.tenant !== ctx.who.projectId) throw forbidden('Stacks can only be created in the tenant of the token.', 'Forbidden');
    const body = await ctx.json();
    if (!isPlainObject(body)) throw badRequest('The request body must be a JSON object');
    const s = await heat.create(ctx.who, body as StackRequest);
    const href = stackUrl(ctx, s);
    ctx.send(201, { stack: { id: s.id, links: [{ href, rel: 'self' }] } }, { Location: href });
  });

  r.post('/v1/:tenant/validate', async (ctx) => {
    checkTenant(ctx);
    const body = await ctx.json();
    if (!isPlainObject(body)) throw badRequest('The request body must be a JSON object');
    if (body.template === undefined && body.template_url === undefined) throw badRequest('No template specified');
    try {
      const t = parseTemplate(body.template ?? (await (await fetch(String(body.template_url))).text()));
      for (const [name, def] of Object.entries(t.resources)) {
        const plugin = RESOURCE_TYPES[def.type];
        if (!plugin) throw new TemplateError(`The Resource Type (${def.type}) could not be found.`);
        for (const key of Object.keys(def.properties)) if (!(key in plugin.properties)) throw new TemplateError(`Property error: resources.${name}.properties: Unknown Property ${key}`);
      }
      const typeName: Record<string, string> = { string: 'String', number: 'Number', json: 'Json', comma_delimited_list: 'CommaDelimitedList', boolean: 'Boolean' };
      const parameters: Record<string, unknown> = {};
      for (const [name, p] of Object.entries(t.parameters)) {
        parameters[name] = {
          Type: typeName[p.type],
          Description: p.description ?? '',
          Label: p.label ?? name,
          NoEcho: String(p.hidden),
          ...(p.default !== undefined ? { Default: p.default } : {}),
        };
      }
      ctx.send(200, { Description: t.description || 'No description', Parameters: parameters });
    } catch (err) {
      if (err instanceof TemplateError) throw templateError(err);
      throw err;
    }
  });

  r.get('/v1/:tenant/resource_types', (ctx) => {
    checkTenant(ctx);
    ctx.send(200, { resource_types: Object.keys(RESOURCE_TYPES).sort() });
  });

  // By name or id alone: GET redirects to the canonical URL; other methods act directly.
  r.get('/v1/:tenant/stacks/:stack', (ctx) => redirect(ctx, lookup(ctx, ctx.params.stack)));
  const update = (patch: boolean) => async (ctx: Ctx, s: Stack) => {
    if (isDeleted(s)) throw stackNotFound(s.name);
    const body = await ctx.json();
    if (!isPlainObject(body)) throw badRequest('The request body must be a JSON object');
    await heat.update(s, body as StackRequest, patch);
    ctx.send(202);
  };
  const remove = async (ctx: Ctx, s: Stack) => {
    if (isDeleted(s)) throw stackNotFound(s.name);
    await heat.delete(s);
    ctx.send(204);
  };
  r.put('/v1/:tenant/stacks/:stack', (ctx) => update(false)(ctx, lookup(ctx, ctx.params.stack)));
  r.patch('/v1/:tenant/stacks/:stack', (ctx) => update(true)(ctx, lookup(ctx, ctx.params.stack)));
  r.delete('/v1/:tenant/stacks/:stack', (ctx) => remove(ctx, lookup(ctx, ctx.params.stack)));

  // `stacks/<name>/<id>` (show) or `stacks/<name>/<subpath>` (redirect to the canonical subpath).
  r.get('/v1/:tenant/stacks/:name/:id', (ctx) => {
    checkTenant(ctx);
    const s = store.stacks.get(ctx.params.id);
    if (visible(ctx, s) && s.name === ctx.params.name) return ctx.send(200, { stack: renderStack(ctx, s) });
    if (SUBPATHS.includes(ctx.params.id)) return redirect(ctx, lookup(ctx, ctx.params.name), ctx.params.id);
    throw stackNotFound(`${ctx.params.name}/${ctx.params.id}`);
  });
  r.put('/v1/:tenant/stacks/:name/:id', (ctx) => update(false)(ctx, canonical(ctx)));
  r.patch('/v1/:tenant/stacks/:name/:id', (ctx) => update(true)(ctx, canonical(ctx)));
  r.delete('/v1/:tenant/stacks/:name/:id', (ctx) => remove(ctx, canonical(ctx)));

  r.get('/v1/:tenant/stacks/:name/resources/:res', (ctx) => redirect(ctx, lookup(ctx, ctx.params.name), `resources/${encodeURIComponent(ctx.params.res)}`));

  r.get('/v1/:tenant/stacks/:name/:id/resources', (ctx) => {
    const s = canonical(ctx);
    const requiredBy = heat.resourceRequiredBy(s);
    const withDetail = ctx.query.get('with_detail') === 'true' || ctx.query.get('with_detail') === 'True';
    let list = Object.values(s.resources);
    const type = ctx.query.get('type');
    if (type) list = list.filter((x) => x.type === type);
    const status = ctx.query.get('status');
    if (status) list = list.filter((x) => x.status === status || `${x.action}_${x.status}` === status);
    const name = ctx.query.get('name');
    if (name) list = list.filter((x) => x.name === name);
    ctx.send(200, { resources: list.map((x) => renderResource(ctx, s, x, requiredBy[x.name] ?? [], withDetail)) });
  });
  r.get('/v1/:tenant/stacks/:name/:id/resources/:res', (ctx) => {
    const s = canonical(ctx);
    const res = s.resources[ctx.params.res];
    if (!res) throw new ApiError(404, `The Resource (${ctx.params.res}) could not be found in Stack ${s.name}.`, { type: 'ResourceNotFound' });
    ctx.send(200, { resource: renderResource(ctx, s, res, heat.resourceRequiredBy(s)[res.name] ?? [], true) });
  });
  r.get('/v1/:tenant/stacks/:name/:id/resources/:res/events', (ctx) => {
    const s = canonical(ctx);
    if (!s.resources[ctx.params.res] && !s.events.some((e) => e.resourceName === ctx.params.res)) {
      throw new ApiError(404, `The Resource (${ctx.params.res}) could not be found in Stack ${s.name}.`, { type: 'ResourceNotFound' });
    }
    listEvents(ctx, s, ctx.params.res);
  });
  r.get('/v1/:tenant/stacks/:name/:id/resources/:res/events/:event', (ctx) => {
    const s = canonical(ctx);
    const e = s.events.find((x) => x.id === ctx.params.event && x.resourceName === ctx.params.res);
    if (!e) throw new ApiError(404, `The Event (${ctx.params.event}) could not be found.`, { type: 'EntityNotFound' });
    ctx.send(200, { event: { ...renderEvent(ctx, s, e), resource_type: e.resourceType, resource_properties: {} } });
  });
  r.get('/v1/:tenant/stacks/:name/:id/events', (ctx) => listEvents(ctx, canonical(ctx)));

  r.get('/v1/:tenant/stacks/:name/:id/outputs', (ctx) => {
    const s = canonical(ctx);
    ctx.send(200, { outputs: heat.outputs(s).map((o) => ({ output_key: o.output_key, description: o.description })) });
  });
  r.get('/v1/:tenant/stacks/:name/:id/outputs/:key', (ctx) => {
    const s = canonical(ctx);
    const o = heat.outputs(s).find((x) => x.output_key === ctx.params.key);
    if (!o) throw new ApiError(404, `Specified output key ${ctx.params.key} not found.`, { type: 'NotFound' });
    ctx.send(200, { output: o });
  });
  r.get('/v1/:tenant/stacks/:name/:id/template', (ctx) => ctx.send(200, canonical(ctx).template));
  r.get('/v1/:tenant/stacks/:name/:id/environment', (ctx) => {
    const env = canonical(ctx).environment;
    ctx.send(200, {
      parameters: isPlainObject(env.parameters) ? env.parameters : {},
      parameter_defaults: isPlainObject(env.parameter_defaults) ? env.parameter_defaults : {},
      resource_registry: isPlainObject(env.resource_registry) ? env.resource_registry : { resources: {} },
      event_sinks: [],
      encrypted_param_names: [],
    });
  });
  r.get('/v1/:tenant/stacks/:name/:id/files', (ctx) => ctx.send(200, canonical(ctx).files));

  return r;
}

function attributeNames(type: string): string[] {
  switch (type) {
    case 'OS::Nova::Server':
      return ['name', 'first_address', 'addresses', 'networks', 'instance_name', 'accessIPv4', 'accessIPv6'];
    case 'OS::Neutron::Port':
      return ['name', 'fixed_ips', 'mac_address', 'network_id', 'device_id', 'status'];
    case 'OS::Neutron::FloatingIP':
      return ['floating_ip_address', 'fixed_ip_address', 'port_id', 'floating_network_id'];
    case 'OS::Nova::KeyPair':
      return ['public_key'];
    case 'OS::Heat::CloudConfig':
    case 'OS::Heat::SoftwareConfig':
      return ['config'];
    default:
      return [];
  }
}
