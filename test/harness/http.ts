/**
 * Small helpers the end-to-end suites share: calls to the REST API (every answer is held to the
 * contract, see conformance.ts), and a bounded wait for something to become true (polling, never a
 * timing assertion).
 */
import { checkAnswer, ConformanceError } from './conformance';
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
  const url = `${baseUrl}${path}`;
  const res = await fetch(url, {
    method,
    headers: { ...user.authHeaders, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
  });
  const text = await res.text();
  checkAnswer({ method, url, status: res.status, headers: res.headers, text });
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** `fetch` for calls to the API under test: the answer is checked against the contract before it is returned. */
export async function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init);
  checkAnswer({ method: init.method ?? 'GET', url, status: res.status, headers: res.headers, text: await res.clone().text() });
  return res;
}

/**
 * Polls `fn` every 200 ms until it returns something other than undefined; errors count as "not
 * yet" (the last one is quoted), except an answer that breaks the API contract, which fails at
 * once. Throws after `timeoutMs`, with `context()` appended when given.
 */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof ConformanceError) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${context ? `\n${context()}` : ''}`);
}
