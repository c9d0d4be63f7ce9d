/**
 * The deployment, run rather than parsed (issue 16, item 5). Docker cannot run here, so each vmflow
 * service of docker-compose.yml — api, worker, imagestore, openstack-sim, cloudstack-sim — runs as
 * a host process from the production build (`npm run build` → dist/, the Dockerfile's build step),
 * with its `command` and exactly the environment the compose file gives it: the file's own
 * interpolation (${VAR:-default}, ${VAR:?message}) fed by a .env of fresh secrets, then only the
 * mappings a host needs instead of a compose network. Each service gets a loopback address of its
 * own (as each container has an address), so the file's ports stay as they are, 0.0.0.0 becomes
 * the service's address and its name resolves to it; temporal:7233 and mongodb:27017/vmflow are
 * the test stack (a namespace and database of their own); /data is a temp dir. A member then
 * creates a VM and backs it up through them: a variable the file forgets, a file the build leaves
 * out, or a server that listens on or advertises 127.0.0.1 (unreachable from another container)
 * fails here.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { formatKeyring, generateKey, keyringOf } from '../../src/secrets/keyring';
import { apiCall, waitUntil } from '../harness/http';
import { registerTestSecret } from '../harness/secrets';
import { isolatedPlace, sharedStack } from '../harness/stack';
import { signupAndLogin } from '../harness/users';

type Json = any;
type Service = { command?: string[]; environment?: Record<string, string | number>; ports?: string[] };

const repoRoot = path.resolve(__dirname, '../..');
const VMFLOW_SERVICES = ['openstack-sim', 'cloudstack-sim', 'imagestore', 'api', 'worker'] as const;

/** Compose's interpolation of one value: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}. */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (whole, name: string | undefined, colon: string, op: string, arg: string) => {
    if (whole === '$$') return '$';
    const v = env[name!];
    const missing = v === undefined || (colon === ':' && v === '');
    if (op === '-') return missing ? arg : v!;
    if (op === '?') {
      if (missing) throw new Error(`compose would refuse to start: ${name}: ${arg}`);
      return v!;
    }
    return v ?? '';
  });
}

describe('deployment: the compose services from the production build, as host processes', function () {
  this.timeout(900_000);
  const procs: Array<{ name: string; proc: ChildProcess; log: string }> = [];
  let dataDir: string;

  after(async () => {
    await Promise.all(
      procs.map(async ({ proc }) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }),
    );
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when api, worker, image store and both simulators run with the environment docker-compose.yml gives them, then a member creates a VM and backs it up', async () => {
    await promisify(execFile)('npm', ['run', 'build'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    const stack = await sharedStack();
    const place = await isolatedPlace('compose');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-compose-'));
    const compose = YAML.parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };

    // The operator's .env: the secrets the file requires, and the namespace of this test.
    const dotenv: Record<string, string> = {
      VMFLOW_ENCRYPTION_KEYS: formatKeyring(keyringOf(generateKey())),
      IMAGE_STORE_TOKEN: crypto.randomBytes(24).toString('base64url'),
      IMAGE_STORE_SIGNING_SECRET: crypto.randomBytes(32).toString('base64url'),
      POSTGRES_PASSWORD: crypto.randomBytes(12).toString('hex'),
      GRAFANA_ADMIN_PASSWORD: crypto.randomBytes(12).toString('hex'),
      TEMPORAL_NAMESPACE: place.namespace,
    };
    for (const secret of [dotenv.IMAGE_STORE_TOKEN, dotenv.IMAGE_STORE_SIGNING_SECRET, dotenv.VMFLOW_ENCRYPTION_KEYS.split(':')[1]]) registerTestSecret(secret);

    // Each service gets a loopback address of its own, as each container has its own address: the
    // ports stay the file's, 0.0.0.0 becomes the service's address, and its name resolves to it. A
    // server that listens on 127.0.0.1 only, or advertises 127.0.0.1, is then unreachable — as it
    // would be in a container. (Linux routes all of 127.0.0.0/8 to the loopback interface.)
    const net24 = `127.${1 + crypto.randomInt(250)}.${1 + crypto.randomInt(250)}`;
    const addressOf = new Map<string, string>(VMFLOW_SERVICES.map((name, i) => [name, `${net24}.${10 + i}`]));
    const mongoInCompose = 'mongodb://mongodb:27017/vmflow';
    const toHost = (service: string, value: string): string => {
      if (value === mongoInCompose) return place.mongoUri;
      if (value === '0.0.0.0') return addressOf.get(service)!;
      let v = value.replace(/(^|\/\/)temporal:7233(?=[/?#]|$)/, `$1${stack.temporalAddress}`);
      // A service name as a URL's host.
      for (const [name, addr] of addressOf) v = v.replace(new RegExp(`//${name}(?=[:/]|$)`, 'g'), `//${addr}`);
      return v === '/data' || v.startsWith('/data/') ? path.join(dataDir, service, v.slice('/data'.length)) : v;
    };
    const envOf = (service: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
      for (const [key, raw] of Object.entries(compose.services[service].environment ?? {})) env[key] = toHost(service, interpolate(String(raw), dotenv));
      return env;
    };
    const urlOf = (service: string, port: string | undefined) => `http://${addressOf.get(service)}:${port}`;

    const start = async (service: string): Promise<{ env: NodeJS.ProcessEnv; log: () => string }> => {
      const svc = compose.services[service];
      assert.equal(svc.command?.[0], 'node', `${service} runs node`);
      const env = envOf(service);
      // vmflow's own services log where the run's secret scan looks; the simulators print their
      // well-known demo credentials on purpose (as `npm start` shows them), so theirs go beside their data.
      const log = service.endsWith('-sim') ? path.join(dataDir, `${service}.log`) : path.join(stack.dir, `compose-${service}.log`);
      const fd = fs.openSync(log, 'a');
      const proc = spawn(process.execPath, svc.command!.slice(1), { cwd: repoRoot, env, stdio: ['ignore', fd, fd] });
      fs.closeSync(fd);
      procs.push({ name: service, proc, log });
      const read = () => fs.readFileSync(log, 'utf8');
      proc.once('exit', (code) => {
        if (code) console.warn(`compose service ${service} exited ${code}:\n${read().split('\n').slice(-15).join('\n')}`);
      });
      return { env, log: read };
    };
    const up = (service: string, url: string, log: () => string) =>
      waitUntil(`${service} answers ${url}`, async () => ((await fetch(url).catch(() => undefined))?.ok ? true : undefined), 120_000, () => log().split('\n').slice(-15).join('\n'));

    const osSim = await start('openstack-sim');
    const csSim = await start('cloudstack-sim');
    const store = await start('imagestore');
    await up('openstack-sim', `${urlOf('openstack-sim', osSim.env.OPENSTACK_SIM_PORT)}/identity/v3`, osSim.log);
    await up('cloudstack-sim', `${urlOf('cloudstack-sim', csSim.env.CLOUDSTACK_SIM_PORT)}/_sim/state`, csSim.log);
    await up('imagestore', `${urlOf('imagestore', store.env.IMAGE_STORE_PORT)}/healthz`, store.log);
    // The catalog names the endpoints as the compose network would (openstack-sim:8000).
    const catalog = await (
      await fetch(`${urlOf('openstack-sim', osSim.env.OPENSTACK_SIM_PORT)}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'demo-secret' } } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } } }),
      })
    ).json() as Json;
    const endpoints = (catalog.token.catalog as Json[]).flatMap((s) => s.endpoints.map((e: Json) => e.url as string));
    assert.ok(endpoints.length > 0 && endpoints.every((u) => u.startsWith(`${urlOf('openstack-sim', osSim.env.OPENSTACK_SIM_PORT)}/`)), `catalog endpoints follow OPENSTACK_SIM_PUBLIC_URL: ${endpoints.join(', ')}`);

    const api = await start('api');
    const apiUrl = urlOf('api', api.env.API_PORT);
    await up('api', `${apiUrl}/readyz`, api.log);
    const worker = await start('worker');
    await waitUntil('the worker polls', async () => (worker.log().includes('worker polling') ? true : undefined), 180_000, () => worker.log().split('\n').slice(-15).join('\n'));

    const member = await signupAndLogin(apiUrl);
    const call = (method: string, p: string, body?: unknown) => apiCall(apiUrl, member, method, p, body);
    const created = await call('POST', '/api/v1/vms', { name: 'compose', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack', backup: { intervalSeconds: 3600, retention: 1 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const vmId = created.body.vm.id as string;
    const context = () => ['api', 'worker'].map((s) => `${s}: ${procs.find((p) => p.name === s)!.proc.exitCode ?? 'running'}`).join(', ') + '\n' + worker.log().split('\n').slice(-10).join('\n');
    const vm = await waitUntil('the VM active', async () => {
      const v = (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
      if (v?.state === 'failed') throw new Error(`create failed: ${JSON.stringify(v.lastError ?? v)}`);
      return v?.state === 'active' ? v : undefined;
    }, 300_000, context);
    assert.equal(vm.placement.cloud, 'openstack');

    // A backup crosses every service: Glance → the image store → a CloudStack template, which the
    // CloudStack simulator downloads from IMAGE_STORE_PUBLIC_URL (http://imagestore:8090, mapped).
    const run = await call('POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const backup = await waitUntil('the backup finished', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((b) => b.status !== 'running'), 400_000, context);
    assert.equal(backup.status, 'succeeded', JSON.stringify(backup));
    const csState = (await (await fetch(`${urlOf('cloudstack-sim', csSim.env.CLOUDSTACK_SIM_PORT)}/_sim/state`)).json()) as Json;
    assert.ok((csState.templates.items as Json[]).some((t) => t.name.startsWith(`vmflow-${vmId}-backup-`) && /Download Complete/.test(t.status)), 'the template downloaded from the image store');
    for (const p of procs) assert.equal(p.proc.exitCode, null, `${p.name} still runs`);
  });
});
