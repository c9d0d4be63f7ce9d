/**
 * An environment request turned into its members: presets expanded server-side, and the member
 * graph checked (unique names, known requirements, no cycle) with every problem named by its field
 * (`members[2].requires[0]`). Pure: no I/O; the catalog checks of each member's requirements come
 * after (EnvironmentService, through the VM service's own validation).
 */
import type { FieldError } from '../errors';
import type { CreateEnvironmentRequest, EnvironmentMemberRequest, EnvironmentPreset } from '../contracts/api/environments';

export interface ExpandedMember {
  name: string;
  requires: string[];
  /** The VM's requirements as the POST /vms body would carry them (cloud and name filled in). */
  requirements: Record<string, unknown>;
  /** Where this member came from in the request, to name fields in errors (`members[1]`), or the preset. */
  field: string;
}

export interface ExpandedEnvironment {
  preset?: EnvironmentPreset;
  members: ExpandedMember[];
}

export class EnvironmentRequestError extends Error {
  constructor(readonly fields: FieldError[]) {
    super(fields.map((f) => `${f.field}: ${f.message}`).join('; '));
    this.name = 'EnvironmentRequestError';
  }
}

export const PRESET_DEFAULTS = { os: 'ubuntu-24.04', size: 'small' } as const;

/** The members a preset stands for (before the environment's name and cloud are added). */
export function presetMembers(preset: EnvironmentPreset, opts: { number?: number; size?: string; os?: string }): EnvironmentMemberRequest[] {
  const base = { os: opts.os ?? PRESET_DEFAULTS.os, size: opts.size ?? PRESET_DEFAULTS.size };
  switch (preset) {
    case 'overcloud': {
      // The DevOps post deploys and manages the cluster: every node waits for it.
      const devops: EnvironmentMemberRequest = { name: 'devops', ...base, software: ['git', 'python3', 'podman'] };
      const nodes = Array.from({ length: opts.number ?? 1 }, (_, i): EnvironmentMemberRequest => ({ name: `node-${i + 1}`, ...base, software: ['python3', 'podman'], requires: ['devops'] }));
      return [devops, ...nodes];
    }
    case 'web-app-db':
      // The database first, the application server on it, the web front end on the application.
      return [
        { name: 'db', ...base, software: ['postgresql'] },
        { name: 'app', ...base, software: ['jdk'], requires: ['db'] },
        { name: 'web', ...base, software: ['nginx'], requires: ['app'] },
      ];
  }
}

/** Members from the request (its own, or its preset's), checked as a graph; throws EnvironmentRequestError naming every problem. */
export function expandEnvironment(req: CreateEnvironmentRequest): ExpandedEnvironment {
  const problems: FieldError[] = [];
  if (req.members && req.preset) problems.push({ field: 'preset', message: 'give either members or a preset, not both' });
  if (!req.members && !req.preset) problems.push({ field: 'members', message: 'is required (or give a preset)' });
  if (req.number !== undefined && req.preset !== 'overcloud') problems.push({ field: 'number', message: 'only with preset "overcloud"' });
  if (req.preset === 'overcloud' && req.number === undefined) problems.push({ field: 'number', message: 'is required with preset "overcloud" (how many cluster nodes)' });
  for (const f of ['size', 'os'] as const) if (req[f] !== undefined && !req.preset) problems.push({ field: f, message: 'only with a preset (members give their own)' });
  if (problems.length) throw new EnvironmentRequestError(problems);

  const fromPreset = !req.members;
  const requested = req.members ?? presetMembers(req.preset!, req);
  const members: ExpandedMember[] = requested.map((m, i) => {
    const { name, requires, ...rest } = m;
    return {
      name,
      requires: requires ?? [],
      requirements: { ...rest, name: `${req.name}-${name}`, cloud: req.cloud },
      field: fromPreset ? 'preset' : `members[${i}]`,
    };
  });
  problems.push(...graphProblems(members));
  for (const m of members) {
    const vmName = m.requirements.name as string;
    if (vmName.length > 63) problems.push({ field: fromPreset ? 'name' : `${m.field}.name`, message: `the VM name "${vmName}" (environment-member) must be at most 63 characters` });
  }
  if (problems.length) throw new EnvironmentRequestError(problems);
  return { ...(req.preset ? { preset: req.preset } : {}), members };
}

/** Duplicate names, unknown or self requirements, and each dependency cycle, by field. */
export function graphProblems(members: readonly { name: string; requires: string[]; field: string }[]): FieldError[] {
  const problems: FieldError[] = [];
  const index = new Map<string, number>();
  members.forEach((m, i) => {
    if (index.has(m.name)) problems.push({ field: `${m.field}.name`, message: `duplicate member name "${m.name}" (also ${members[index.get(m.name)!].field})` });
    else index.set(m.name, i);
  });
  members.forEach((m) => {
    const seen = new Set<string>();
    m.requires.forEach((r, j) => {
      const field = `${m.field}.requires[${j}]`;
      if (r === m.name) problems.push({ field, message: 'a member cannot require itself' });
      else if (!index.has(r)) problems.push({ field, message: `no member named "${r}"` });
      else if (seen.has(r)) problems.push({ field, message: `"${r}" is listed twice` });
      seen.add(r);
    });
  });
  if (problems.length) return problems;
  // Depth-first search with colours: each cycle reported once, at the member where it closes.
  const colour = new Map<string, 'grey' | 'black'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    colour.set(name, 'grey');
    stack.push(name);
    const m = members[index.get(name)!];
    m.requires.forEach((r, j) => {
      const c = colour.get(r);
      if (c === 'grey') problems.push({ field: `${m.field}.requires[${j}]`, message: `dependency cycle ${[...stack.slice(stack.indexOf(r)), r].join(' → ')}` });
      else if (c === undefined) visit(r);
    });
    stack.pop();
    colour.set(name, 'black');
  };
  for (const m of members) if (!colour.has(m.name)) visit(m.name);
  return problems;
}
