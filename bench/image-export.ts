/**
 * Image export benchmark: how close exportImageToStore (Glance → image store through the activity,
 * with its md5 check, heartbeats and cancellation plumbing) comes to a bare undici stream copy of
 * the same bytes, and how much memory the export holds while it runs.
 *
 * Everything runs in this one process: the OpenStack simulator (serving a generated snapshot of
 * `--size-mib`), the image store (hashing md5 + sha256 and writing to a temp dir) and the copy.
 * Both measurements pay for the simulator and the store the same way, so the ratio isolates the
 * activity's own overhead. Peak RSS is sampled every 50 ms during the activity run; it covers the
 * simulator and the store too, so it is an upper bound on what the export itself holds.
 *
 *   tsx bench/image-export.ts [--size-mib 1024] [--runs 1]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Connection } from 'mongoose';
import { request } from 'undici';
import { createBackupActivities } from '../activities/backup';
import type { ActivityDeps } from '../activities/deps';
import type { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { createOpenStackClient, OpenStackSession, TokenCache } from '../src/clouds/openstack';
import { ImageStoreClient, startImageStore } from '../src/imagestore';
import { createLogger } from '../src/logger';
import { startOpenStackSimulator } from '../src/sim/openstack';
import { exitWhenDone, numberFlag } from './cli';

const MiB = 1024 * 1024;

export interface ImageExportBenchOptions {
  /** Size of the snapshot image; default 1024 MiB. */
  sizeMiB?: number;
  /** Measurements of each kind; default 1. The figures are the mean over the runs. */
  runs?: number;
  /** Print the table (default true). */
  print?: boolean;
}

export interface ImageExportBenchResult {
  sizeBytes: number;
  runs: number;
  /** Plain undici: GET …/file piped into the store's PUT. */
  baseline: { seconds: number; mibPerSec: number };
  /** exportImageToStore in MockActivityEnvironment. */
  activity: { seconds: number; mibPerSec: number; heartbeats: number };
  /** activity MiB/s ÷ baseline MiB/s. */
  ratio: number;
  /** Process RSS just before the activity runs and the peak while it runs (MiB). */
  rssBeforeMiB: number;
  peakRssMiB: number;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Peak of process.memoryUsage().rss sampled every 50 ms until stopped. */
/** env.run with the activity's own types (MockActivityEnvironment.run infers no result type). */
function runIn<I, O>(env: MockActivityEnvironment, fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return env.run(fn, input);
}

function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

export async function runImageExportBench(opts: ImageExportBenchOptions = {}): Promise<ImageExportBenchResult> {
  const sizeMiB = opts.sizeMiB ?? 1024;
  const runs = Math.max(1, Math.floor(opts.runs ?? 1));
  const sizeBytes = Math.round(sizeMiB * MiB);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench-image-export');
  const token = crypto.randomBytes(16).toString('hex');
  const signingSecret = crypto.randomBytes(16).toString('hex');
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-bench-store-'));

  const sim = await startOpenStackSimulator({ timings: { snapshotBytes: sizeBytes }, logger });
  const store = await startImageStore({ dir: storeDir, serviceToken: token, signingSecret, logger });
  try {
    const c = sim.credentials;
    const session = () =>
      new OpenStackSession(
        { authUrl: sim.authUrl, username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName, region: c.region },
        { tokenCache, logger },
      );
    const tokenCache = new TokenCache();
    const openstack = createOpenStackClient(session());
    const storeClient = new ImageStoreClient({ baseUrl: store.url, serviceToken: token });
    const deps: ActivityDeps = {
      db: undefined as unknown as Connection,
      logger,
      cloudAccounts: { openstack: async () => createOpenStackClient(session()) } as unknown as CloudAccountResolver,
      timing: { pollIntervalMs: 100 },
      imageStore: { client: storeClient, publicBaseUrl: store.publicUrl, signingSecret },
    };
    const acts = createBackupActivities(deps);
    const activityEnv = () => new MockActivityEnvironment({ startToCloseTimeoutMs: 3600_000 }, { logger: new DefaultLogger('ERROR') });

    // A server to snapshot, and its snapshot of sizeBytes (the simulator hashes it while saving).
    const [flavors, [network], images] = await Promise.all([openstack.compute.listFlavors(), openstack.network.listNetworks({ name: 'private' }), openstack.image.listImages()]);
    const server = await openstack.compute.createServer({ name: 'bench-source', flavorRef: flavors.find((f) => f.name === 'm1.small')!.id, imageRef: images[0].id, networks: [{ uuid: network.id }] });
    for (let i = 0; i < 500 && (await openstack.compute.getServer(server.id)).status !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 20));
    const { imageId } = await runIn(activityEnv(), acts.osSnapshotServer, { accountId: 'bench', serverId: server.id, imageName: 'bench-snapshot' });
    const image = await runIn(activityEnv(), acts.osAwaitImage, { accountId: 'bench', imageId });
    if (image.size !== sizeBytes) throw new Error(`snapshot is ${image.size} bytes, expected ${sizeBytes}`);

    const baselineSeconds: number[] = [];
    const activitySeconds: number[] = [];
    let heartbeats = 0;
    let rssBefore = 0;
    let peakRss = 0;
    for (let run = 0; run < runs; run++) {
      // (a) baseline: the same bytes, Glance's file URL straight into the store's PUT.
      const fileUrl = `${await openstack.session.endpoint('image')}/v2/images/${imageId}/file`;
      const authToken = (await openstack.session.token()).token;
      const baselineKey = `bench/baseline-${run}.qcow2`;
      let t0 = process.hrtime.bigint();
      const src = await request(fileUrl, { headers: { 'x-auth-token': authToken } });
      if (src.statusCode !== 200) throw new Error(`Glance answered ${src.statusCode}`);
      const put = await request(`${store.url}/images/${baselineKey}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) },
        body: src.body,
        headersTimeout: 0,
      });
      const putBody = (await put.body.json()) as { md5?: string };
      baselineSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if (put.statusCode !== 201 || putBody.md5 !== image.checksum) throw new Error(`baseline copy failed: ${put.statusCode} ${JSON.stringify(putBody)}`);
      await storeClient.delete(baselineKey);

      // (b) the activity, with RSS sampled while it runs.
      const env = activityEnv();
      env.on('heartbeat', () => heartbeats++);
      const activityKey = `bench/export-${run}.qcow2`;
      const before = process.memoryUsage().rss;
      const sampler = sampleRss();
      t0 = process.hrtime.bigint();
      const stored = await runIn(env, acts.exportImageToStore, { accountId: 'bench', imageId, storeKey: activityKey, expectedMd5: image.checksum });
      activitySeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const peak = sampler.stop();
      if (stored.md5 !== image.checksum || stored.size !== sizeBytes) throw new Error(`export stored ${stored.size} bytes with md5 ${stored.md5}`);
      rssBefore = Math.max(rssBefore, before);
      peakRss = Math.max(peakRss, peak);
      await storeClient.delete(activityKey);
    }

    const baseline = { seconds: round(mean(baselineSeconds), 2), mibPerSec: round(sizeBytes / MiB / mean(baselineSeconds)) };
    const activity = { seconds: round(mean(activitySeconds), 2), mibPerSec: round(sizeBytes / MiB / mean(activitySeconds)), heartbeats: Math.round(heartbeats / runs) };
    const result: ImageExportBenchResult = {
      sizeBytes,
      runs,
      baseline,
      activity,
      ratio: round(activity.mibPerSec / baseline.mibPerSec, 2),
      rssBeforeMiB: round(rssBefore / MiB),
      peakRssMiB: round(peakRss / MiB),
    };
    if (opts.print !== false) printTable(result);
    return result;
  } finally {
    await Promise.allSettled([sim.stop(), store.stop()]);
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
}

function printTable(r: ImageExportBenchResult): void {
  const rows: Array<[string, string, string, string]> = [
    ['baseline (undici GET → PUT)', `${r.baseline.seconds.toFixed(2)} s`, `${r.baseline.mibPerSec.toFixed(1)} MiB/s`, ''],
    ['exportImageToStore', `${r.activity.seconds.toFixed(2)} s`, `${r.activity.mibPerSec.toFixed(1)} MiB/s`, `peak RSS ${r.peakRssMiB} MiB (before ${r.rssBeforeMiB} MiB)`],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length)));
  console.log(`\nimage export, ${Math.round(r.sizeBytes / MiB)} MiB, ${r.runs} run(s) each`);
  for (const row of rows) console.log(`  ${row[0].padEnd(widths[0])}  ${row[1].padStart(widths[1])}  ${row[2].padStart(widths[2])}  ${row[3]}`.trimEnd());
  console.log(`  ratio activity/baseline: ${r.ratio.toFixed(2)}, ${r.activity.heartbeats} heartbeats\n`);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  exitWhenDone(runImageExportBench({ sizeMiB: numberFlag(argv, '--size-mib'), runs: numberFlag(argv, '--runs') }));
}
