/**
 * Response conformance: every answer an integration test receives through the HTTP harness
 * (apiCall and apiFetch in http.ts) is checked against what the contract declares for its route
 * and status — the zod schema of the body, the documented headers — and a mismatch fails the test
 * that made the call, naming the route, the status and each zod issue's path. An answer with no
 * documented content (204) is checked to have none; an answer for a path no route declares must
 * be the Error body (the app's 404/401). Enabled by the mocha root hooks (hooks.ts), whose
 * afterAll also fails the run on a mismatch some test swallowed and reports how many declared
 * routes the run validated. Outside mocha (the soak, the benchmarks) nothing is checked.
 */
import type { DocumentedOperation } from '../../api/openapi';
import { errorBodySchema } from '../../src/contracts/api/common';
import { apiContract } from './contract';

/** A mismatch between an answer and the contract. waitUntil does not retry past it. */
export class ConformanceError extends Error {
  override name = 'ConformanceError';
}

interface RouteTally {
  validated: number;
  /** Of those, 2xx answers: the route's own success schema was exercised. */
  succeeded: number;
  /** Answers whose documented content is none (204): nothing to validate. */
  exempt: number;
}

const state = {
  enabled: false,
  tally: new Map<string, RouteTally>(),
  unrouted: 0,
  failures: [] as string[],
};

export function enableConformance(): void {
  state.enabled = true;
}

let matchers: Array<{ op: DocumentedOperation; re: RegExp; literals: number }> | undefined;

function operationFor(method: string, pathname: string): DocumentedOperation | undefined {
  matchers ??= apiContract()
    .documentedOperations()
    .map((op) => ({
      op,
      re: new RegExp(`^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literals: op.path.split('/').filter((s) => s && !s.startsWith('{')).length,
    }))
    // A literal segment beats a parameter (/auth/me before a hypothetical /auth/{x}).
    .sort((a, b) => b.literals - a.literals);
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return matchers.find((m) => m.op.method === method.toUpperCase() && m.re.test(path))?.op;
}

interface Answer {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

type Verdict =
  | { route?: undefined; problem?: string }
  | { route: string; outcome: 'validated' | 'exempt'; success: boolean }
  | { route: string; problem: string };

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** What the contract says of one answer (pure: records nothing). */
export function judgeAnswer(a: Answer): Verdict {
  const { pathname } = new URL(a.url);
  const isJson = /^application\/json\b/i.test(a.headers.get('content-type') ?? '');
  const op = operationFor(a.method, pathname);
  if (!op) {
    const what = `${a.method.toUpperCase()} ${pathname} (no declared route) ${a.status}`;
    if (a.status < 400 || !isJson) return {};
    const json = parseJson(a.text);
    if (!json.ok) return { problem: `${what}: the body is not JSON: ${a.text.slice(0, 200)}` };
    const result = errorBodySchema.safeParse(json.value);
    return result.success ? {} : { problem: `${what}: not the Error body: ${issues(result.error.issues)}` };
  }
  const route = `${op.method} ${op.path}`;
  const what = `${route} (${op.operationId}) ${a.status}`;
  const documented = op.responses.get(a.status);
  if (!documented) return { route, problem: `${what}: the document does not list this status for the route (it lists ${[...op.responses.keys()].join(', ')}): ${a.text.slice(0, 300)}` };
  const missing = documented.headers.filter((h) => !a.headers.has(h));
  if (missing.length) return { route, problem: `${what}: the documented header ${missing.join(', ')} is missing` };
  if (!documented.body) {
    if (a.text.length > 0) return { route, problem: `${what}: the document lists no content, the answer has ${a.text.length} bytes` };
    return { route, outcome: 'exempt', success: a.status < 300 };
  }
  if (!isJson) return { route, problem: `${what}: documented as application/json, answered ${a.headers.get('content-type') ?? 'no content type'}` };
  const json = parseJson(a.text);
  if (!json.ok) return { route, problem: `${what}: the body is not JSON: ${a.text.slice(0, 200)}` };
  const result = documented.body.safeParse(json.value);
  if (!result.success) return { route, problem: `${what}: the body breaks the documented schema: ${issues(result.error.issues)}\n  body: ${a.text.slice(0, 1500)}` };
  return { route, outcome: 'validated', success: a.status < 300 };
}

/** Checks one answer against the contract and counts it; throws ConformanceError on a mismatch. */
export function checkAnswer(a: Answer): void {
  if (!state.enabled) return;
  const verdict = judgeAnswer(a);
  if (verdict.route === undefined) state.unrouted += 1;
  else if (!state.tally.has(verdict.route)) state.tally.set(verdict.route, { validated: 0, succeeded: 0, exempt: 0 });
  if ('problem' in verdict && verdict.problem) {
    state.failures.push(verdict.problem);
    throw new ConformanceError(`API answer breaks the contract: ${verdict.problem}`);
  }
  if (verdict.route === undefined || !('outcome' in verdict)) return;
  const tally = state.tally.get(verdict.route)!;
  if (verdict.outcome === 'exempt') tally.exempt += 1;
  else {
    tally.validated += 1;
    if (verdict.success) tally.succeeded += 1;
  }
}

function issues(list: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return list.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

export interface ConformanceReport {
  /** Every declared route. */
  declared: string[];
  /** Declared routes that answer JSON on success (whose success schema a check can cover). */
  documented: string[];
  /** Declared routes with at least one answer validated against a schema. */
  validated: string[];
  /** Routes with a 2xx answer validated (their success schema exercised). */
  succeeded: string[];
  /** JSON-on-success routes that were called, but never answered 2xx in this run. */
  noSuccess: string[];
  /** Called, but every answer was one with no documented content (e.g. 204). */
  exemptOnly: string[];
  /** Called, yet no answer validated nor exempt: every one of them broke the contract. */
  calledNotValidated: string[];
  notCalled: string[];
  answers: number;
  unrouted: number;
  failures: string[];
}

export function conformanceReport(): ConformanceReport {
  const ops = apiContract().documentedOperations();
  const key = (op: DocumentedOperation) => `${op.method} ${op.path}`;
  const documented = ops.filter((op) => [...op.responses].some(([status, r]) => status < 300 && r.body)).map(key);
  const validated = ops.map(key).filter((k) => (state.tally.get(k)?.validated ?? 0) > 0);
  const succeeded = ops.map(key).filter((k) => (state.tally.get(k)?.succeeded ?? 0) > 0);
  const exemptOnly = ops.map(key).filter((k) => state.tally.get(k)?.validated === 0 && (state.tally.get(k)?.exempt ?? 0) > 0);
  return {
    declared: ops.map(key),
    documented,
    noSuccess: documented.filter((k) => state.tally.has(k) && !succeeded.includes(k)),
    validated,
    succeeded,
    exemptOnly,
    calledNotValidated: [...state.tally].filter(([, t]) => t.validated === 0 && t.exempt === 0).map(([k]) => k),
    notCalled: ops.map(key).filter((k) => !state.tally.has(k)),
    answers: [...state.tally.values()].reduce((n, t) => n + t.validated + t.exempt, 0),
    unrouted: state.unrouted,
    failures: [...state.failures],
  };
}

/** Whether any answer was checked in this run (unit-only runs make no API calls). */
export function conformanceChecked(): boolean {
  return state.tally.size > 0 || state.unrouted > 0;
}
