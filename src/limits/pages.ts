/**
 * Pages for every list the API answers (issue 12 item 4): `?limit=` (1…PAGE_MAX, default
 * PAGE_DEFAULT) and `?cursor=` (opaque, from the previous page's `nextCursor`). A page is sorted
 * by one field and the id (a stable order even when the field repeats); the cursor holds the last
 * item's pair, so a page never costs more than `limit + 1` documents however long the list is.
 */
import type { Model } from 'mongoose';
import { PAGE_DEFAULT, PAGE_MAX } from '../contracts/api/common';
import { AppError } from '../errors';

export { nextCursorField, PAGE_DEFAULT, PAGE_MAX, pageQueryFields } from '../contracts/api/common';

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

type Key = string | number | Date;

function encode(k: Key, id: string): string {
  const v = k instanceof Date ? { d: k.toISOString() } : { v: k };
  return Buffer.from(JSON.stringify({ ...v, id }), 'utf8').toString('base64url');
}

function decode(cursor: string): { key: Key; id: string } {
  try {
    const o = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { d?: string; v?: string | number; id?: unknown };
    if (typeof o.id !== 'string') throw new Error('no id');
    if (typeof o.d === 'string' && !Number.isNaN(Date.parse(o.d))) return { key: new Date(o.d), id: o.id };
    if (typeof o.v === 'string' || typeof o.v === 'number') return { key: o.v, id: o.id };
  } catch {
    // fall through
  }
  throw AppError.badRequest('invalid cursor: pass the nextCursor of the previous page unchanged', [{ field: 'cursor', message: 'not a cursor this API gave out' }]);
}

/**
 * One page of `model` under `filter`, ordered by `field` (then `_id`) in `direction`; `nextCursor`
 * when more follow.
 */
export async function pageOf<T extends { _id: string }>(
  model: Model<T>,
  filter: Record<string, unknown>,
  order: { field: string; direction: 1 | -1 },
  page: PageRequest,
  caps: { max: number; default: number } = { max: PAGE_MAX, default: PAGE_DEFAULT },
): Promise<{ items: T[]; nextCursor?: string }> {
  const limit = Math.min(Math.max(page.limit ?? caps.default, 1), caps.max);
  const { field, direction } = order;
  const op = direction === 1 ? '$gt' : '$lt';
  let query: Record<string, unknown> = filter;
  if (page.cursor) {
    const { key, id } = decode(page.cursor);
    query = { $and: [filter, { $or: [{ [field]: { [op]: key } }, { [field]: key, _id: { [op]: id } }] }] };
  }
  const docs = (await model.find(query as never).sort({ [field]: direction, _id: direction }).limit(limit + 1).lean()) as unknown as T[];
  if (docs.length <= limit) return { items: docs };
  const items = docs.slice(0, limit);
  const last = items.at(-1)! as Record<string, unknown>;
  return { items, nextCursor: encode(last[field] as Key, String(last._id)) };
}
