/**
 * Custom search attributes the workflows set, so the Temporal UI and `temporal workflow list
 * --query` find a user's or a VM's workflows. The dev server registers them at start
 * (--search-attribute); against an existing cluster the worker registers them at start-up.
 */
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export const SEARCH_ATTRIBUTES = {
  VmflowOwnerId: 'Keyword',
  VmflowVmId: 'Keyword',
  VmflowCloud: 'Keyword',
} as const;

const TYPE = temporal.api.enums.v1.IndexedValueType;

/** Idempotent: attributes that already exist are left alone. */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const have = new Set(Object.keys(existing.customAttributes ?? {}));
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !have.has(name));
    if (missing.length === 0) return [];
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, TYPE[`INDEXED_VALUE_TYPE_${type.toUpperCase()}` as keyof typeof TYPE]])),
    });
    return missing.map(([name]) => name);
  } finally {
    await connection.close();
  }
}
