/**
 * Environments (issue 15 item 6): how much of a group's create and destroy runs in parallel.
 *
 * The real system — Temporal dev server and FerretDB (the test stack), the API and one worker as
 * child processes — against an OpenStack simulator on its `realistic` timings (a server builds in
 * 8 s, a Heat resource takes 1 s, a delete 3 s), so the figures are cloud time, not simulator
 * artefacts. For each environment:
 *   1. every distinct member alone, one at a time: POST /api/v1/vms with the member's requirements
 *      → `active`, then DELETE → `deleted` (the baselines);
 *   2. the environment: POST /api/v1/environments → `active`, then DELETE → `destroyed`.
 * Ratios, from the same run: environment ÷ the slowest member alone (the parallel efficiency: 1.0
 * is the limit for members that can all run at once), ÷ the members alone summed along the longest
 * `requires` path (the limit when some wait for others: 1.0 is a graph that adds nothing), and ÷
 * the sum of its members alone (the serial baseline: below 1.0 is what parallelism saves). The environment also makes and removes its network, which the
 * baselines do not (its time is in the environment's figure).
 *
 *   npx tsx bench/environments.ts [--nodes 9]
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { formatKeyring, generateKey, keyringOf } from '../src/secrets/keyring';
import { freePort } from '../src/embedded/processes';
import { createLogger } from '../src/logger';
import { startCloudStackSimulator } from '../src/sim/cloudstack';
import { startOpenStackSimulator } from '../src/sim/openstack';
import { sleep } from '../src/sleep';
import { simAdmin } from '../test/harness/clouds';
import { apiCall } from '../test/harness/http';
import { startStack } from '../test/harness/stack';
import { signupAndLogin, type TestUser } from '../test/harness/users';
import { exitWhenDone, numberFlag } from './cli';
import { answers, backupCloudChildEnv, benchLogDir, startChild, vmflowChildEnv } from './procs';

type Json = any;

export interface EnvironmentBenchCase {
  name: string;
  request: Record<string, unknown>;
  members: number;
  /** Members one after another on the longest `requires` path. */
  longestChain: number;
  createSeconds: number;
  destroySeconds: number;
  baseline: {
    slowestCreateSeconds: number;
    sumCreateSeconds: number;
    /** The members' create times alone summed along the longest `requires` path: the limit of a graph with chains. */
    chainCreateSeconds: number;
    slowestDeleteSeconds: number;
    sumDeleteSeconds: number;
    chainDeleteSeconds: number;
  };
  ratio: { createToSlowest: number; createToSum: number; createToChain: number; destroyToSlowest: number; destroyToSum: number; destroyToChain: number };
}

export interface EnvironmentBenchResult {
  timings: 'realistic';
  cases: EnvironmentBenchCase[];
  /** Each distinct member alone: requirements → create and delete seconds. */
  alone: Array<{ software: string[]; createSeconds: number; deleteSeconds: number }>;
  logDir: string;
}

/** Members of the presets as the API expands them (src/environments/expand.ts): software and requires. */
function presetShape(request: Record<string, unknown>): Array<{ software: string[]; requires: string[]; name: string }> {
  if (request.preset === 'web-app-db') {
    return [
      { name: 'db', software: ['postgresql'], requires: [] },
      { name: 'app', software: ['jdk'], requires: ['db'] },
      { name: 'web', software: ['nginx'], requires: ['app'] },
    ];
  }
  const n = Number(request.number);
  return [{ name: 'devops', software: ['git', 'python3', 'podman'], requires: [] }, ...Array.from({ length: n }, (_, i) => ({ name: `node-${i + 1}`, software: ['python3', 'podman'], requires: ['devops'] }))];
}

/** The longest `requires` path, each member weighing `weight(member)` (1: the number of members on it). */
function longestChain<M extends { name: string; requires: string[] }>(members: M[], weight: (m: M) => number = () => 1): number {
  const byName = new Map(members.map((m) => [m.name, m]));
  const depth = (m: M): number => weight(m) + Math.max(0, ...m.requires.map((r) => depth(byName.get(r)!)));
  return Math.max(...members.map(depth));
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export async function runEnvironmentBench(opts: { nodes?: number; deadlineMs?: number } = {}): Promise<EnvironmentBenchResult> {
  const nodes = opts.nodes ?? 9;
  const deadline = Date.now() + (opts.deadlineMs ?? 25 * 60_000);
  const logDir = benchLogDir('environments');
  const say = (m: string) => console.log(`[environments] ${m}`);
  const cleanup: Array<() => Promise<unknown>> = [];
  const stack = await startStack();
  cleanup.push(() => stack.stop());
  try {
    const silent = createLogger('silent', 'bench-environments');
    const os = await startOpenStackSimulator({ timings: 'realistic', logger: silent });
    cleanup.unshift(() => os.stop());
    const cs = await startCloudStackSimulator({ timings: 'fast', logger: silent });
    cleanup.unshift(() => cs.stop());
    // A delete sweeps the VM's images from the store: the store must answer.
    const backupCloud = await backupCloudChildEnv({ storeDir: path.join(stack.dir, 'image-store'), openstack: os, cloudstack: cs });
    cleanup.unshift(() => backupCloud.stop());
    await simAdmin(os.url, 'PATCH', '/quotas', { project: os.credentials.projectName, instances: 100, cores: 800, ram: 1_600_000 });
    const apiPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...vmflowChildEnv({ logDir, stack, taskQueue: `bench-env-${crypto.randomBytes(4).toString('hex')}`, encryptionKeys: formatKeyring(keyringOf(generateKey())), apiPort, openstack: os }),
      ...backupCloud.env,
      VMFLOW_POLL_INTERVAL_MS: '250',
    };
    const worker = await startChild({ name: 'worker', entry: 'worker/main.ts', env, logDir, ready: (out) => out.includes('worker polling'), timeoutMs: 120_000 });
    cleanup.unshift(() => worker.stop());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const api = await startChild({ name: 'api', entry: 'api/main.ts', env, logDir, ready: () => answers(`${apiUrl}/healthz`) });
    cleanup.unshift(() => api.stop());
    const member: TestUser = await signupAndLogin(apiUrl, `bench-env-${crypto.randomBytes(3).toString('hex')}`);
    const call = async (method: string, p: string, body?: unknown): Promise<{ status: number; body: Json }> => apiCall(apiUrl, member, method, p, body);

    /** Polls GET `path` every 250 ms until `done` holds; seconds since `from`. */
    const until = async (what: string, path: string, done: (b: Json) => boolean, from: number, failed?: (b: Json) => boolean): Promise<number> => {
      for (;;) {
        const r = await call('GET', path);
        if (r.status === 200 && done(r.body)) return (Date.now() - from) / 1000;
        if (r.status === 200 && failed?.(r.body)) throw new Error(`${what}: ${JSON.stringify(r.body).slice(0, 400)}`);
        if (Date.now() > deadline) throw new Error(`${what}: not done before the deadline (last ${r.status} ${JSON.stringify(r.body).slice(0, 300)})`);
        await sleep(250);
      }
    };

    const requests: Array<{ name: string; request: Record<string, unknown> }> = [
      { name: 'web-app-db (3 members in a chain)', request: { name: 'bench-wad', cloud: 'openstack', preset: 'web-app-db' } },
      { name: 'overcloud, 2 nodes (3 members)', request: { name: 'bench-oc3', cloud: 'openstack', preset: 'overcloud', number: 2, size: 'small' } },
      { name: `overcloud, ${nodes} nodes (${nodes + 1} members)`, request: { name: 'bench-oc', cloud: 'openstack', preset: 'overcloud', number: nodes, size: 'small' } },
    ];

    // Baselines: each distinct member alone (the nodes of an OverCloud are alike: one stands for all).
    const alone = new Map<string, { software: string[]; createSeconds: number; deleteSeconds: number }>();
    for (const { request } of requests) {
      for (const m of presetShape(request)) {
        const key = m.software.join(',');
        if (alone.has(key)) continue;
        say(`alone: a VM with ${key}`);
        const t0 = Date.now();
        const created = await call('POST', '/api/v1/vms', { name: `alone-${m.name}`, os: 'ubuntu-24.04', size: 'small', software: m.software, cloud: 'openstack' });
        if (created.status !== 202) throw new Error(`create alone ${key}: ${created.status} ${JSON.stringify(created.body)}`);
        const id = created.body.vm.id as string;
        const createSeconds = await until(`create ${key}`, `/api/v1/vms/${id}`, (b) => b.vm.state === 'active', t0, (b) => b.vm.state === 'failed');
        const t1 = Date.now();
        const deleted = await call('DELETE', `/api/v1/vms/${id}`);
        if (deleted.status !== 202) throw new Error(`delete alone ${key}: ${deleted.status} ${JSON.stringify(deleted.body)}`);
        const deleteSeconds = await until(`delete ${key}`, `/api/v1/vms/${id}`, (b) => b.vm.state === 'deleted', t1);
        alone.set(key, { software: m.software, createSeconds: r2(createSeconds), deleteSeconds: r2(deleteSeconds) });
        say(`  create ${createSeconds.toFixed(1)} s, delete ${deleteSeconds.toFixed(1)} s`);
      }
    }

    const cases: EnvironmentBenchCase[] = [];
    for (const { name, request } of requests) {
      const shape = presetShape(request);
      const times = shape.map((m) => alone.get(m.software.join(','))!);
      const aloneOf = (m: (typeof shape)[number]) => alone.get(m.software.join(','))!;
      say(`environment: ${name}`);
      const t0 = Date.now();
      const created = await call('POST', '/api/v1/environments', request);
      if (created.status !== 202) throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
      const id = (created.body.environment?.id ?? created.body.id) as string;
      const createSeconds = await until(`create ${name}`, `/api/v1/environments/${id}`, (b) => (b.environment ?? b).state === 'active', t0, (b) => ['failed', 'partial'].includes((b.environment ?? b).state));
      const t1 = Date.now();
      const destroyed = await call('DELETE', `/api/v1/environments/${id}`);
      if (destroyed.status !== 202) throw new Error(`destroy ${name}: ${destroyed.status} ${JSON.stringify(destroyed.body)}`);
      const destroySeconds = await until(`destroy ${name}`, `/api/v1/environments/${id}`, (b) => (b.environment ?? b).state === 'destroyed', t1, (b) => (b.environment ?? b).state === 'failed');
      const baseline = {
        slowestCreateSeconds: Math.max(...times.map((t) => t.createSeconds)),
        sumCreateSeconds: r2(times.reduce((s, t) => s + t.createSeconds, 0)),
        slowestDeleteSeconds: Math.max(...times.map((t) => t.deleteSeconds)),
        sumDeleteSeconds: r2(times.reduce((s, t) => s + t.deleteSeconds, 0)),
        chainCreateSeconds: r2(longestChain(shape, (m) => aloneOf(m).createSeconds)),
        // Deletes run the reverse graph: the same path, walked from its end.
        chainDeleteSeconds: r2(longestChain(shape, (m) => aloneOf(m).deleteSeconds)),
      };
      cases.push({
        name,
        request,
        members: shape.length,
        longestChain: longestChain(shape),
        createSeconds: r2(createSeconds),
        destroySeconds: r2(destroySeconds),
        baseline,
        ratio: {
          createToSlowest: r2(createSeconds / baseline.slowestCreateSeconds),
          createToSum: r2(createSeconds / baseline.sumCreateSeconds),
          createToChain: r2(createSeconds / baseline.chainCreateSeconds),
          destroyToSlowest: r2(destroySeconds / baseline.slowestDeleteSeconds),
          destroyToSum: r2(destroySeconds / baseline.sumDeleteSeconds),
          destroyToChain: r2(destroySeconds / baseline.chainDeleteSeconds),
        },
      });
      say(`  create ${createSeconds.toFixed(1)} s, destroy ${destroySeconds.toFixed(1)} s`);
    }
    return { timings: 'realistic', cases, alone: [...alone.values()], logDir };
  } finally {
    for (const step of cleanup) await step().catch(() => undefined);
  }
}

export function printEnvironmentBench(r: EnvironmentBenchResult): void {
  console.log('\nenvironments on the OpenStack simulator, realistic timings (server build 8 s, Heat resource 1 s, delete 3 s)');
  console.log('  members alone (create / delete s): ' + r.alone.map((a) => `${a.software.join('+')} ${a.createSeconds} / ${a.deleteSeconds}`).join('; '));
  console.log('  environment                          members  chain  create s  ÷ slowest  ÷ chain  ÷ sum   destroy s  ÷ slowest  ÷ chain  ÷ sum');
  for (const c of r.cases) {
    const cells = [c.createSeconds, c.ratio.createToSlowest, c.ratio.createToChain, c.ratio.createToSum, c.destroySeconds, c.ratio.destroyToSlowest, c.ratio.destroyToChain, c.ratio.destroyToSum].map(String);
    const widths = [10, 11, 9, 8, 11, 11, 9, 0];
    console.log(`  ${c.name.padEnd(37)}${String(c.members).padEnd(9)}${String(c.longestChain).padEnd(7)}${cells.map((x, i) => x.padEnd(widths[i])).join('')}`);
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  exitWhenDone(
    runEnvironmentBench({ nodes: numberFlag(argv, '--nodes') }).then((r) => {
      printEnvironmentBench(r);
      return r;
    }),
    () => 0,
    'environments',
  );
}
