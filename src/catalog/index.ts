/**
 * The requirements catalog: schema, built-in defaults, merging and look-ups. Everything exported
 * here is pure (no I/O) and may be imported from Temporal workflow code; loading the override
 * file lives in './load'.
 */
export * from './schema';
export { DEFAULT_CATALOG } from './defaults';
export { CatalogError, catalogOverrideSchema, mergeCatalog, mergePatch, type CatalogOverride } from './merge';
export * from './lookup';
export * from './fieldErrors';
