/**
 * Login latency while a flood of sign-ups hashes passwords (issue 12 item 5): members log in one
 * after another while 50 sign-ups run in parallel, against
 *   - the API with the hashing gate (PASSWORD_HASH_CONCURRENCY, default 2: sign-ups get all slots
 *     but one and waiting logins go first), and
 *   - the baseline without it (64 slots: every hash goes straight to libuv's pool, as before),
 * plus the login latency of the same API with no flood. The sign-up limits are lifted for the
 * measurement (with the defaults, 45 of the 50 sign-ups from one address would be 429 at once).
 *
 * Own FerretDB on a free port in a temp dir, API on port 0; Temporal is not needed for logins.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWebServer } from '../api/server';
import { loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connection';
import { freePort, startFerretDb } from '../src/embedded/processes';
import { createLogger } from '../src/logger';
import { generateKey, keyringOf } from '../src/secrets/keyring';
import type { TemporalClientHandle } from '../src/temporal/client';
import { assertExecutable, ferretDbPath } from '../src/tools';

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoginFloodResult {
  signups: number;
  scryptLog2N: number;
  idle: LatencyStats;
  ungated: LatencyStats & { floodSeconds: number };
  gated: LatencyStats & { floodSeconds: number; concurrency: number };
}

function stats(ms: number[]): LatencyStats {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: Math.round(s.at(-1) ?? 0) };
}

async function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function runLoginFloodBench(o: { signups?: number; scryptLog2N?: number; maxLogins?: number } = {}): Promise<LoginFloodResult> {
  const signups = o.signups ?? 50;
  const log2N = o.scryptLog2N ?? 17;
  const maxLogins = o.maxLogins ?? 200;
  const base = loadConfig({});
  const bin = ferretDbPath(base.toolsDir);
  assertExecutable(bin, 'FerretDB');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-bench-login-'));
  const port = await freePort();
  const ferret = await startFerretDb({ bin, port, dir: path.join(dir, 'ferretdb'), logFile: path.join(dir, 'ferretdb.log') });
  const db = await connectDatabase(`mongodb://127.0.0.1:${port}/vmflow_bench`);
  try {
    const withApi = async <T>(concurrency: number, fn: (url: string) => Promise<T>): Promise<T> => {
      const config = loadConfig({
        PASSWORD_SCRYPT_LOG2N: String(log2N),
        PASSWORD_HASH_CONCURRENCY: String(concurrency),
        PASSWORD_HASH_QUEUE: '10000',
        SIGNUP_RATE_LIMIT_PER_ADDRESS: '1000000',
        SIGNUP_RATE_LIMIT_GLOBAL: '1000000',
        VMFLOW_OPERATOR_CLOUDS: 'none',
        LOG_LEVEL: 'silent',
      });
      const web = await startWebServer(
        { config, db, temporal: { client: {} } as unknown as TemporalClientHandle, logger: createLogger('silent'), keyring: keyringOf(generateKey()), limiterNamespace: `bench-${concurrency}-` },
        { host: '127.0.0.1', port: 0 },
      );
      try {
        return await fn(web.url);
      } finally {
        await web.close();
      }
    };
    const member = async (url: string) => {
      const username = `bench-${crypto.randomBytes(4).toString('hex')}`;
      const password = `Pw-${crypto.randomBytes(12).toString('base64url')}`;
      const res = await postJson(`${url}/api/v1/auth/signup`, { username, password });
      if (res.status !== 201) throw new Error(`bench member sign-up: ${res.status} ${await res.text()}`);
      return { username, password };
    };
    const timedLogin = async (url: string, m: { username: string; password: string }) => {
      const t0 = performance.now();
      const res = await postJson(`${url}/api/v1/auth/login`, m);
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`bench login: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      return ms;
    };
    /** Logins one after another while `signups` sign-ups run in parallel; stops when they are done. */
    const underFlood = async (url: string) => {
      const m = await member(url);
      let done = false;
      const t0 = performance.now();
      const flood = Promise.all(
        Array.from({ length: signups }, async (_, i) => {
          const res = await postJson(`${url}/api/v1/auth/signup`, { username: `flood-${i}-${crypto.randomBytes(4).toString('hex')}`, password: `Pw-${crypto.randomBytes(12).toString('base64url')}` });
          await res.arrayBuffer();
          if (res.status !== 201) throw new Error(`flood sign-up: ${res.status}`);
        }),
      ).finally(() => (done = true));
      const ms: number[] = [];
      while (!done && ms.length < maxLogins) ms.push(await timedLogin(url, m));
      await flood;
      return { ...stats(ms), floodSeconds: Math.round((performance.now() - t0) / 100) / 10 };
    };

    const idle = await withApi(2, async (url) => {
      const m = await member(url);
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) ms.push(await timedLogin(url, m));
      return stats(ms);
    });
    const ungated = await withApi(64, underFlood);
    const gated = { ...(await withApi(2, underFlood)), concurrency: 2 };
    const r: LoginFloodResult = { signups, scryptLog2N: log2N, idle, ungated, gated };
    console.log(`  login with no flood:                      p50 ${idle.p50} ms, p99 ${idle.p99} ms (${idle.n} logins)`);
    console.log(`  during ${signups} sign-ups, no hashing gate:   p50 ${ungated.p50} ms, p99 ${ungated.p99} ms (${ungated.n} logins; flood ${ungated.floodSeconds} s)`);
    console.log(`  during ${signups} sign-ups, gate of 2:         p50 ${gated.p50} ms, p99 ${gated.p99} ms (${gated.n} logins; flood ${gated.floodSeconds} s)`);
    return r;
  } finally {
    await db.close().catch(() => undefined);
    await ferret.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runLoginFloodBench({ signups: Number(process.argv[2] ?? 50) }).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
