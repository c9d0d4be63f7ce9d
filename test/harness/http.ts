/**
 * Small helpers the end-to-end suites share: a JSON call to the REST API as a member, and a bounded
 * wait for something to become true (polling, never a timing assertion).
 */
import type { TestUser } from './users';

export interface ApiAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** Calls the API as `user`; a JSON body is sent when given, and the answer's JSON is parsed. */
export async function apiCall(
  baseUrl: string,
  user: TestUser,
  method: string,
  path: string,
  body?: unknown,
  opts: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...user.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/**
 * Polls `fn` every 200 ms until it returns something other than undefined; errors count as "not
 * yet" (the last one is quoted). Throws after `timeoutMs`, with `context()` appended when given.
 */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${context ? `\n${context()}` : ''}`);
}
