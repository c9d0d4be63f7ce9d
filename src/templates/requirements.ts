/**
 * What a user asks for when creating a VM (UC-006): name, OS, software, size, target cloud, and
 * optional access settings. `vmRequirementsSchema` is the REST input schema; `validateRequirements`
 * adds the checks that need the catalog (known ids, software available on that OS family, the
 * cloud's user-data size limit) and answers with errors that name the field (`software[2]`).
 * Pure: safe to import from workflow code.
 */
import { z } from 'zod';
import {
  type Catalog,
  type FieldError,
  type OperatingSystem,
  type Size,
  type Software,
  describeFieldErrors,
  findOperatingSystem,
  findSize,
  findSoftware,
  resolvePackages,
  zodFieldErrors,
} from '../catalog';
import { normalizeSshPublicKey, sshPublicKeyProblem } from './sshKeys';

export const CLOUDS = ['openstack', 'cloudstack'] as const;
export const cloudSchema = z.enum(CLOUDS, 'must be "openstack" or "cloudstack"');
export type CloudKind = z.infer<typeof cloudSchema>;

/** Bounds that keep one request well inside the clouds' user-data limits and the API's body size. */
export const LIMITS = {
  software: 30,
  sshPublicKeys: 10,
  users: 10,
  groupsPerUser: 16,
  runcmd: 64,
  runcmdLength: 4096,
} as const;

/**
 * A hostname label that both clouds accept: CloudStack refuses VM names that start with a digit
 * or a hyphen, end with a hyphen, or exceed 63 characters.
 */
export const vmNameSchema = z
  .string('must be a string')
  .min(1, { error: 'must not be empty', abort: true })
  .max(63, { error: 'must be at most 63 characters', abort: true })
  .regex(/^[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?$/, 'must start with a letter, contain only letters, digits and "-", and not end with "-"');

const idRef = z.string('must be a catalog id (a string)').min(1, 'must not be empty').max(63, 'must be at most 63 characters');

export const sshPublicKeySchema = z
  .string('must be a string')
  .superRefine((key, ctx) => {
    const problem = sshPublicKeyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform(normalizeSshPublicKey);

const posixName = z
  .string('must be a string')
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX name: lower-case letter or "_" first, then up to 31 of a-z, 0-9, "_", "-"');

export const vmUserSchema = z.strictObject({
  name: posixName.refine((n) => n !== 'root', 'must not be "root"'),
  groups: z.array(posixName).max(LIMITS.groupsPerUser, `must list at most ${LIMITS.groupsPerUser} groups`).optional(),
  /** Passwordless sudo for this user. */
  sudo: z.boolean('must be true or false').optional(),
  sshPublicKeys: z.array(sshPublicKeySchema).max(LIMITS.sshPublicKeys, `must list at most ${LIMITS.sshPublicKeys} keys`).optional(),
});
export type VmUser = z.infer<typeof vmUserSchema>;

const runcmdLine = z
  .string('must be a string')
  .min(1, 'must not be empty')
  .max(LIMITS.runcmdLength, `must be at most ${LIMITS.runcmdLength} characters`)
  // Control characters other than tab/newline corrupt the YAML document or the shell script.
  // eslint-disable-next-line no-control-regex -- finding control characters is this pattern's job
  .regex(/^[^\x00-\x08\x0b-\x1f\x7f]*$/, 'must not contain control characters');

function uniqueItems<T>(items: readonly T[], key: (item: T) => string, what: string, ctx: z.RefinementCtx, at: PropertyKey[] = []) {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [...at, i], message: `duplicate ${what} "${k}" (same as [${first}])` });
    else seen.set(k, i);
  });
}

export const vmRequirementsSchema = z
  .strictObject({
    name: vmNameSchema,
    os: idRef,
    software: z.array(idRef).max(LIMITS.software, `must list at most ${LIMITS.software} items`).default([]),
    size: idRef,
    cloud: cloudSchema,
    sshPublicKeys: z.array(sshPublicKeySchema).max(LIMITS.sshPublicKeys, `must list at most ${LIMITS.sshPublicKeys} keys`).optional(),
    users: z.array(vmUserSchema).max(LIMITS.users, `must list at most ${LIMITS.users} users`).optional(),
    runcmd: z.array(runcmdLine).max(LIMITS.runcmd, `must list at most ${LIMITS.runcmd} commands`).optional(),
    /** Refresh the package index first; defaults to true when software is requested. */
    packagesUpdate: z.boolean('must be true or false').optional(),
  })
  .superRefine((req, ctx) => {
    uniqueItems(req.software, (s) => s, 'software', ctx, ['software']);
    if (req.users) uniqueItems(req.users, (u) => u.name, 'user name', ctx, ['users']);
  });

/** What the API accepts (software may be omitted). */
export type VmRequirementsInput = z.input<typeof vmRequirementsSchema>;
/** What validation yields and the renderers take. */
export type VmRequirements = z.output<typeof vmRequirementsSchema>;

/** The catalog entries a valid request points at, and the packages it installs. */
export interface ResolvedRequirements {
  req: VmRequirements;
  os: OperatingSystem;
  size: Size;
  software: Software[];
  /** Package names for the OS family, in request order, without duplicates. */
  packages: string[];
}

export type RequirementsResult = { ok: true; value: VmRequirements } | { ok: false; errors: FieldError[] };

/** Thrown by the renderers when given requirements that do not validate against the catalog. */
export class RequirementsError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid VM requirements: ${describeFieldErrors(errors)}`);
    this.name = 'RequirementsError';
  }
}

function listIds(entries: readonly { id: string }[]): string {
  return entries.map((e) => e.id).join(', ');
}

/**
 * The catalog-dependent checks, run on whatever parts of the input are well-typed so that one
 * answer lists every problem.
 */
function catalogProblems(input: Record<string, unknown>, catalog: Catalog): { errors: FieldError[]; os?: OperatingSystem } {
  const errors: FieldError[] = [];
  let os: OperatingSystem | undefined;
  if (typeof input.os === 'string') {
    os = findOperatingSystem(catalog, input.os);
    if (!os) errors.push({ field: 'os', message: `unknown operating system "${input.os}"; choose one of: ${listIds(catalog.operatingSystems)}` });
  }
  if (typeof input.size === 'string' && !findSize(catalog, input.size)) {
    errors.push({ field: 'size', message: `unknown size "${input.size}"; choose one of: ${listIds(catalog.sizes)}` });
  }
  if (Array.isArray(input.software)) {
    input.software.forEach((id, i) => {
      if (typeof id !== 'string') return;
      const sw = findSoftware(catalog, id);
      if (!sw) {
        errors.push({ field: `software[${i}]`, message: `unknown software "${id}"; choose from: ${listIds(catalog.software)}` });
        return;
      }
      if (!os) return;
      const resolved = resolvePackages(sw, os);
      if (!resolved.ok) errors.push({ field: `software[${i}]`, message: `${sw.displayName} ("${id}") is not available on ${os.displayName}: ${resolved.reason}` });
    });
  }
  if (os && Array.isArray(input.users)) {
    input.users.forEach((user, i) => {
      const name = (user as { name?: unknown } | null)?.name;
      if (name === os!.defaultUser) {
        errors.push({ field: `users[${i}].name`, message: `"${name}" is the ${os!.displayName} image's default user; give its keys in sshPublicKeys instead` });
      }
    });
  }
  return { errors, os };
}

/**
 * Schema and catalog validation together. Errors from the schema take precedence for a field;
 * the catalog checks still run on the other fields.
 */
export function checkRequirements(input: unknown, catalog: Catalog): { ok: true; resolved: ResolvedRequirements } | { ok: false; errors: FieldError[] } {
  const parsed = vmRequirementsSchema.safeParse(input);
  const raw = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const schemaErrors = parsed.success ? [] : zodFieldErrors(parsed.error);
  const badFields = new Set(schemaErrors.map((e) => e.field));
  const fromCatalog = catalogProblems(raw, catalog).errors.filter((e) => !badFields.has(e.field));
  const errors = [...schemaErrors, ...fromCatalog];
  if (!parsed.success || errors.length) return { ok: false, errors };

  const req = parsed.data;
  const os = findOperatingSystem(catalog, req.os)!;
  const size = findSize(catalog, req.size)!;
  const software = req.software.map((id) => findSoftware(catalog, id)!);
  const packages: string[] = [];
  for (const sw of software) {
    const resolved = resolvePackages(sw, os);
    if (resolved.ok) for (const p of resolved.packages) if (!packages.includes(p)) packages.push(p);
  }
  return { ok: true, resolved: { req, os, size, software, packages } };
}

/** Like checkRequirements, throwing RequirementsError instead of answering with errors. */
export function resolveRequirements(input: unknown, catalog: Catalog): ResolvedRequirements {
  const result = checkRequirements(input, catalog);
  if (!result.ok) throw new RequirementsError(result.errors);
  return result.resolved;
}
