/**
 * Loading the catalog at start-up: the built-in defaults, with the operator's override file
 * (VMFLOW_CATALOG_FILE, JSON or YAML) merged over them. This module reads files, so it is kept
 * apart from the pure catalog modules that workflow code imports (./index).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_CATALOG } from './defaults';
import { CatalogError, mergeCatalog } from './merge';
import type { Catalog } from './schema';

/** Environment variable naming the override file. */
export const CATALOG_FILE_ENV = 'VMFLOW_CATALOG_FILE';

export interface LoadCatalogOptions {
  /** An already-parsed override document; takes precedence over `file` and the environment. */
  overrides?: unknown;
  /** Path of a JSON or YAML override file; defaults to $VMFLOW_CATALOG_FILE. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** The catalog to merge over; defaults to DEFAULT_CATALOG. */
  base?: Catalog;
}

/**
 * Returns the effective catalog. With no override it is DEFAULT_CATALOG (validated). Throws
 * CatalogError naming the file and every bad field when the file is unreadable, not JSON/YAML, or
 * does not validate.
 */
export function loadCatalog(options: LoadCatalogOptions = {}): Catalog {
  const base = options.base ?? DEFAULT_CATALOG;
  if (options.overrides !== undefined) return mergeCatalog(base, options.overrides);
  const env = options.env ?? process.env;
  const file = options.file ?? (env[CATALOG_FILE_ENV] || undefined);
  if (!file) return mergeCatalog(base, {});
  return mergeCatalog(base, readOverrideFile(file), file);
}

/** JSON is a subset of YAML 1.2, so one parser reads both. */
export function readOverrideFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CatalogError([{ field: '', message: `cannot read the file: ${(err as Error).message}` }], file);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new CatalogError([{ field: '', message: `not valid JSON or YAML: ${(err as Error).message}` }], file);
  }
}
