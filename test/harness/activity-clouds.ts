/**
 * What a cloud-activity integration test needs, without Temporal: the run's database (the live-copy
 * guard reads VM placements from it), both simulators (fast
 * timings), a real image store on port 0, a tiny account resolver that builds clients straight
 * from the simulators' credentials (accounts `os` and `cs`), ActivityDeps wired to them, and
 * helpers to run one activity in MockActivityEnvironment and to read the simulators' /_sim APIs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { request } from 'undici';
import type { ActivityDeps } from '../../activities/deps';
import { connectDatabase } from '../../src/db/connection';
import { sharedStack } from './stack';
import type { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { CloudStackClient } from '../../src/clouds/cloudstack/client';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackClient } from '../../src/clouds/openstack';
import { ImageStoreClient, startImageStore, type RunningImageStore } from '../../src/imagestore';
import type { Logger } from '../../src/logger';
import { allowSimulators } from './clouds';
import { startCloudStackSimulator, type CloudStackSimulator, type SimStateSummary as CsState } from '../../src/sim/cloudstack';
import { startOpenStackSimulator, type OpenStackSimulator, type OpenStackTimings, type SimStateSummary as OsState } from '../../src/sim/openstack';

/** Expected activity failures would otherwise be logged as warnings by the SDK's logger. */
export const quietActivityEnv = (startToCloseTimeoutMs = 30_000) =>
  new MockActivityEnvironment({ startToCloseTimeoutMs }, { logger: new DefaultLogger('ERROR') });

/** Runs one activity in a fresh mock context (a cancelled context would poison later runs). */
export async function runActivity<I, O>(fn: (input: I) => Promise<O>, input: I, opts: { heartbeats?: unknown[]; env?: MockActivityEnvironment } = {}): Promise<O> {
  const env = opts.env ?? quietActivityEnv();
  if (opts.heartbeats) env.on('heartbeat', (d: unknown) => opts.heartbeats!.push(d));
  return env.run(fn, input);
}

/** Awaits a rejection and hands back the ApplicationFailure it carries. */
export async function activityFailure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the activity to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

export interface ActivityClouds {
  osSim: OpenStackSimulator;
  csSim: CloudStackSimulator;
  store: RunningImageStore;
  storeClient: ImageStoreClient;
  signingSecret: string;
  /** Dependencies for activity factories: resolver (accounts `os`, `cs`), image store, 20 ms polls. */
  deps: ActivityDeps;
  /** A client of account `os`, for the test's own calls. */
  openstack: OpenStackClient;
  /** A client of account `cs`, for the test's own calls. */
  cloudstack: CloudStackClient;
  osState(): Promise<OsState>;
  csState(): Promise<CsState>;
  /** JSON call to an admin API: `sim('os', 'POST', '/faults', {...})`. */
  sim(which: 'os' | 'cs', method: string, path: string, body?: unknown): Promise<unknown>;
  /** Removes faults and ends outages of both simulators. */
  clearFaults(): Promise<void>;
  stop(): Promise<void>;
}

export async function startActivityClouds(opts: { logger: Logger; osTimings?: Partial<OpenStackTimings>; storeToken?: string; signingSecret?: string }): Promise<ActivityClouds> {
  const { logger } = opts;
  const serviceToken = opts.storeToken ?? 'activity-test-store-token-5e1a';
  const signingSecret = opts.signingSecret ?? 'activity-test-signing-secret-93bd';
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-activity-store-'));
  const db = await connectDatabase((await sharedStack()).mongoUri);
  const [osSim, csSim, store] = await Promise.all([
    startOpenStackSimulator({ timings: opts.osTimings ?? 'fast', logger }),
    startCloudStackSimulator({ timings: 'fast' }),
    startImageStore({ dir: storeDir, serviceToken, signingSecret, logger }),
  ]);
  // Failback downloads the CloudStack extract URL through the outbound guard.
  allowSimulators({ openstack: osSim, cloudstack: csSim });
  const storeClient = new ImageStoreClient({ baseUrl: store.url, serviceToken });
  const c = osSim.credentials;
  const osCredentials = { authUrl: osSim.authUrl, username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName, region: c.region };
  const tokenCache = new TokenCache();
  const newOpenStack = () => createOpenStackClient(new OpenStackSession(osCredentials, { tokenCache, logger }));
  const newCloudStack = () => new CloudStackClient({ apiUrl: csSim.apiUrl, ...csSim.credentials, logger });
  // What the worker's CloudAccountResolver does, without MongoDB: one account per simulator.
  const resolver = {
    async openstack(id: string) {
      if (id !== 'os') throw new Error(`unknown account ${id}`);
      return newOpenStack();
    },
    async cloudstack(id: string) {
      if (id !== 'cs') throw new Error(`unknown account ${id}`);
      return newCloudStack();
    },
  };
  const deps: ActivityDeps = {
    db,
    logger,
    cloudAccounts: resolver as unknown as CloudAccountResolver,
    timing: { pollIntervalMs: 20 },
    imageStore: { client: storeClient, publicBaseUrl: store.publicUrl, signingSecret },
  };

  const base = (which: 'os' | 'cs') => (which === 'os' ? osSim.url : csSim.url);
  const sim = async (which: 'os' | 'cs', method: string, p: string, body?: unknown): Promise<unknown> => {
    const res = await request(`${base(which)}/_sim${p}`, {
      method: method as 'GET',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    assert.ok(res.statusCode < 300, `${method} /_sim${p} on ${which} answered ${res.statusCode}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  return {
    osSim,
    csSim,
    store,
    storeClient,
    signingSecret,
    deps,
    openstack: newOpenStack(),
    cloudstack: newCloudStack(),
    osState: () => sim('os', 'GET', '/state') as Promise<OsState>,
    csState: () => sim('cs', 'GET', '/state') as Promise<CsState>,
    sim,
    async clearFaults() {
      const [osOutage, csState] = await Promise.all([sim('os', 'GET', '/outage') as Promise<{ mode: string | null }>, sim('cs', 'GET', '/state') as Promise<CsState>]);
      await Promise.all([
        sim('os', 'DELETE', '/faults'),
        sim('cs', 'DELETE', '/faults'),
        osOutage.mode ? sim('os', 'DELETE', '/outage') : undefined,
        csState.outage ? sim('cs', 'DELETE', '/outage') : undefined,
      ]);
    },
    async stop() {
      await Promise.allSettled([osSim.stop(), csSim.stop(), store.stop(), db.close()]);
      fs.rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
