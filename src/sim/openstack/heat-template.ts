/**
 * A HOT (Heat Orchestration Template) engine, pure and without I/O: parses a template (object or
 * YAML/JSON text) and validates its sections, parameters and references the way Heat does;
 * resolves parameter values with types and constraints; orders resources by their dependencies;
 * evaluates the intrinsic functions get_param, get_resource, get_attr, str_replace, list_join,
 * str_split and get_file. Errors carry Heat's exception type and wording.
 */
import YAML from 'yaml';

/** Versions Heat accepts: dates, and the release names allowed from Newton on. */
export const HOT_VERSIONS: Record<string, string> = {
  '2013-05-23': 'icehouse',
  '2014-10-16': 'juno',
  '2015-04-30': 'kilo',
  '2015-10-15': 'liberty',
  '2016-04-08': 'mitaka',
  '2016-10-14': 'newton',
  '2017-02-24': 'ocata',
  '2017-09-01': 'pike',
  '2018-03-02': 'queens',
  '2018-08-31': 'rocky',
  '2021-04-16': 'wallaby',
  newton: 'newton',
  ocata: 'ocata',
  pike: 'pike',
  queens: 'queens',
  rocky: 'rocky',
  wallaby: 'wallaby',
};

export const PSEUDO_PARAMETERS = ['OS::stack_name', 'OS::stack_id', 'OS::project_id'];
export const MAX_TEMPLATE_BYTES = 524_288;

const SECTIONS = ['heat_template_version', 'description', 'parameter_groups', 'parameters', 'resources', 'outputs', 'conditions'];
const RESOURCE_KEYS = ['type', 'properties', 'metadata', 'depends_on', 'deletion_policy', 'update_policy', 'description', 'condition', 'external_id'];
const PARAM_KEYS = ['type', 'default', 'description', 'label', 'hidden', 'constraints', 'immutable', 'tags'];
const PARAM_TYPES = ['string', 'number', 'json', 'comma_delimited_list', 'boolean'] as const;
export const FUNCTIONS = ['get_param', 'get_resource', 'get_attr', 'str_replace', 'list_join', 'str_split', 'get_file'];

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly type: string = 'StackValidationFailed',
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export type ParameterType = (typeof PARAM_TYPES)[number];

export interface ParameterConstraint {
  allowed_values?: unknown[];
  range?: { min?: number; max?: number };
  length?: { min?: number; max?: number };
  allowed_pattern?: string;
  custom_constraint?: string;
  description?: string;
}

export interface ParameterDef {
  type: ParameterType;
  default?: unknown;
  description?: string;
  label?: string;
  hidden: boolean;
  constraints: ParameterConstraint[];
}

export interface ResourceDef {
  type: string;
  properties: Record<string, unknown>;
  dependsOn: string[];
  metadata?: unknown;
}

export interface OutputDef {
  value: unknown;
  description?: string;
}

export interface Template {
  version: string;
  description: string;
  parameters: Record<string, ParameterDef>;
  resources: Record<string, ResourceDef>;
  outputs: Record<string, OutputDef>;
  /** The template as given (after YAML parsing), for GET …/template and PATCH reuse. */
  raw: Record<string, unknown>;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses YAML/JSON text into a template object (size-checked), or returns an object as is. */
export function loadTemplate(input: unknown): Record<string, unknown> {
  if (typeof input === 'string') {
    if (Buffer.byteLength(input) > MAX_TEMPLATE_BYTES) {
      throw new TemplateError(`Template size (${Buffer.byteLength(input)} bytes) exceeds maximum allowed size (${MAX_TEMPLATE_BYTES} bytes).`, 'RequestLimitExceeded');
    }
    let parsed: unknown;
    try {
      // HOT dates must stay strings (YAML 1.1 would make timestamps of them).
      parsed = YAML.parse(input, { version: '1.2' });
    } catch (err) {
      throw new TemplateError(`Error parsing template: ${(err as Error).message.split('\n')[0]}`, 'HTTPBadRequest');
    }
    if (!isMap(parsed)) throw new TemplateError('The template is not a JSON object or YAML mapping.', 'HTTPBadRequest');
    return parsed;
  }
  if (!isMap(input)) throw new TemplateError('The template is not a JSON object or YAML mapping.', 'HTTPBadRequest');
  return input;
}

/** Parses and validates a template's structure and references. */
export function parseTemplate(input: unknown): Template {
  const raw = loadTemplate(input);
  if (!('heat_template_version' in raw)) {
    if ('AWSTemplateFormatVersion' in raw || 'HeatTemplateFormatVersion' in raw) {
      throw new TemplateError('CFN templates are not supported by this cloud; use a HOT template (heat_template_version).', 'InvalidTemplateVersion');
    }
    throw new TemplateError('Template format version not found.', 'InvalidTemplateVersion');
  }
  const version = raw.heat_template_version instanceof Date ? raw.heat_template_version.toISOString().slice(0, 10) : String(raw.heat_template_version);
  if (!HOT_VERSIONS[version]) {
    throw new TemplateError(`"${version}" is not valid heat_template_version. Should be one of: [${Object.keys(HOT_VERSIONS).map((v) => `'${v}'`).join(', ')}]`, 'InvalidTemplateVersion');
  }
  for (const key of Object.keys(raw)) {
    if (!SECTIONS.includes(key)) throw new TemplateError(`The template section is invalid: ${key}`, 'InvalidTemplateSection');
  }
  const description = raw.description === undefined || raw.description === null ? '' : String(raw.description);

  const parameters: Record<string, ParameterDef> = {};
  const rawParams = raw.parameters ?? {};
  if (!isMap(rawParams)) throw new TemplateError('"parameters" must be a map.', 'InvalidSchemaError');
  for (const [name, def] of Object.entries(rawParams)) {
    parameters[name] = parseParameterDef(name, def);
  }

  const resources: Record<string, ResourceDef> = {};
  const rawResources = raw.resources ?? {};
  if (!isMap(rawResources)) throw new TemplateError('"resources" must be a map.');
  for (const [name, def] of Object.entries(rawResources)) {
    if (!isMap(def)) throw new TemplateError(`Resource ${name} definition must be a map.`);
    for (const key of Object.keys(def)) {
      if (!RESOURCE_KEYS.includes(key)) throw new TemplateError(`"${key}" is not a valid keyword inside a resource definition`);
    }
    if (typeof def.type !== 'string' || !def.type) throw new TemplateError(`Resource ${name} type type must be string`);
    const props = def.properties ?? {};
    if (!isMap(props)) throw new TemplateError(`"properties" of resource ${name} must be a map.`);
    const dependsOn = def.depends_on === undefined || def.depends_on === null ? [] : Array.isArray(def.depends_on) ? def.depends_on : [def.depends_on];
    for (const d of dependsOn) {
      if (typeof d !== 'string') throw new TemplateError(`Resource ${name} depends_on must be a resource name or a list of them.`);
    }
    resources[name] = { type: def.type, properties: props, dependsOn: dependsOn as string[], metadata: def.metadata };
  }

  const outputs: Record<string, OutputDef> = {};
  const rawOutputs = raw.outputs ?? {};
  if (!isMap(rawOutputs)) throw new TemplateError('"outputs" must be a map.');
  for (const [name, def] of Object.entries(rawOutputs)) {
    if (!isMap(def) || !('value' in def)) throw new TemplateError(`Each output definition must contain a value key. (output ${name})`);
    outputs[name] = { value: def.value, description: def.description === undefined ? undefined : String(def.description) };
  }

  const template: Template = { version, description, parameters, resources, outputs, raw };
  validateReferences(template);
  resourceOrder(template);
  return template;
}

function parseParameterDef(name: string, def: unknown): ParameterDef {
  if (!isMap(def)) throw new TemplateError(`Invalid parameter ${name}: the definition must be a map.`, 'InvalidSchemaError');
  for (const key of Object.keys(def)) {
    if (!PARAM_KEYS.includes(key)) throw new TemplateError(`Invalid key '${key}' for parameter (${name})`, 'InvalidSchemaError');
  }
  if (def.type === undefined) throw new TemplateError(`Missing parameter type for parameter: ${name}`, 'InvalidSchemaError');
  if (!PARAM_TYPES.includes(def.type as ParameterType)) throw new TemplateError(`Invalid type (${String(def.type)})`, 'InvalidSchemaError');
  const constraints: ParameterConstraint[] = [];
  if (def.constraints !== undefined) {
    if (!Array.isArray(def.constraints)) throw new TemplateError(`Invalid parameter constraints for parameter ${name}, expected a list`, 'InvalidSchemaError');
    for (const c of def.constraints) {
      if (!isMap(c)) throw new TemplateError(`Invalid parameter constraints for parameter ${name}, expected a list of maps`, 'InvalidSchemaError');
      constraints.push(c as ParameterConstraint);
    }
  }
  const out: ParameterDef = { type: def.type as ParameterType, hidden: def.hidden === true, constraints };
  if (def.description !== undefined) out.description = String(def.description);
  if (def.label !== undefined) out.label = String(def.label);
  if ('default' in def) {
    // Heat validates defaults against the type and constraints too.
    out.default = def.default;
    if (def.default !== null) coerceParameter(name, out, def.default);
  }
  return out;
}

const TRUE_WORDS = ['1', 't', 'true', 'on', 'y', 'yes'];
const FALSE_WORDS = ['0', 'f', 'false', 'off', 'n', 'no'];

/** Converts a supplied value to the parameter's type and checks its constraints. */
export function coerceParameter(name: string, def: ParameterDef, value: unknown): unknown {
  const invalid = (why: string) => new TemplateError(`Parameter '${name}' is invalid: ${why}`);
  let v: unknown;
  switch (def.type) {
    case 'string':
      if (typeof value === 'string') v = value;
      else if (typeof value === 'number' || typeof value === 'boolean') v = String(value);
      else throw invalid(`Value must be a string; got ${JSON.stringify(value)}`);
      break;
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw invalid(`could not convert string to float: '${String(value)}'`);
      v = n;
      break;
    }
    case 'comma_delimited_list':
      if (Array.isArray(value)) v = value.map((x) => String(x));
      else if (typeof value === 'string') v = value === '' ? [] : value.split(',').map((x) => x.trim());
      else throw invalid(`Value must be a comma-delimited list string: ${JSON.stringify(value)}`);
      break;
    case 'json':
      if (typeof value === 'string') {
        try {
          v = JSON.parse(value);
        } catch (err) {
          throw invalid(`Value must be valid JSON: ${(err as Error).message}`);
        }
      } else if (typeof value === 'object' && value !== null) v = value;
      else throw invalid(`Value must be valid JSON: ${JSON.stringify(value)}`);
      break;
    case 'boolean':
      if (typeof value === 'boolean') v = value;
      else if (TRUE_WORDS.includes(String(value).toLowerCase())) v = true;
      else if (FALSE_WORDS.includes(String(value).toLowerCase())) v = false;
      else throw invalid(`Unrecognized value '${String(value)}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`);
      break;
  }
  for (const c of def.constraints) {
    const fail = (why: string) => invalid(c.description ?? why);
    if (c.allowed_values !== undefined) {
      const allowed = c.allowed_values.map((x) => (def.type === 'number' ? Number(x) : x));
      const items = Array.isArray(v) ? v : [v];
      for (const item of items) {
        if (!allowed.some((a) => a === item || String(a) === String(item))) throw fail(`"${String(item)}" is not an allowed value [${c.allowed_values.map(String).join(', ')}]`);
      }
    }
    if (c.range !== undefined && typeof v === 'number') {
      if ((c.range.min !== undefined && v < c.range.min) || (c.range.max !== undefined && v > c.range.max)) {
        throw fail(`${v} is out of range (min: ${c.range.min ?? 'None'}, max: ${c.range.max ?? 'None'})`);
      }
    }
    if (c.length !== undefined && (typeof v === 'string' || Array.isArray(v))) {
      const len = v.length;
      if ((c.length.min !== undefined && len < c.length.min) || (c.length.max !== undefined && len > c.length.max)) {
        throw fail(`length (${len}) is out of range (min: ${c.length.min ?? 'None'}, max: ${c.length.max ?? 'None'})`);
      }
    }
    if (c.allowed_pattern !== undefined && typeof v === 'string') {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${c.allowed_pattern})$`);
      } catch {
        throw new TemplateError(`Invalid allowed_pattern for parameter ${name}: ${c.allowed_pattern}`, 'InvalidSchemaError');
      }
      if (!re.test(v)) throw fail(`"${v}" does not match pattern "${c.allowed_pattern}"`);
    }
  }
  return v;
}

export interface ParameterSources {
  /** Values given with the stack (`parameters`). */
  supplied?: Record<string, unknown>;
  /** The environment's `parameters` and `parameter_defaults`. */
  environment?: Record<string, unknown>;
  /** Values of OS::stack_name, OS::stack_id, OS::project_id. */
  pseudo: Record<string, string>;
}

/** Final parameter values: supplied > environment parameters > parameter_defaults > default. */
export function resolveParameters(t: Template, sources: ParameterSources): Record<string, unknown> {
  const supplied = sources.supplied ?? {};
  const env = sources.environment ?? {};
  const envParams = isMap(env.parameters) ? env.parameters : {};
  const envDefaults = isMap(env.parameter_defaults) ? env.parameter_defaults : {};
  for (const name of Object.keys(supplied)) {
    if (!(name in t.parameters)) throw new TemplateError(`The Parameter (${name}) was not defined in template.`, 'UnknownUserParameter');
  }
  for (const name of Object.keys(envParams)) {
    if (!(name in t.parameters)) throw new TemplateError(`The Parameter (${name}) was not defined in template.`, 'UnknownUserParameter');
  }
  const out: Record<string, unknown> = { ...sources.pseudo };
  for (const [name, def] of Object.entries(t.parameters)) {
    let value: unknown;
    if (name in supplied) value = supplied[name];
    else if (name in envParams) value = envParams[name];
    else if (name in envDefaults) value = envDefaults[name];
    else if ('default' in def && def.default !== null) value = def.default;
    else throw new TemplateError(`The Parameter (${name}) was not provided.`, 'UserParameterMissing');
    out[name] = coerceParameter(name, def, value);
  }
  return out;
}

/** Stack-show form of parameter values: strings, hidden ones masked. */
export function displayParameters(t: Template, values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    const def = t.parameters[name];
    if (def?.hidden) out[name] = '******';
    else if (Array.isArray(value)) out[name] = value.join(',');
    else if (typeof value === 'object' && value !== null) out[name] = JSON.stringify(value);
    else out[name] = String(value);
  }
  return out;
}

/** The intrinsic function a value is, if it is a one-key map naming one. */
export function asFunction(v: unknown): { fn: string; arg: unknown } | undefined {
  if (!isMap(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !FUNCTIONS.includes(keys[0])) return undefined;
  return { fn: keys[0], arg: v[keys[0]] };
}

/** Calls `visit` for every intrinsic function in `value`, with a path for error messages. */
function walk(value: unknown, where: string, visit: (fn: string, arg: unknown, where: string) => void): void {
  const f = asFunction(value);
  if (f) {
    visit(f.fn, f.arg, where);
    walk(f.arg, where, visit);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${where}[${i}]`, visit));
  else if (isMap(value)) for (const [k, v] of Object.entries(value)) walk(v, where ? `${where}.${k}` : k, visit);
}

function validateReferences(t: Template): void {
  const check = (fn: string, arg: unknown, path: string) => {
    switch (fn) {
      case 'get_param': {
        const name = Array.isArray(arg) ? arg[0] : arg;
        if (typeof name !== 'string') throw new TemplateError(`Arguments to "get_param" must be of the form: [param_name, path...] (in ${path})`);
        if (!(name in t.parameters) && !PSEUDO_PARAMETERS.includes(name)) throw new TemplateError(`The Parameter (${name}) was not defined in template.`, 'UnknownUserParameter');
        return;
      }
      case 'get_resource':
        if (typeof arg !== 'string') throw new TemplateError(`Argument to "get_resource" must be a string (in ${path})`);
        if (!(arg in t.resources)) throw new TemplateError(`The specified reference "${arg}" (in ${path}) is incorrect.`, 'InvalidTemplateReference');
        return;
      case 'get_attr':
        if (!Array.isArray(arg) || arg.length < 2 || typeof arg[0] !== 'string') throw new TemplateError(`Arguments to "get_attr" must be of the form [resource_name, attribute, (path), ...] (in ${path})`);
        if (!(arg[0] in t.resources)) throw new TemplateError(`The specified reference "${arg[0]}" (in ${path}) is incorrect.`, 'InvalidTemplateReference');
        return;
      case 'str_replace':
        if (!isMap(arg) || !('template' in arg) || !('params' in arg)) throw new TemplateError(`"str_replace" parameters must be a mapping with "template" and "params" (in ${path})`);
        return;
      case 'list_join':
        if (!Array.isArray(arg) || arg.length < 2) throw new TemplateError(`Incorrect arguments to "list_join" should be: {"list_join" : [ "<delim>", [ "<string_1>", "<string_2>", ... ] ]} (in ${path})`);
        return;
      case 'str_split':
        if (!Array.isArray(arg) || arg.length < 2 || arg.length > 3) throw new TemplateError(`Incorrect arguments to "str_split" should be: {"str_split" : [ "<delim>", "<string>", <index> ]} (in ${path})`);
        return;
      case 'get_file':
        if (typeof arg !== 'string') throw new TemplateError(`Argument to "get_file" must be a string (in ${path})`);
        return;
    }
  };
  for (const [name, res] of Object.entries(t.resources)) {
    walk(res.properties, `${name}.properties`, check);
    for (const d of res.dependsOn) {
      if (!(d in t.resources)) throw new TemplateError(`The specified reference "${d}" (in ${name}) is incorrect.`, 'InvalidTemplateReference');
    }
  }
  for (const [name, out] of Object.entries(t.outputs)) walk(out.value, `outputs.${name}`, check);
}

/** Whether two property values name the same thing as written (`{get_resource: net}` twice, or one name). */
function sameRef(a: unknown, b: unknown): boolean {
  return a !== undefined && a !== null && a !== '' && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Heat's implicit dependencies (each resource plugin's add_dependencies): a port or a server on a
 * network depends on the template's subnets of that network (so it gets an address); a floating
 * IP (or association) depends on the router interfaces that connect its port's network and on
 * the routers whose gateway is on its floating network (so Neutron can reach the port).
 */
function implicitDependencies(t: Template, name: string, res: ResourceDef): string[] {
  const out: string[] = [];
  const of = (type: string) => Object.entries(t.resources).filter(([n, r]) => n !== name && r.type === type);
  const subnetsOn = (network: unknown) => of('OS::Neutron::Subnet').filter(([, r]) => sameRef(r.properties.network ?? r.properties.network_id, network)).map(([n]) => n);
  const p = res.properties;
  if (res.type === 'OS::Neutron::Port') out.push(...subnetsOn(p.network ?? p.network_id));
  if (res.type === 'OS::Nova::Server' && Array.isArray(p.networks)) {
    for (const n of p.networks) if (isMap(n) && !n.port) out.push(...subnetsOn(n.network ?? n.uuid));
  }
  if (res.type === 'OS::Neutron::FloatingIP' || res.type === 'OS::Neutron::FloatingIPAssociation') {
    const portRef = asFunction(p.port_id);
    const port = portRef?.fn === 'get_resource' && typeof portRef.arg === 'string' ? t.resources[portRef.arg] : undefined;
    if (port?.type === 'OS::Neutron::Port') {
      const subnets = new Set(subnetsOn(port.properties.network ?? port.properties.network_id));
      for (const [n, r] of of('OS::Neutron::RouterInterface')) {
        const sub = asFunction(r.properties.subnet ?? r.properties.subnet_id);
        if (sub?.fn === 'get_resource' && typeof sub.arg === 'string' && subnets.has(sub.arg)) out.push(n);
      }
    }
    if (res.type === 'OS::Neutron::FloatingIP') {
      for (const [n, r] of of('OS::Neutron::Router')) {
        const gw = r.properties.external_gateway_info;
        if (isMap(gw) && sameRef(gw.network ?? gw.network_id, p.floating_network)) out.push(n);
      }
    }
  }
  return out;
}

/** Direct dependencies of each resource (get_resource, get_attr, depends_on and Heat's implicit ones). */
export function dependencies(t: Template): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, res] of Object.entries(t.resources)) {
    const deps = new Set(res.dependsOn);
    walk(res.properties, name, (fn, arg) => {
      if (fn === 'get_resource' && typeof arg === 'string') deps.add(arg);
      if (fn === 'get_attr' && Array.isArray(arg) && typeof arg[0] === 'string') deps.add(arg[0]);
    });
    for (const d of implicitDependencies(t, name, res)) deps.add(d);
    deps.delete(name);
    out[name] = [...deps];
  }
  return out;
}

/** Resources in creation order (dependencies first); a cycle is a validation error. */
export function resourceOrder(t: Template): string[] {
  const deps = dependencies(t);
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new TemplateError(`Circular Dependency Found: ${[...chain, name].join(' -> ')}`, 'CircularDependencyException');
    state.set(name, 'visiting');
    for (const d of deps[name] ?? []) visit(d, [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(t.resources)) visit(name, []);
  return order;
}

/** Which resources need each resource (the reverse of dependencies). */
export function requiredBy(t: Template): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(Object.keys(t.resources).map((n) => [n, [] as string[]]));
  for (const [name, deps] of Object.entries(dependencies(t))) for (const d of deps) out[d]?.push(name);
  return out;
}

export interface EvalContext {
  params: Record<string, unknown>;
  /** Physical id of a resource, or null when it does not exist (yet). */
  resourceId(name: string): string | null;
  /** An attribute of a resource (path already applied by the engine or not). */
  attribute(name: string, attr: string): unknown;
  files?: Record<string, string>;
}

function followPath(value: unknown, path: unknown[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || v === undefined) return null;
    if (Array.isArray(v)) {
      const i = typeof key === 'number' ? key : Number(key);
      v = Number.isInteger(i) ? v[i] : undefined;
    } else if (isMap(v)) v = v[String(key)];
    else return null;
  }
  return v ?? null;
}

function stringify(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Evaluates every intrinsic function in `value`. */
export function evaluate(value: unknown, ctx: EvalContext): unknown {
  const f = asFunction(value);
  if (!f) {
    if (Array.isArray(value)) return value.map((v) => evaluate(v, ctx));
    if (isMap(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(v, ctx)]));
    return value;
  }
  const arg = evaluate(f.arg, ctx);
  switch (f.fn) {
    case 'get_param': {
      const [name, ...path] = Array.isArray(arg) ? arg : [arg];
      if (!(String(name) in ctx.params)) throw new TemplateError(`The Parameter (${String(name)}) was not provided.`, 'UserParameterMissing');
      return followPath(ctx.params[String(name)], path);
    }
    case 'get_resource':
      return ctx.resourceId(String(arg));
    case 'get_attr': {
      const [name, attr, ...path] = arg as unknown[];
      return followPath(ctx.attribute(String(name), String(attr)), path);
    }
    case 'str_replace': {
      const { template, params } = arg as { template: unknown; params: unknown };
      if (typeof template !== 'string') throw new TemplateError('"str_replace" template must be a string');
      if (!isMap(params)) throw new TemplateError('"str_replace" params must be a map');
      // Longest keys first, each replaced everywhere, as Heat does.
      const keys = Object.keys(params).sort((a, b) => b.length - a.length);
      let out = template;
      for (const k of keys) out = out.split(k).join(stringify(params[k]));
      return out;
    }
    case 'list_join': {
      const [delim, ...lists] = arg as unknown[];
      if (typeof delim !== 'string') throw new TemplateError('Incorrect arguments to "list_join": the delimiter must be a string');
      const items: string[] = [];
      for (const l of lists) {
        if (l === null || l === undefined) continue;
        if (!Array.isArray(l)) throw new TemplateError(`Incorrect arguments to "list_join": ${JSON.stringify(l)} is not a list`);
        for (const item of l) items.push(stringify(item));
      }
      return items.join(delim);
    }
    case 'str_split': {
      const [delim, str, index] = arg as unknown[];
      if (typeof delim !== 'string' || typeof str !== 'string') throw new TemplateError('Incorrect arguments to "str_split": delimiter and string must be strings');
      const parts = str.split(delim);
      if (index === undefined) return parts;
      const i = Number(index);
      if (!Number.isInteger(i) || i < 0 || i >= parts.length) throw new TemplateError(`Incorrect index to "str_split" should be between 0 and ${parts.length - 1}`);
      return parts[i];
    }
    case 'get_file': {
      const name = String(arg);
      const content = ctx.files?.[name];
      if (content === undefined) throw new TemplateError(`No content found in the "files" section for get_file path: ${name}`);
      return content;
    }
  }
  return value;
}

/** OS::Heat::CloudConfig's rendering of its `cloud_config` map. */
export function renderCloudConfig(cloudConfig: unknown): string {
  const body = cloudConfig === null || cloudConfig === undefined ? '{}\n' : YAML.stringify(cloudConfig, { lineWidth: 0 });
  return `#cloud-config\n${body}`;
}
