/**
 * Reading the catalog: find entries by id and work out which packages a piece of software needs
 * on a given operating system. Pure: safe to import from workflow code.
 */
import type { Catalog, OperatingSystem, PackageChoice, Size, Software } from './schema';

export function findOperatingSystem(catalog: Catalog, id: string): OperatingSystem | undefined {
  return catalog.operatingSystems.find((os) => os.id === id);
}

export function findSoftware(catalog: Catalog, id: string): Software | undefined {
  return catalog.software.find((sw) => sw.id === id);
}

export function findSize(catalog: Catalog, id: string): Size | undefined {
  return catalog.sizes.find((size) => size.id === id);
}

export type PackageResolution = { ok: true; packages: string[] } | { ok: false; reason: string };

/** An OS-specific exception wins over the family rule. */
export function packageChoiceFor(software: Software, os: OperatingSystem): PackageChoice {
  return software.byOs?.[os.id] ?? software.byFamily[os.family];
}

export function resolvePackages(software: Software, os: OperatingSystem): PackageResolution {
  const choice = packageChoiceFor(software, os);
  if ('packages' in choice) return { ok: true, packages: [...choice.packages] };
  return { ok: false, reason: choice.unavailable };
}

/** Ids of the software that can be installed on `os`, in catalog order (for pickers). */
export function softwareAvailableOn(catalog: Catalog, os: OperatingSystem): string[] {
  return catalog.software.filter((sw) => 'packages' in packageChoiceFor(sw, os)).map((sw) => sw.id);
}
