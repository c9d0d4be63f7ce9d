/**
 * The shape of a simulated API command: its listApis description (what CloudMonkey `sync`
 * caches), its parameters (validated generically before the handler runs, like CloudStack's
 * ParamProcessWorker) and its handler, which returns the object placed under `<command>response`.
 */
import { ApiError, invalidParamValue, missingParam } from '../api-error';
import type { CloudStackEngine } from '../engine';
import type { Account } from '../model';

export type ParamType = 'uuid' | 'string' | 'boolean' | 'integer' | 'long' | 'short' | 'list' | 'map' | 'date';

export interface ParamSpec {
  name: string;
  type: ParamType;
  required?: boolean;
  description: string;
  /** For `list`: the type of each comma-separated element. */
  of?: 'uuid' | 'string';
  /** A uuid parameter that also accepts "-1" (registerTemplate zoneid = all zones). */
  allowMinusOne?: boolean;
  /** APIs that produce values for this parameter (CloudMonkey's completion). */
  related?: string;
}

export interface ResponseField {
  name: string;
  description: string;
  type: string;
}

export interface CommandContext {
  engine: CloudStackEngine;
  account: Account;
  /** Canonical command name (e.g. deployVirtualMachine). */
  command: string;
  /** Lower-cased command name, as it appears in messages and the response key. */
  lower: string;
  params: Params;
  /** From an asyncJobFail fault: the async job must end with this error. */
  failJobWith?: ApiError;
  /** From a downloadFail fault: registerTemplate's download must fail with this text. */
  failDownload?: string;
}

export interface CommandDef {
  name: string;
  description: string;
  isasync: boolean;
  params: ParamSpec[];
  response: ResponseField[];
  handle(ctx: CommandContext): unknown | Promise<unknown>;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT_RE = /^-?\d+$/;

/** Validated request parameters, looked up by lower-cased name. */
export class Params {
  constructor(private readonly values: Map<string, string>) {}

  has(name: string): boolean {
    return this.values.has(name.toLowerCase());
  }
  str(name: string): string | undefined {
    return this.values.get(name.toLowerCase());
  }
  /** Java's Boolean.valueOf: only "true" (any case) is true. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    return v === undefined ? fallback : v.toLowerCase() === 'true';
  }
  int(name: string): number | undefined {
    const v = this.str(name);
    return v === undefined ? undefined : Number(v);
  }
  list(name: string): string[] | undefined {
    const v = this.str(name);
    return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
  }
}

/**
 * Checks presence and format of every declared parameter. Empty values count as absent (what
 * CloudStack does for most parameters); undeclared parameters are ignored, as on a real server.
 */
export function validateParams(def: CommandDef, lower: string, raw: Record<string, string>): Params {
  const values = new Map<string, string>();
  for (const [k, v] of Object.entries(raw)) {
    const key = k.toLowerCase();
    if (v !== '' && !values.has(key)) values.set(key, v);
  }
  for (const spec of def.params) {
    const v = values.get(spec.name.toLowerCase());
    if (v === undefined) {
      if (spec.required) throw missingParam(lower, spec.name);
      continue;
    }
    const bad = () => invalidParamValue(lower, spec.name, v);
    if (spec.type === 'uuid' && !UUID_RE.test(v) && !(spec.allowMinusOne && v === '-1')) throw bad();
    if ((spec.type === 'integer' || spec.type === 'long' || spec.type === 'short') && !INT_RE.test(v)) throw bad();
    if (spec.type === 'list' && spec.of === 'uuid') {
      for (const item of v.split(',').map((s) => s.trim()).filter(Boolean)) {
        if (!UUID_RE.test(item)) throw invalidParamValue(lower, spec.name, item);
      }
    }
  }
  return new Params(values);
}

/** Page of a list as CloudStack serializes it: `count` when non-zero, the array when non-empty, `{}` for nothing. */
export function listResponse(key: string, items: unknown[], params: Params): Record<string, unknown> {
  const total = items.length;
  let page = items;
  const p = params.int('page');
  const size = params.int('pagesize');
  if (p !== undefined || size !== undefined) {
    const pageSize = size !== undefined && size > 0 ? size : 500;
    const pageNo = p !== undefined && p > 0 ? p : 1;
    page = items.slice((pageNo - 1) * pageSize, pageNo * pageSize);
  }
  const out: Record<string, unknown> = {};
  if (total > 0) out.count = total;
  if (page.length > 0) out[key] = page;
  return out;
}

/** MySQL-style LIKE %keyword% (case-insensitive) over some fields. */
export function matchesKeyword(keyword: string | undefined, ...fields: Array<string | undefined>): boolean {
  if (!keyword) return true;
  const k = keyword.toLowerCase();
  return fields.some((f) => f?.toLowerCase().includes(k));
}

/** Common list parameters. */
export const PAGING: ParamSpec[] = [
  { name: 'keyword', type: 'string', description: 'List by keyword' },
  { name: 'page', type: 'integer', description: 'The page number (1-based); used with pagesize' },
  { name: 'pagesize', type: 'integer', description: 'The number of items per page' },
];

export const LISTALL: ParamSpec = {
  name: 'listall',
  type: 'boolean',
  description: 'If true (admin only), list resources of every account; otherwise only the caller\'s',
};

/** Response fields for listApis, from a compact "name:type:description" list. */
export function fields(...specs: string[]): ResponseField[] {
  return specs.map((s) => {
    const [name, type, ...rest] = s.split(':');
    return { name: name!, type: type!, description: rest.join(':') || name! };
  });
}
