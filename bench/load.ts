/**
 * An open-loop load generator at a fixed arrival rate (no dependency: undici, which vmflow already
 * uses). Request i is due at start + i / rate whether or not earlier ones have answered, and its
 * latency is counted from when it was due — a slow server cannot slow the arrivals down and hide
 * its own queueing (coordinated omission). Bounded: it stops sending after `durationMs`, gives each
 * request at most `timeoutMs`, and never has more than `maxInFlight` outstanding (a request due
 * while that many are open is counted as `dropped`, an error, and not sent).
 */
import { Agent, request } from 'undici';

export interface LoadOptions {
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Outstanding requests at most; default rate × 2 s (at least 64). */
  maxInFlight?: number;
  /** The i-th request: method, absolute URL, headers, body. */
  request: (i: number) => { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; body?: string };
}

export interface LoadResult {
  rate: number;
  durationSeconds: number;
  /** Requests due over the run. */
  due: number;
  /** 2xx answers within the timeout. */
  served: number;
  /** Served per second of the run. */
  servedPerSecond: number;
  /** Non-2xx answers by status, plus `timeout`, `network` and `dropped`. */
  errors: Record<string, number>;
  errorCount: number;
  /** Latency (ms, from the due time) of the 2xx answers. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** How late the generator itself sent (ms, p99): large values mean the client, not the server, lagged. */
  sendLagP99Ms: number;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export async function openLoop(o: LoadOptions): Promise<LoadResult> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const maxInFlight = o.maxInFlight ?? Math.max(64, Math.ceil(o.rate * 2));
  const total = Math.max(1, Math.floor((o.rate * o.durationMs) / 1000));
  const agent = new Agent({ connections: maxInFlight, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const lags: number[] = [];
  const errors: Record<string, number> = {};
  const err = (k: string) => (errors[k] = (errors[k] ?? 0) + 1);
  let inFlight = 0;
  let next = 0;
  const pending = new Set<Promise<void>>();
  const start = performance.now();

  const fire = (i: number, dueAt: number) => {
    const now = performance.now();
    lags.push(now - dueAt);
    if (inFlight >= maxInFlight) {
      err('dropped');
      return;
    }
    inFlight++;
    const req = o.request(i);
    const p = (async () => {
      try {
        const res = await request(req.url, { method: req.method, headers: req.headers, body: req.body, dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) });
        await res.body.dump();
        const ms = performance.now() - dueAt;
        if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(ms);
        else err(String(res.statusCode));
      } catch (e) {
        err((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError' ? 'timeout' : 'network');
      } finally {
        inFlight--;
      }
    })();
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      const dueNow = Math.min(total, Math.floor((elapsed * o.rate) / 1000) + 1);
      while (next < dueNow) {
        fire(next, start + (next * 1000) / o.rate);
        next++;
      }
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(1, Math.min(10, 1000 / o.rate / 2)));
    };
    tick();
  });
  await Promise.allSettled([...pending]);
  const runSeconds = (performance.now() - start) / 1000;
  await agent.close().catch(() => undefined);

  latencies.sort((a, b) => a - b);
  lags.sort((a, b) => a - b);
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  return {
    rate: o.rate,
    durationSeconds: r1(o.durationMs / 1000),
    due: total,
    served: latencies.length,
    servedPerSecond: r1(latencies.length / Math.max(runSeconds, o.durationMs / 1000)),
    errors,
    errorCount,
    latencyMs: {
      p50: r1(percentile(latencies, 50)),
      p90: r1(percentile(latencies, 90)),
      p99: r1(percentile(latencies, 99)),
      max: r1(latencies[latencies.length - 1] ?? NaN),
      mean: r1(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length)),
    },
    sendLagP99Ms: r1(percentile(lags, 99)),
  };
}
