/** Helpers every resource module shares: envelope unwrapping and "404 means done" on request. */
import { CloudApiError, responseCodeIs } from '../errors';
import type { JsonResponse } from './session';

/** `res.json[key]`, or an Unexpected error naming the missing envelope (never returns undefined). */
export function unwrap<T>(res: JsonResponse, key: string): T {
  const body = res.json as Record<string, unknown> | undefined;
  const value = body && typeof body === 'object' ? body[key] : undefined;
  if (value === undefined || value === null) {
    throw new CloudApiError({
      kind: 'Unexpected',
      method: 'GET',
      url: res.url,
      status: res.status,
      body: res.text,
      message: `${res.url}: ${res.status} response lacks "${key}"`,
    });
  }
  return value as T;
}

/** The whole body as an object (Glance returns images without an envelope). */
export function bodyObject<T>(res: JsonResponse): T {
  if (!res.json || typeof res.json !== 'object') {
    throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: res.url, status: res.status, body: res.text, message: `${res.url}: ${res.status} response is not a JSON object` });
  }
  return res.json as T;
}

export interface DeleteOptions {
  /** Treat 404 as "already gone" (idempotent deletes). Off by default. */
  ignoreNotFound?: boolean;
  signal?: AbortSignal;
}

/** Runs a delete; returns false when the target was already gone and the caller allowed that. */
export async function runDelete(opts: DeleteOptions | undefined, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    if (opts?.ignoreNotFound && responseCodeIs(err, 404)) return false;
    throw err;
  }
}

/** Header value as one string (undici gives arrays for repeated headers). */
export function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export const enc = encodeURIComponent;

/**
 * Path prefix for a service whose catalog URL usually has no version (Glance `/v2`, Neutron
 * `/v2.0`): empty when the catalog URL already ends with that version, as some clouds register it.
 */
export async function versionPrefix(session: { endpoint(service: string, signal?: AbortSignal): Promise<string> }, service: string, version: string, signal?: AbortSignal): Promise<string> {
  const base = await session.endpoint(service, signal);
  return base.endsWith(`/${version}`) ? '' : `/${version}`;
}
