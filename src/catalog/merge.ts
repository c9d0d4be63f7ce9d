/**
 * Merging an operator's override document over a catalog. Pure (no file access; see load.ts for
 * reading VMFLOW_CATALOG_FILE) so it can be tested and reused on already-parsed documents.
 *
 * Override document:
 *   operatingSystems / software / sizes: lists of entries, each with an `id`.
 *   - an id the catalog has: the entry is merged into it with JSON Merge Patch rules (RFC 7386:
 *     objects merge key by key, arrays and scalars replace, `null` deletes a key), e.g.
 *     `{id: small, cloudstack: {serviceOfferingName: "Tiny"}}` renames one offering;
 *   - `{id: x, remove: true}` drops entry x;
 *   - a new id: the entry is added and must be complete.
 * Every error names the field in the override document (`sizes[1].vcpus`), or, for a problem in
 * an entry the document did not touch, the entry by id (`software[id=filezilla].byOs.centos-9`).
 */
import { z } from 'zod';
import { type FieldError, describeFieldErrors, formatPath, zodFieldErrors } from './fieldErrors';
import { type Catalog, catalogIdSchema, catalogSchema, operatingSystemSchema, sizeSchema, softwareSchema } from './schema';

export class CatalogError extends Error {
  constructor(
    readonly errors: FieldError[],
    /** Where the bad document came from (a file path), when known. */
    readonly source?: string,
  ) {
    super(`invalid catalog${source ? ` override ${source}` : ''}: ${describeFieldErrors(errors)}`);
    this.name = 'CatalogError';
  }
}

const LISTS = {
  operatingSystems: operatingSystemSchema,
  software: softwareSchema,
  sizes: sizeSchema,
} as const;
type ListName = keyof typeof LISTS;
const LIST_NAMES = Object.keys(LISTS) as ListName[];

const overrideEntrySchema = z.looseObject({
  id: catalogIdSchema,
  remove: z.literal(true, 'must be true when given (to drop the entry)').optional(),
});

/** The override document's outer shape; entries are checked one by one after merging. */
export const catalogOverrideSchema = z.strictObject({
  operatingSystems: z.array(overrideEntrySchema).optional(),
  software: z.array(overrideEntrySchema).optional(),
  sizes: z.array(overrideEntrySchema).optional(),
});
export type CatalogOverride = z.input<typeof catalogOverrideSchema>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * RFC 7386 JSON Merge Patch, without mutating either argument. Values at paths for which
 * `replaceWhole` answers true are replaced instead of merged.
 */
export function mergePatch(
  target: unknown,
  patch: unknown,
  replaceWhole: (path: readonly string[]) => boolean = () => false,
  path: readonly string[] = [],
): unknown {
  if (!isPlainObject(patch) || (path.length > 0 && replaceWhole(path))) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? (clone(target) as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value, replaceWhole, [...path, key]);
  }
  return out;
}

/**
 * A package choice is either {packages} or {unavailable}; merging one into the other would keep
 * both keys, so an override's choice replaces the catalog's.
 */
const isPackageChoicePath = (path: readonly string[]) => path.length === 2 && (path[0] === 'byFamily' || path[0] === 'byOs');

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

type OverrideEntry = z.output<typeof overrideEntrySchema>;

/**
 * The document's outer shape, list by list, so that an unknown top-level key and a bad entry are
 * reported together. Undefined only when the document is not an object at all.
 */
function parseOverride(override: unknown, errors: FieldError[]): Partial<Record<ListName, OverrideEntry[]>> | undefined {
  if (!isPlainObject(override)) {
    errors.push({ field: '', message: 'must be a mapping with operatingSystems, software and/or sizes' });
    return undefined;
  }
  const out: Partial<Record<ListName, OverrideEntry[]>> = {};
  for (const key of Object.keys(override)) {
    if (!(LIST_NAMES as string[]).includes(key)) errors.push({ field: key, message: `is not a known field (expected ${LIST_NAMES.join(', ')})` });
  }
  for (const list of LIST_NAMES) {
    const parsed = z.array(overrideEntrySchema).optional().safeParse(override[list]);
    if (parsed.success) out[list] = parsed.data;
    else errors.push(...zodFieldErrors(parsed.error, list));
  }
  return out;
}

/**
 * Returns `base` with `override` applied, validated; throws CatalogError naming every bad field.
 * `base` is not modified.
 */
export function mergeCatalog(base: Catalog, override: unknown, source?: string): Catalog {
  const errors: FieldError[] = [];
  const document = parseOverride(override ?? {}, errors);
  if (!document) throw new CatalogError(errors, source);
  const merged: Record<ListName, unknown[]> = { operatingSystems: [], software: [], sizes: [] };
  /** For each merged entry, its index in the override list (if the override touched it). */
  const origin: Record<ListName, (number | undefined)[]> = { operatingSystems: [], software: [], sizes: [] };
  const removedOsIds = new Set<string>();

  for (const list of LIST_NAMES) {
    const entries = document[list] ?? [];
    const result = base[list].map((entry) => clone(entry) as unknown);
    const from: (number | undefined)[] = base[list].map(() => undefined);
    const seenInOverride = new Map<string, number>();

    entries.forEach((entry, i) => {
      const where = `${list}[${i}]`;
      const earlier = seenInOverride.get(entry.id);
      if (earlier !== undefined) {
        errors.push({ field: `${where}.id`, message: `"${entry.id}" already appears at ${list}[${earlier}]` });
        return;
      }
      seenInOverride.set(entry.id, i);
      const at = result.findIndex((e) => (e as { id: string }).id === entry.id);
      if (entry.remove) {
        if (at < 0) errors.push({ field: `${where}.id`, message: `cannot remove "${entry.id}": the catalog has no such entry` });
        else {
          if (list === 'operatingSystems') removedOsIds.add(entry.id);
          result.splice(at, 1);
          from.splice(at, 1);
        }
        return;
      }
      const { remove: _remove, ...patch } = entry;
      const candidate = at >= 0 ? mergePatch(result[at], patch, list === 'software' ? isPackageChoicePath : undefined) : patch;
      const checked = LISTS[list].safeParse(candidate);
      if (!checked.success) {
        const note = at >= 0 ? '' : ` (new entry "${entry.id}": entries the catalog does not have must be complete)`;
        errors.push(...zodFieldErrors(checked.error, where).map((e) => ({ ...e, message: e.message + note })));
        return;
      }
      if (at >= 0) {
        result[at] = checked.data;
        from[at] = i;
      } else {
        result.push(checked.data);
        from.push(i);
      }
    });
    merged[list] = result;
    origin[list] = from;
  }
  if (errors.length) throw new CatalogError(errors, source);
  // Exceptions for an operating system the operator removed go with it.
  for (const sw of merged.software as { byOs?: Record<string, unknown> }[]) {
    for (const osId of removedOsIds) if (sw.byOs) delete sw.byOs[osId];
  }

  const whole = catalogSchema.safeParse(merged);
  if (!whole.success) {
    throw new CatalogError(
      whole.error.issues.map((issue) => ({ field: describeMergedPath(issue.path, merged, origin), message: issue.message })),
      source,
    );
  }
  return whole.data;
}

/** Points at the override document where possible, else names the untouched entry by id. */
function describeMergedPath(
  path: readonly PropertyKey[],
  merged: Record<ListName, unknown[]>,
  origin: Record<ListName, (number | undefined)[]>,
): string {
  const [list, index, ...rest] = path;
  if (typeof list !== 'string' || !(list in merged) || typeof index !== 'number') return formatPath(path);
  const name = list as ListName;
  const fromOverride = origin[name][index];
  const id = (merged[name][index] as { id?: string } | undefined)?.id;
  const head = fromOverride !== undefined ? `${name}[${fromOverride}]` : `${name}[id=${id ?? index}]`;
  return formatPath(rest, head);
}
