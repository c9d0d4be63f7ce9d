/**
 * Heat (orchestration v1). The catalog URL already ends with `/v1/<project_id>`. Stacks are
 * addressed as `/stacks/<name>/<id>`; a lookup by name alone answers 302 to that canonical URL.
 */
import { CloudApiError } from '../errors';
import { enc, header, runDelete, unwrap, type DeleteOptions } from './envelope';
import { collectMarkerPages, type Link } from './pagination';
import type { JsonResponse, OpenStackSession, RequestOptions } from './session';

export type StackAction = 'CREATE' | 'UPDATE' | 'DELETE' | 'ROLLBACK' | 'SUSPEND' | 'RESUME' | 'ADOPT' | 'SNAPSHOT' | 'CHECK' | 'RESTORE' | 'INIT';
export type StackStatusPart = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

export interface StackOutput {
  output_key: string;
  output_value?: unknown;
  description?: string;
  output_error?: string;
}

export interface Stack {
  id: string;
  stack_name: string;
  description?: string;
  /** `<ACTION>_<STATUS>`, see stackStatus(). */
  stack_status: string;
  stack_status_reason?: string;
  creation_time?: string;
  updated_time?: string | null;
  deletion_time?: string | null;
  parameters?: Record<string, unknown>;
  outputs?: StackOutput[];
  timeout_mins?: number | null;
  disable_rollback?: boolean;
  tags?: string[] | null;
  links?: Link[];
  [extra: string]: unknown;
}

export interface StackRef {
  id: string;
  links?: Link[];
}

export interface StackResource {
  resource_name: string;
  logical_resource_id: string;
  physical_resource_id: string;
  resource_type: string;
  resource_status: string;
  resource_status_reason?: string;
  required_by?: string[];
  updated_time?: string;
  creation_time?: string;
  links?: Link[];
  [extra: string]: unknown;
}

export interface StackEvent {
  id: string;
  event_time: string;
  resource_name: string;
  logical_resource_id: string;
  physical_resource_id?: string | null;
  resource_status: string;
  resource_status_reason?: string;
  links?: Link[];
  [extra: string]: unknown;
}

/** A HOT template as an object or as YAML/JSON text (Heat accepts both). */
export type Template = string | Record<string, unknown>;

export interface StackBody {
  template?: Template;
  template_url?: string;
  parameters?: Record<string, unknown>;
  timeout_mins?: number;
  disable_rollback?: boolean;
  /** Sent as Heat's comma-separated string. */
  tags?: string[];
  files?: Record<string, string>;
  environment?: Record<string, unknown>;
}

export interface CreateStackOptions extends StackBody {
  stack_name: string;
  signal?: AbortSignal;
}

export interface StackStatus {
  action: StackAction | string;
  status: StackStatusPart | string;
  inProgress: boolean;
  complete: boolean;
  failed: boolean;
}

/** Splits `stack_status` (e.g. `CREATE_IN_PROGRESS` → CREATE / IN_PROGRESS). */
export function stackStatus(stack: Pick<Stack, 'stack_status'> | string): StackStatus {
  const raw = typeof stack === 'string' ? stack : stack.stack_status;
  const m = /^(.*)_(IN_PROGRESS|COMPLETE|FAILED)$/.exec(raw ?? '');
  const action = m ? m[1] : raw;
  const status = m ? m[2] : '';
  return { action, status, inProgress: status === 'IN_PROGRESS', complete: status === 'COMPLETE', failed: status === 'FAILED' };
}

/** `{name, id}` from a canonical stack URL `…/stacks/<name>/<id>` (e.g. a 302 Location). */
export function stackRefFromLocation(location: string): { name: string; id: string } | undefined {
  const parts = new URL(location, 'http://location.invalid').pathname.split('/').filter(Boolean);
  const i = parts.lastIndexOf('stacks');
  if (i < 0 || parts.length < i + 3) return undefined;
  return { name: decodeURIComponent(parts[i + 1]), id: decodeURIComponent(parts[i + 2]) };
}

function stackBody(b: StackBody): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  if (b.template !== undefined) json.template = b.template;
  if (b.template_url !== undefined) json.template_url = b.template_url;
  if (b.parameters !== undefined) json.parameters = b.parameters;
  if (b.timeout_mins !== undefined) json.timeout_mins = b.timeout_mins;
  if (b.disable_rollback !== undefined) json.disable_rollback = b.disable_rollback;
  if (b.tags !== undefined) json.tags = b.tags.join(',');
  if (b.files !== undefined) json.files = b.files;
  if (b.environment !== undefined) json.environment = b.environment;
  return json;
}

export class OrchestrationClient {
  constructor(private readonly session: OpenStackSession) {}

  private call<T = unknown>(opts: Omit<RequestOptions, 'service' | 'stream'>): Promise<JsonResponse<T>> {
    return this.session.request<T>({ ...opts, service: 'orchestration' });
  }

  private stackPath(name: string, id: string): string {
    return `/stacks/${enc(name)}/${enc(id)}`;
  }

  /** POST /stacks → 201 `{stack:{id, links}}`; 409 if the name is taken. */
  async createStack(o: CreateStackOptions): Promise<StackRef> {
    const { stack_name, signal, ...rest } = o;
    const res = await this.call({ method: 'POST', path: '/stacks', json: { stack_name, ...stackBody(rest) }, expected: [201], signal });
    return unwrap<StackRef>(res, 'stack');
  }

  /** GET /stacks/{name}/{id} */
  async getStack(name: string, id: string, opts: { signal?: AbortSignal } = {}): Promise<Stack> {
    const res = await this.call({ method: 'GET', path: this.stackPath(name, id), expected: [200], signal: opts.signal });
    return unwrap<Stack>(res, 'stack');
  }

  /**
   * The live stack with this name (or id), or null when there is none (404). Heat answers 302 to
   * `/stacks/<name>/<id>`; we read the Location (its host may be an internal one) and GET the
   * canonical path on our own endpoint. A 200 (a proxy that followed the redirect) is accepted too.
   */
  async findStack(nameOrId: string, opts: { signal?: AbortSignal } = {}): Promise<Stack | null> {
    let res: JsonResponse;
    try {
      res = await this.call({ method: 'GET', path: `/stacks/${enc(nameOrId)}`, expected: [200, 302], signal: opts.signal });
    } catch (err) {
      if (err instanceof CloudApiError && err.status === 404) return null;
      throw err;
    }
    if (res.status === 200) return unwrap<Stack>(res, 'stack');
    const location = header(res.headers, 'location');
    const ref = location ? stackRefFromLocation(location) : undefined;
    if (!ref) {
      throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: res.url, status: res.status, message: `GET ${res.url}: 302 without a stack Location` });
    }
    try {
      return await this.getStack(ref.name, ref.id, opts);
    } catch (err) {
      // Deleted between the two calls.
      if (err instanceof CloudApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** PUT /stacks/{name}/{id} → 202: replaces template and parameters (omitted ones reset). */
  async updateStack(name: string, id: string, body: StackBody & { signal?: AbortSignal }): Promise<void> {
    const { signal, ...rest } = body;
    await this.call({ method: 'PUT', path: this.stackPath(name, id), json: stackBody(rest), expected: [202], signal });
  }

  /** PATCH /stacks/{name}/{id} → 202: keeps the existing template/parameters not given here. */
  async patchStack(name: string, id: string, body: StackBody & { signal?: AbortSignal }): Promise<void> {
    const { signal, ...rest } = body;
    await this.call({ method: 'PATCH', path: this.stackPath(name, id), json: stackBody(rest), expected: [202], signal });
  }

  /** DELETE /stacks/{name}/{id} → 204; the stack goes DELETE_IN_PROGRESS → DELETE_COMPLETE. */
  deleteStack(name: string, id: string, opts?: DeleteOptions): Promise<boolean> {
    return runDelete(opts, () => this.call({ method: 'DELETE', path: this.stackPath(name, id), expected: [204], signal: opts?.signal }));
  }

  /** GET /stacks/{name}/{id}/resources */
  async listStackResources(name: string, id: string, opts: { nestedDepth?: number; signal?: AbortSignal } = {}): Promise<StackResource[]> {
    const res = await this.call({
      method: 'GET',
      path: `${this.stackPath(name, id)}/resources`,
      query: { nested_depth: opts.nestedDepth },
      expected: [200],
      signal: opts.signal,
    });
    return unwrap<StackResource[]>(res, 'resources');
  }

  /**
   * GET /stacks/{name}/{id}/events. With `pageSize`, pages by limit + marker until a short page;
   * without, one request (Heat then returns every event).
   */
  async listStackEvents(
    name: string,
    id: string,
    opts: { sortDir?: 'asc' | 'desc'; resourceName?: string; pageSize?: number; signal?: AbortSignal } = {},
  ): Promise<StackEvent[]> {
    const page = async (marker: string | undefined, limit: number | undefined) => {
      const res = await this.call({
        method: 'GET',
        path: `${this.stackPath(name, id)}/events`,
        query: { sort_dir: opts.sortDir, resource_name: opts.resourceName, limit, marker },
        expected: [200],
        signal: opts.signal,
      });
      return unwrap<StackEvent[]>(res, 'events');
    };
    if (!opts.pageSize) return page(undefined, undefined);
    return collectMarkerPages(page, (e) => e.id, opts.pageSize);
  }

  /** Outputs with their values, from the stack itself (one call, unlike GET …/outputs/{key} each). */
  async getStackOutputs(name: string, id: string, opts: { signal?: AbortSignal } = {}): Promise<StackOutput[]> {
    const stack = await this.getStack(name, id, opts);
    return stack.outputs ?? [];
  }
}

/** The value of one output, or undefined. */
export function outputValue(outputs: StackOutput[], key: string): unknown {
  return outputs.find((o) => o.output_key === key)?.output_value;
}
