/**
 * The simulated Heat engine: stack create / update (PUT replaces, PATCH keeps what is omitted) /
 * delete as background operations with Heat's statuses and events, resources created in
 * dependency order (independent ones in parallel), in-place updates or replacement per
 * property, rollback when asked, timeouts, and outputs resolved live. heat.ts is its HTTP face.
 */
import type { Cloud } from './cloud';
import { ApiError, badRequest, conflict } from './errors';
import { RESOURCE_TYPES, ResourceFailure, type ResourceContext } from './heat-resources';
import {
  dependencies,
  displayParameters,
  evaluate,
  loadTemplate,
  parseTemplate,
  requiredBy,
  resolveParameters,
  resourceOrder,
  TemplateError,
  type EvalContext,
  type Template,
} from './heat-template';
import type { AuthContext, Stack, StackAction, StackResource } from './model';
import { deepEqual, isPlainObject, Stopped } from './util';

export const STACK_NAME_RE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$/;

/** What POST /stacks and PUT/PATCH carry, already read from JSON. */
export interface StackRequest {
  stack_name?: unknown;
  template?: unknown;
  template_url?: unknown;
  parameters?: unknown;
  environment?: unknown;
  files?: unknown;
  timeout_mins?: unknown;
  disable_rollback?: unknown;
  tags?: unknown;
  clear_parameters?: unknown;
}

/** A template-level problem found before anything runs: 400 with Heat's type. */
export function templateError(err: TemplateError): ApiError {
  return new ApiError(400, err.message, { type: err.type });
}

interface Operation {
  controller: AbortController;
  done: Promise<void>;
}

export class HeatEngine {
  private readonly ops = new Map<string, Operation>();

  constructor(private readonly cloud: Cloud) {}

  private get store() {
    return this.cloud.store;
  }

  /** The stack owner's credentials (Heat acts with a trust of the user who made the stack). */
  authFor(stack: Stack): AuthContext {
    const user = this.cloud.identity.users.get(stack.userId);
    const project = this.cloud.identity.projects.get(stack.projectId);
    const roles = user?.roles ?? ['member'];
    return {
      tokenId: '',
      userId: stack.userId,
      userName: user?.name ?? stack.userId,
      projectId: stack.projectId,
      projectName: project?.name ?? stack.projectId,
      domainId: project?.domainId ?? 'default',
      roles,
      isAdmin: roles.includes('admin'),
    };
  }

  template(stack: Stack): Template {
    return parseTemplate(stack.template);
  }

  /** Parameter values of the stack as it stands (user values over defaults, plus pseudo ones). */
  parameterValues(stack: Stack, t: Template = this.template(stack)): Record<string, unknown> {
    return resolveParameters(t, {
      supplied: stack.userParameters,
      environment: stack.environment,
      pseudo: { 'OS::stack_name': stack.name, 'OS::stack_id': stack.id, 'OS::project_id': stack.projectId },
    });
  }

  displayParameters(stack: Stack): Record<string, string> {
    const t = this.template(stack);
    return displayParameters(t, this.parameterValues(stack, t));
  }

  private evalContext(stack: Stack, params: Record<string, unknown>): EvalContext {
    const auth = this.authFor(stack);
    return {
      params,
      files: stack.files,
      resourceId: (name) => stack.resources[name]?.physicalId || null,
      attribute: (name, attr) => {
        const res = stack.resources[name];
        const plugin = res && RESOURCE_TYPES[res.type];
        if (!res || !plugin || !res.physicalId) return null;
        return plugin.attribute({ cloud: this.cloud, stack, auth, resource: res }, attr);
      },
    };
  }

  /** Outputs as stack show renders them (resolved now; errors per output). */
  outputs(stack: Stack): { output_key: string; output_value: unknown; description: string; output_error?: string }[] {
    let t: Template;
    let params: Record<string, unknown>;
    try {
      t = this.template(stack);
      params = this.parameterValues(stack, t);
    } catch {
      return [];
    }
    const ctx = this.evalContext(stack, params);
    return Object.entries(t.outputs).map(([key, def]) => {
      const out: { output_key: string; output_value: unknown; description: string; output_error?: string } = {
        output_key: key,
        output_value: null,
        description: def.description ?? 'No description given',
      };
      try {
        out.output_value = evaluate(def.value, ctx) ?? null;
      } catch (err) {
        out.output_error = (err as Error).message;
      }
      return out;
    });
  }

  /** Validates a stack request into a template and environment, or throws 400 with Heat's body. */
  async prepare(
    req: StackRequest,
    base?: Stack,
  ): Promise<{ template: Template; environment: Record<string, unknown>; files: Record<string, string>; parameters: Record<string, unknown> }> {
    let templateInput: unknown = req.template;
    if (templateInput === undefined && typeof req.template_url === 'string') templateInput = await fetchTemplate(req.template_url);
    if (templateInput === undefined || templateInput === null) {
      if (!base) throw badRequest('No template specified');
      templateInput = base.template;
    }
    let environment: Record<string, unknown> = {};
    if (req.environment !== undefined && req.environment !== null) {
      try {
        environment = loadTemplate(req.environment);
      } catch (err) {
        throw badRequest(`Invalid environment: ${(err as Error).message}`);
      }
    }
    if (base) environment = mergeEnvironments(base.environment, environment);
    let files: Record<string, string> = base ? { ...base.files } : {};
    if (req.files !== undefined && req.files !== null) {
      if (!isPlainObject(req.files) || !Object.values(req.files).every((v) => typeof v === 'string')) throw badRequest('"files" must be a map of file names to their content');
      files = { ...files, ...(req.files as Record<string, string>) };
    }
    let parameters: Record<string, unknown> = base ? { ...base.userParameters } : {};
    if (req.parameters !== undefined && req.parameters !== null) {
      if (!isPlainObject(req.parameters)) throw badRequest('"parameters" must be a map');
      parameters = { ...parameters, ...req.parameters };
    }
    if (Array.isArray(req.clear_parameters)) for (const p of req.clear_parameters) delete parameters[String(p)];
    let template: Template;
    try {
      template = parseTemplate(templateInput);
      // Parameters and property names are checked up front; values that need other resources
      // (get_resource, get_attr) are checked when the resource is made, as in Heat.
      const params = resolveParameters(template, { supplied: parameters, environment, pseudo: { 'OS::stack_name': 'x', 'OS::stack_id': 'x', 'OS::project_id': 'x' } });
      validateResources(template, params, files);
    } catch (err) {
      if (err instanceof TemplateError) throw templateError(err);
      throw err;
    }
    return { template, environment, files, parameters };
  }

  async create(auth: AuthContext, req: StackRequest): Promise<Stack> {
    if (typeof req.stack_name !== 'string' || req.stack_name === '') throw badRequest('No stack name specified');
    const name = req.stack_name;
    if (!STACK_NAME_RE.test(name)) {
      throw badRequest(`Invalid stack name ${name} must contain only alphanumeric or "_-." characters, must start with alpha and must be 255 characters or less.`, 'StackValidationFailed');
    }
    const timeoutMins = parseTimeout(req.timeout_mins);
    const { template, environment, files, parameters } = await this.prepare(req);
    if (this.findByName(auth.projectId, name)) throw conflict(`The Stack (${name}) already exists.`, 'StackExists');
    const now = Date.now();
    const stack: Stack = {
      id: this.cloud.rng.uuid(),
      name,
      projectId: auth.projectId,
      userId: auth.userId,
      template: template.raw,
      files,
      environment,
      userParameters: parameters,
      timeoutMins,
      disableRollback: req.disable_rollback === undefined ? true : req.disable_rollback === true || req.disable_rollback === 'true' || req.disable_rollback === 'True',
      tags: parseTags(req.tags),
      action: 'CREATE',
      status: 'IN_PROGRESS',
      statusReason: 'Stack CREATE started',
      createdAt: now,
      updatedAt: null,
      deletedAt: null,
      resources: {},
      events: [],
    };
    for (const [resName, def] of Object.entries(template.resources)) stack.resources[resName] = newResource(resName, def.type);
    this.store.stacks.set(stack.id, stack);
    this.stackEvent(stack, 'Stack CREATE started');
    this.run(stack, 'CREATE', async (signal) => {
      try {
        await this.createResources(stack, template, signal);
      } catch (err) {
        if (!stack.disableRollback && !(err instanceof Stopped) && !signal.aborted) {
          this.setStack(stack, 'CREATE', 'FAILED', failureReason('CREATE', err));
          this.stackEvent(stack, stack.statusReason);
          await this.rollback(stack, signal);
          return 'handled';
        }
        throw err;
      }
      return undefined;
    });
    return stack;
  }

  /** PUT (patch=false) or PATCH (patch=true) on a stack. */
  async update(stack: Stack, req: StackRequest, patch: boolean): Promise<void> {
    if (stack.status === 'IN_PROGRESS') throw conflict(`Stack ${stack.name} already has an action (${stack.action}) in progress.`, 'ActionInProgress');
    if (stack.action === 'DELETE' && stack.status === 'COMPLETE') throw new ApiError(404, `The Stack (${stack.name}) could not be found.`, { type: 'EntityNotFound' });
    if (!patch && req.template === undefined && req.template_url === undefined) throw badRequest('No template specified');
    const base: Stack = patch ? stack : { ...stack, userParameters: {}, environment: {}, files: {} };
    const { template, environment, files, parameters } = await this.prepare(req, base);
    const timeoutMins = req.timeout_mins === undefined ? stack.timeoutMins : parseTimeout(req.timeout_mins);
    stack.template = template.raw;
    stack.environment = environment;
    stack.files = files;
    stack.userParameters = parameters;
    stack.timeoutMins = timeoutMins;
    if (req.disable_rollback !== undefined) stack.disableRollback = req.disable_rollback === true || req.disable_rollback === 'true';
    if (req.tags !== undefined) stack.tags = parseTags(req.tags);
    stack.updatedAt = Date.now();
    this.setStack(stack, 'UPDATE', 'IN_PROGRESS', 'Stack UPDATE started');
    this.stackEvent(stack, 'Stack UPDATE started');
    this.run(stack, 'UPDATE', async (signal) => {
      await this.updateResources(stack, template, signal);
      return undefined;
    });
  }

  /** DELETE: cancels a running operation, then deletes resources in reverse dependency order. */
  async delete(stack: Stack): Promise<void> {
    if (stack.action === 'DELETE' && stack.status !== 'FAILED') return;
    const running = this.ops.get(stack.id);
    if (running) {
      running.controller.abort();
      await running.done;
      for (const r of Object.values(stack.resources)) {
        if (r.status === 'IN_PROGRESS') this.setResource(stack, r, r.action, 'FAILED', `${r.action} aborted (user triggered cancel)`);
      }
    }
    this.setStack(stack, 'DELETE', 'IN_PROGRESS', 'Stack DELETE started');
    this.stackEvent(stack, 'Stack DELETE started');
    this.run(stack, 'DELETE', async (signal) => {
      await this.deleteResources(stack, this.deletionOrder(stack), signal);
      stack.deletedAt = Date.now();
      return undefined;
    });
  }

  findByName(projectId: string, name: string): Stack | undefined {
    let found: Stack | undefined;
    for (const s of this.store.stacks.values()) {
      if (s.projectId === projectId && s.name === name && !(s.action === 'DELETE' && s.status === 'COMPLETE')) found = s;
    }
    return found;
  }

  /** After a restart, what was in progress failed, as Heat reports it. */
  recover(): void {
    for (const stack of this.store.stacks.values()) {
      for (const r of Object.values(stack.resources)) {
        if (r.status === 'IN_PROGRESS') {
          r.status = 'FAILED';
          r.statusReason = `Engine went down during resource ${r.action}`;
        }
      }
      if (stack.status === 'IN_PROGRESS') {
        this.setStack(stack, stack.action, 'FAILED', `Engine went down during stack ${stack.action}`);
        this.stackEvent(stack, stack.statusReason);
      }
    }
  }

  // ---- internals ----

  private run(stack: Stack, action: StackAction, work: (signal: AbortSignal) => Promise<'handled' | undefined>): void {
    const controller = this.cloud.clock.link();
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    this.ops.set(stack.id, { controller, done });
    this.cloud.clock.spawn(`stack ${stack.id} ${action}`, async () => {
      let timer: NodeJS.Timeout | undefined;
      let timedOut = false;
      try {
        if (stack.timeoutMins && action !== 'DELETE') {
          timer = setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, stack.timeoutMins * 60_000);
        }
        const outcome = await work(controller.signal);
        if (outcome !== 'handled') {
          this.setStack(stack, action, 'COMPLETE', `Stack ${action} completed successfully`);
          this.stackEvent(stack, stack.statusReason);
        }
      } catch (err) {
        if (timedOut) {
          this.setStack(stack, action, 'FAILED', `${action.charAt(0)}${action.slice(1).toLowerCase()} timed out`);
          this.stackEvent(stack, stack.statusReason);
        } else if (!(controller.signal.aborted || err instanceof Stopped)) {
          this.setStack(stack, action, 'FAILED', failureReason(action, err));
          this.stackEvent(stack, stack.statusReason);
          if (!(err instanceof ResourceFailure) && !(err instanceof TemplateError)) this.cloud.log.error({ err, stackId: stack.id }, 'simulated heat operation failed');
        }
      } finally {
        if (timer) clearTimeout(timer);
        this.cloud.clock.release(controller);
        if (this.ops.get(stack.id)?.controller === controller) this.ops.delete(stack.id);
        resolveDone();
      }
    });
  }

  private async rollback(stack: Stack, signal: AbortSignal): Promise<void> {
    this.setStack(stack, 'ROLLBACK', 'IN_PROGRESS', 'Stack ROLLBACK started');
    this.stackEvent(stack, 'Stack ROLLBACK started');
    try {
      await this.deleteResources(stack, this.deletionOrder(stack), signal);
      this.setStack(stack, 'ROLLBACK', 'COMPLETE', 'Stack ROLLBACK completed successfully');
    } catch (err) {
      if (signal.aborted) throw err;
      this.setStack(stack, 'ROLLBACK', 'FAILED', failureReason('DELETE', err));
    }
    this.stackEvent(stack, stack.statusReason);
  }

  private setStack(stack: Stack, action: StackAction, status: Stack['status'], reason: string): void {
    stack.action = action;
    stack.status = status;
    stack.statusReason = reason;
    this.store.changed();
  }

  private stackEvent(stack: Stack, reason: string): void {
    stack.events.push({
      id: this.cloud.rng.uuid(),
      time: Date.now(),
      resourceName: stack.name,
      physicalId: stack.id,
      resourceType: 'OS::Heat::Stack',
      status: `${stack.action}_${stack.status}`,
      reason,
    });
    this.store.changed();
  }

  private setResource(stack: Stack, r: StackResource, action: StackAction, status: StackResource['status'], reason: string): void {
    r.action = action;
    r.status = status;
    r.statusReason = reason;
    r.updatedAt = Date.now();
    stack.events.push({ id: this.cloud.rng.uuid(), time: Date.now(), resourceName: r.name, physicalId: r.physicalId, resourceType: r.type, status: `${action}_${status}`, reason });
    this.store.changed();
  }

  private context(stack: Stack, r: StackResource, signal: AbortSignal): ResourceContext {
    return {
      cloud: this.cloud,
      stack,
      auth: this.authFor(stack),
      resource: r,
      signal,
      created: (physicalId, data) => {
        r.physicalId = physicalId;
        if (data) r.data = { ...r.data, ...data };
        this.store.changed();
      },
    };
  }

  private resolveProps(stack: Stack, template: Template, name: string): Record<string, unknown> {
    const params = this.parameterValues(stack, template);
    const def = template.resources[name];
    const plugin = RESOURCE_TYPES[def.type];
    const props = evaluate(def.properties, this.evalContext(stack, params)) as Record<string, unknown>;
    for (const [k, schema] of Object.entries(plugin.properties)) {
      if ((props[k] === undefined || props[k] === null) && schema.default !== undefined) props[k] = schema.default;
    }
    return props;
  }

  private async createOne(stack: Stack, template: Template, name: string, signal: AbortSignal): Promise<void> {
    const def = template.resources[name];
    const r = stack.resources[name] ?? (stack.resources[name] = newResource(name, def.type));
    r.type = def.type;
    r.physicalId = '';
    r.data = {};
    r.createdAt = Date.now();
    this.setResource(stack, r, 'CREATE', 'IN_PROGRESS', 'state changed');
    await this.cloud.clock.sleep(this.cloud.timings.stackResourceMs, signal);
    try {
      const props = this.resolveProps(stack, template, name);
      r.properties = props;
      await RESOURCE_TYPES[def.type].create(this.context(stack, r, signal), props);
    } catch (err) {
      throw this.resourceFailed(stack, r, 'CREATE', err, signal);
    }
    this.setResource(stack, r, 'CREATE', 'COMPLETE', 'state changed');
  }

  /** Marks the resource FAILED and returns what the stack reports (cancellation passes through). */
  private resourceFailed(stack: Stack, r: StackResource, action: StackAction, err: unknown, signal: AbortSignal): unknown {
    if (signal.aborted || err instanceof Stopped) return err instanceof Stopped ? err : new Stopped();
    const type = err instanceof ResourceFailure ? err.type : err instanceof TemplateError ? err.type : 'Error';
    const reason = `${type}: resources.${r.name}: ${(err as Error).message}`;
    this.setResource(stack, r, action, 'FAILED', reason);
    return new ResourceFailure(type, reason);
  }

  /** Creates resources in dependency order; independent ones run in parallel. */
  private async createResources(stack: Stack, template: Template, signal: AbortSignal): Promise<void> {
    const deps = dependencies(template);
    const running = new Map<string, Promise<void>>();
    let firstFailure: unknown;
    for (const name of resourceOrder(template)) {
      const p = (async () => {
        await Promise.all((deps[name] ?? []).map((d) => running.get(d)));
        if (firstFailure) throw new Stopped();
        await this.createOne(stack, template, name, signal);
      })();
      p.catch((err) => {
        if (!(err instanceof Stopped)) firstFailure ??= err;
      });
      running.set(name, p);
    }
    await Promise.allSettled([...running.values()]);
    if (firstFailure) throw firstFailure;
    if (signal.aborted) throw new Stopped();
  }

  private async deleteOne(stack: Stack, r: StackResource, signal: AbortSignal): Promise<void> {
    if (!r.physicalId) {
      r.action = 'DELETE';
      r.status = 'COMPLETE';
      r.statusReason = 'state changed';
      return;
    }
    this.setResource(stack, r, 'DELETE', 'IN_PROGRESS', 'state changed');
    await this.cloud.clock.sleep(this.cloud.timings.stackResourceMs, signal);
    const plugin = RESOURCE_TYPES[r.type];
    try {
      await plugin?.delete(this.context(stack, r, signal));
    } catch (err) {
      throw this.resourceFailed(stack, r, 'DELETE', err, signal);
    }
    this.setResource(stack, r, 'DELETE', 'COMPLETE', 'state changed');
  }

  /** Reverse dependency order of the stack's current template (falling back to record order). */
  private deletionOrder(stack: Stack): StackResource[] {
    let order: string[];
    try {
      order = resourceOrder(this.template(stack));
    } catch {
      order = [];
    }
    const names = [...order.filter((n) => stack.resources[n]), ...Object.keys(stack.resources).filter((n) => !order.includes(n))];
    return [...names.reverse().map((n) => stack.resources[n]), ...(stack.replacedResources ?? [])];
  }

  private async deleteResources(stack: Stack, resources: StackResource[], signal: AbortSignal): Promise<void> {
    for (const r of resources) await this.deleteOne(stack, r, signal);
  }

  /** Heat's update: create new resources, update or replace changed ones, then delete the old. */
  private async updateResources(stack: Stack, template: Template, signal: AbortSignal): Promise<void> {
    const toDelete: StackResource[] = [];
    const oldOrder = Object.keys(stack.resources);
    const removed = oldOrder.filter((n) => !(n in template.resources));
    try {
      await this.updateEach(stack, template, toDelete, signal);
    } catch (err) {
      // What was being replaced stays the stack's (Heat keeps it in the backup stack): never orphaned.
      stack.replacedResources = [...(stack.replacedResources ?? []), ...toDelete];
      throw err;
    }
    for (const r of [...toDelete.reverse(), ...(stack.replacedResources ?? [])]) await this.deleteOne(stack, r, signal);
    stack.replacedResources = undefined;
    for (const name of removed.reverse()) {
      await this.deleteOne(stack, stack.resources[name], signal);
      delete stack.resources[name];
    }
    this.store.changed();
  }

  /** Creates, updates in place or replaces each resource of the new template; replaced ones go to `toDelete`. */
  private async updateEach(stack: Stack, template: Template, toDelete: StackResource[], signal: AbortSignal): Promise<void> {
    for (const name of resourceOrder(template)) {
      const def = template.resources[name];
      const existing = stack.resources[name];
      // New, never made, retyped, or failed before: (re)create; a failed one is replaced.
      if (!existing || !existing.physicalId || existing.type !== def.type || existing.status === 'FAILED') {
        if (existing?.physicalId) {
          const old: StackResource = { ...existing, data: { ...existing.data } };
          toDelete.push(old);
          if (existing.type === def.type) RESOURCE_TYPES[def.type]?.prepareForReplace?.(this.context(stack, old, signal));
        }
        await this.createOne(stack, template, name, signal);
        continue;
      }
      let props: Record<string, unknown>;
      try {
        props = this.resolveProps(stack, template, name);
      } catch (err) {
        throw this.resourceFailed(stack, existing, 'UPDATE', err, signal);
      }
      if (deepEqual(props, existing.properties)) continue;
      const plugin = RESOURCE_TYPES[def.type];
      const changed = Object.keys({ ...props, ...existing.properties }).filter((k) => !deepEqual(props[k], existing.properties[k]));
      const inPlace = plugin.update && changed.every((k) => plugin.properties[k]?.updateAllowed);
      if (inPlace) {
        this.setResource(stack, existing, 'UPDATE', 'IN_PROGRESS', 'state changed');
        await this.cloud.clock.sleep(this.cloud.timings.stackResourceMs, signal);
        try {
          await plugin.update!(this.context(stack, existing, signal), existing.properties, props);
        } catch (err) {
          throw this.resourceFailed(stack, existing, 'UPDATE', err, signal);
        }
        existing.properties = props;
        this.setResource(stack, existing, 'UPDATE', 'COMPLETE', 'state changed');
      } else {
        // UpdateReplace: the replacement is made first, the old one deleted at the end.
        const old: StackResource = { ...existing, data: { ...existing.data } };
        toDelete.push(old);
        plugin.prepareForReplace?.(this.context(stack, old, signal));
        await this.createOne(stack, template, name, signal);
      }
    }
  }

  /** Resource list entries (resource_status etc.) for the API. */
  resourceRequiredBy(stack: Stack): Record<string, string[]> {
    try {
      return requiredBy(this.template(stack));
    } catch {
      return {};
    }
  }
}

function newResource(name: string, type: string): StackResource {
  return { name, type, physicalId: '', action: 'INIT', status: 'COMPLETE', statusReason: '', properties: {}, data: {}, createdAt: Date.now(), updatedAt: null };
}

function failureReason(action: StackAction, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `Resource ${action} failed: ${message}`;
}

function parseTimeout(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw badRequest(`Invalid timeout value ${String(v)}`);
  return n;
}

function parseTags(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return v.split(',').map((t) => t.trim()).filter(Boolean);
  if (Array.isArray(v)) return v.map(String);
  throw badRequest('tags must be a comma-separated string or a list');
}

function mergeEnvironments(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a, ...b };
  for (const key of ['parameters', 'parameter_defaults', 'resource_registry']) {
    if (isPlainObject(a[key]) || isPlainObject(b[key])) out[key] = { ...(isPlainObject(a[key]) ? a[key] : {}), ...(isPlainObject(b[key]) ? b[key] : {}) };
  }
  return out;
}

async function fetchTemplate(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return await res.text();
  } catch (err) {
    throw badRequest(`Could not retrieve template: ${(err as Error).message}`);
  }
}

/** Resource types exist, unknown properties and missing required ones are caught before anything runs. */
function validateResources(t: Template, params: Record<string, unknown>, files: Record<string, string>): void {
  const staticCtx: EvalContext = {
    params,
    files,
    resourceId: () => '<resource id>',
    attribute: () => '<attribute>',
  };
  for (const [name, def] of Object.entries(t.resources)) {
    const plugin = RESOURCE_TYPES[def.type];
    if (!plugin) throw new TemplateError(`The Resource Type (${def.type}) could not be found.`, 'StackValidationFailed');
    for (const key of Object.keys(def.properties)) {
      if (!(key in plugin.properties)) throw new TemplateError(`Property error: resources.${name}.properties: Unknown Property ${key}`);
    }
    const props = evaluate(def.properties, staticCtx) as Record<string, unknown>;
    for (const [key, schema] of Object.entries(plugin.properties)) {
      if (schema.required && (props[key] === undefined || props[key] === null || props[key] === '')) {
        throw new TemplateError(`Property error: resources.${name}.properties: Property ${key} not assigned`);
      }
    }
  }
}
