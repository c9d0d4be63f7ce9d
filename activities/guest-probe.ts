/**
 * The guest checks of one monitor interval (src/dr/guest-checks.ts): every due check of a cloud
 * account in one batch, at most GUEST_CONCURRENCY connections at once, the whole batch inside one
 * deadline. A check that has not finished when the deadline passes is inconclusive (its VM is not
 * judged this interval), never a failure: a slow batch must not fail VMs over.
 *
 * A check is one TCP connect, or one HTTP(S) GET whose status must be below 400; no redirects are
 * followed and nothing is read beyond the status line. Connections go to the mapped target the
 * caller computed, never to an address taken from member input.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { setMaxListeners } from 'node:events';

/** Connections in flight at once, per batch. */
export const GUEST_CONCURRENCY = 200;

export interface GuestTarget {
  vmId: string;
  protocol: 'tcp' | 'http' | 'https';
  /** IP address to connect to (already mapped). */
  host: string;
  port: number;
  path?: string;
  timeoutMs: number;
}

export interface GuestResult {
  ok: boolean;
  /** "ok", or why not: "tcp :8080 connection refused", "http :80 / answered 503". */
  detail: string;
  ms: number;
}

function errorWords(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    default:
      return err.code ?? err.message;
  }
}

/** One check; never throws. */
export function checkGuest(t: GuestTarget, signal?: AbortSignal): Promise<GuestResult> {
  const started = Date.now();
  const label = t.protocol === 'tcp' ? `tcp :${t.port}` : `${t.protocol} :${t.port} ${t.path ?? '/'}`;
  return new Promise<GuestResult>((resolve) => {
    let settled = false;
    const done = (ok: boolean, why: string, cleanup: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup();
      resolve({ ok, detail: ok ? 'ok' : `${label} ${why}`, ms: Date.now() - started });
    };
    let cleanup: () => void = () => {};
    const timer = setTimeout(() => done(false, `no answer in ${t.timeoutMs} ms`, cleanup), t.timeoutMs);
    const onAbort = () => done(false, 'not finished (batch cancelled)', cleanup);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (t.protocol === 'tcp') {
      const socket = net.connect({ host: t.host, port: t.port });
      cleanup = () => socket.destroy();
      socket.once('connect', () => done(true, '', cleanup));
      socket.once('error', (err: NodeJS.ErrnoException) => done(false, errorWords(err), cleanup));
      return;
    }
    const mod = t.protocol === 'https' ? https : http;
    const req = mod.request({
      host: t.host,
      port: t.port,
      path: t.path ?? '/',
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'vmflow-guest-check', connection: 'close' },
      // Liveness, not identity: guests often serve self-signed certificates.
      ...(t.protocol === 'https' ? { rejectUnauthorized: false } : {}),
    });
    cleanup = () => req.destroy();
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done(status > 0 && status < 400, `answered ${status}`, cleanup);
    });
    req.once('error', (err: NodeJS.ErrnoException) => done(false, errorWords(err), cleanup));
    req.end();
  });
}

/**
 * Every target, GUEST_CONCURRENCY at a time, within `deadlineMs` in all. Targets not finished (or
 * not started) by then are left out of the answer: inconclusive.
 */
export async function checkGuests(targets: readonly GuestTarget[], o: { deadlineMs: number; concurrency?: number; signal?: AbortSignal }): Promise<Map<string, GuestResult>> {
  const results = new Map<string, GuestResult>();
  if (!targets.length) return results;
  const batch = new AbortController();
  // Every check in flight listens for the batch's end (up to `concurrency` listeners).
  setMaxListeners(0, batch.signal);
  const stop = () => batch.abort();
  o.signal?.addEventListener('abort', stop, { once: true });
  const deadline = setTimeout(stop, o.deadlineMs);
  let next = 0;
  const worker = async () => {
    while (!batch.signal.aborted && next < targets.length) {
      const t = targets[next++];
      const r = await checkGuest(t, batch.signal);
      // A check cut short by the deadline says nothing about the guest.
      if (!batch.signal.aborted) results.set(t.vmId, r);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency ?? GUEST_CONCURRENCY, targets.length) }, worker));
  } finally {
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', stop);
  }
  return results;
}
