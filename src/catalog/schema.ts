/**
 * The shape of the requirements catalog: the operating systems, software and hardware sizes a
 * non-expert picks from, each mapped to what the clouds call them (Glance image and Nova flavor
 * names for OpenStack, template and service-offering names for CloudStack). The same schema
 * validates the built-in defaults, an operator's override file and the `GET /api/v1/catalog`
 * answer. Pure: no I/O, safe to import from workflow code.
 */
import { z } from 'zod';

/** Package managers differ by family, so package names are given per family (apt vs dnf). */
export const OS_FAMILIES = ['debian', 'rhel'] as const;
export const osFamilySchema = z.enum(OS_FAMILIES);
export type OsFamily = z.infer<typeof osFamilySchema>;

/** Catalog ids are what the REST input carries: short, lowercase, stable. */
export const catalogIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1–63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');

/**
 * apt and dnf package names (Debian policy: [a-z0-9][a-z0-9+.-]+; RPM also allows upper case and
 * "_"). Anything else is refused so that a catalog entry can never smuggle options into the
 * package manager's command line.
 */
export const packageNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$/, 'is not a valid package name (letters, digits, "+", ".", "_", "-")');

const displayName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const cloudName = z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters');

export const operatingSystemSchema = z.strictObject({
  id: catalogIdSchema,
  displayName,
  family: osFamilySchema,
  version: z.string().trim().min(1, 'must not be empty').max(40),
  /** The login user the cloud image creates (cloud-init's `default` user). */
  defaultUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX user name'),
  images: z.strictObject({
    openstack: z.strictObject({ imageName: cloudName }),
    cloudstack: z.strictObject({ templateName: cloudName }),
  }),
});
export type OperatingSystem = z.infer<typeof operatingSystemSchema>;

/**
 * How a piece of software is installed on one family or OS: the package names, or the reason it
 * cannot be (shown to the user and used in the refusal message).
 */
export const packageChoiceSchema = z.union(
  [
    z.strictObject({ packages: z.array(packageNameSchema).min(1, 'must list at least one package') }),
    z.strictObject({ unavailable: z.string().trim().min(1, 'must give the reason') }),
  ],
  { error: 'must be either {packages: [names]} or {unavailable: "reason"}' },
);
export type PackageChoice = z.infer<typeof packageChoiceSchema>;

export const softwareSchema = z.strictObject({
  id: catalogIdSchema,
  displayName,
  description: z.string().trim().max(300).optional(),
  byFamily: z.strictObject({ debian: packageChoiceSchema, rhel: packageChoiceSchema }),
  /** Exceptions for one OS within a family (e.g. a package that CentOS only has in EPEL). */
  byOs: z.record(catalogIdSchema, packageChoiceSchema).optional(),
});
export type Software = z.infer<typeof softwareSchema>;

export const sizeSchema = z.strictObject({
  id: catalogIdSchema,
  displayName,
  vcpus: z.number().int().min(1).max(512),
  ramMiB: z.number().int().min(256).max(4 * 1024 * 1024),
  diskGiB: z.number().int().min(1).max(64 * 1024),
  openstack: z.strictObject({ flavorName: cloudName }),
  cloudstack: z.strictObject({ serviceOfferingName: cloudName }),
});
export type Size = z.infer<typeof sizeSchema>;

function requireUniqueIds(entries: readonly { id: string }[], listName: string, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const first = seen.get(entry.id);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [listName, i, 'id'], message: `duplicate id "${entry.id}" (also ${listName}[${first}])` });
    } else seen.set(entry.id, i);
  });
}

export const catalogSchema = z
  .strictObject({
    operatingSystems: z.array(operatingSystemSchema).min(1, 'must list at least one operating system'),
    software: z.array(softwareSchema),
    sizes: z.array(sizeSchema).min(1, 'must list at least one size'),
  })
  .superRefine((catalog, ctx) => {
    requireUniqueIds(catalog.operatingSystems, 'operatingSystems', ctx);
    requireUniqueIds(catalog.software, 'software', ctx);
    requireUniqueIds(catalog.sizes, 'sizes', ctx);
    const osIds = new Set(catalog.operatingSystems.map((os) => os.id));
    catalog.software.forEach((sw, i) => {
      for (const osId of Object.keys(sw.byOs ?? {})) {
        if (!osIds.has(osId)) {
          ctx.addIssue({ code: 'custom', path: ['software', i, 'byOs', osId], message: `names operating system "${osId}", which the catalog does not list` });
        }
      }
    });
  });
export type Catalog = z.infer<typeof catalogSchema>;
