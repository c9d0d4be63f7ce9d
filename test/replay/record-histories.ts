/**
 * npm run record-histories — records fresh histories of the long-running workflows in each of their
 * states, for the replay test (test/unit/replay.test.ts), into test/fixtures/histories/.
 *
 * Run it when a change to drVm, cloudMonitor or vmOwner is MEANT to be incompatible (and so
 * cannot go behind patched()), or to add a state. It boots the integration stack (Temporal dev
 * server told to suggest continue-as-new early, FerretDB, both simulators, image store, API and a
 * worker), drives one VM through: protected → broken (base-standby failover) → base cloud down
 * (failover to CloudStack) → base back, failback waiting for approval → approved failback →
 * Protected, and saves each workflow's history whenever it reaches a state not saved yet.
 * Payloads are stored decoded (the run's encryption key is random and thrown away): the replay
 * test needs no key, and a reviewer can read what a workflow recorded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { cloudMonitorWorkflowId, drWorkflowId, type DrStatus } from '../../src/contracts/dr';
import { vmOwnerWorkflowId } from '../../src/contracts/owner';
import { EncryptionCodec } from '../../src/temporal/codec';
import { simAdmin, stopSharedClouds } from '../harness/clouds';
import { startDrSystem } from '../harness/dr-system';
import { apiCall, waitUntil } from '../harness/http';
import { testKeyring } from '../harness/secrets';
import { configureSharedStack, stopSharedStack } from '../harness/stack';
import { signupAndLogin } from '../harness/users';

type Json = any;
type History = temporal.api.history.v1.IHistory;
type Payload = temporal.api.common.v1.IPayload;

export const HISTORIES_DIR = path.resolve(__dirname, '../fixtures/histories');

/** Every payload in a history (at any depth: inputs, results, failures' encoded attributes, memos). */
function payloadsIn(node: unknown, out: Payload[] = []): Payload[] {
  if (Array.isArray(node)) for (const n of node) payloadsIn(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push(o as Payload);
    else for (const v of Object.values(o)) payloadsIn(v, out);
  }
  return out;
}

async function decodeInPlace(history: History, codec: EncryptionCodec): Promise<void> {
  for (const p of payloadsIn(history)) {
    const [plain] = await codec.decode([p]);
    if (plain !== p) {
      p.metadata = plain.metadata;
      p.data = plain.data;
    }
  }
}

/**
 * The history as plain JSON (enum names, 64-bit numbers as strings, bytes as base64) — the form
 * `History.fromObject` reads back (loadHistory in the replay test).
 */
export function historyToObject(history: History): unknown {
  const H = temporal.api.history.v1.History;
  return H.toObject(H.fromObject(history), { enums: String, longs: String, bytes: String });
}

async function main(): Promise<void> {
  // Continue-as-new is suggested after 150 events (default: thousands), so a recorded run carries state.
  configureSharedStack({ temporalDynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 150 } });
  const sys = await startDrSystem();
  const { clouds, api } = sys;
  const client = sys.tw.client;
  const codec = new EncryptionCodec(testKeyring());
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  const saved = new Set<string>();

  const member = await signupAndLogin(api.url, 'replay-recorder');
  const call = async (method: string, p: string, body?: unknown) => {
    const r = await apiCall(api.url, member, method, p, body);
    if (r.status >= 400) throw new Error(`${method} ${p} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Json;
  };
  const until = <T>(what: string, fn: () => Promise<T | undefined>, ms = 180_000) => waitUntil(what, fn, ms);

  async function save(name: string, workflowId: string): Promise<void> {
    if (saved.has(name)) return;
    saved.add(name);
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    await decodeInPlace(history, codec);
    const file = path.join(HISTORIES_DIR, `${name}.json`);
    fs.writeFileSync(file, `${JSON.stringify(historyToObject(history), null, 1)}\n`);
    console.log(`saved ${path.relative(process.cwd(), file)} (${history.events?.length ?? 0} events)`);
  }

  try {
    const created = await call('POST', '/api/v1/vms', { name: 'replay-vm', os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' });
    const vmId = created.vm.id as string;
    await until('VM active', async () => ((await call('GET', `/api/v1/vms/${vmId}`)).vm.state === 'active' ? true : undefined));
    await call('POST', `/api/v1/vms/${vmId}/backups`);
    await until('first backup done', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).backups as Json[]).find((b) => b.status === 'succeeded'));
    await call('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'approval', failbackAfterHealthySeconds: 2 });
    const accountId = (await call('GET', `/api/v1/vms/${vmId}`)).vm.accountId as string;
    const drId = drWorkflowId(vmId);
    const monitorId = cloudMonitorWorkflowId(accountId);
    const ownerId = vmOwnerWorkflowId(vmId);
    const firstRun = (await client.workflow.getHandle(drId).describe()).runId;

    const dr = async (): Promise<DrStatus> => (await call('GET', `/api/v1/vms/${vmId}/dr`)).state as DrStatus;
    /** Polls the DR state every 100 ms, saving a history for every state (and continued run) seen. */
    async function watchUntil(what: string, done: (s: DrStatus) => boolean, ms = 240_000): Promise<DrStatus> {
      return until(what, async () => {
        const s = await dr();
        const key = s.state === 'FailedOver' ? `FailedOver-${s.target}${s.awaitingApproval ? '-awaiting-approval' : ''}` : s.state;
        await save(`drVm-${key}`, drId);
        const run = (await client.workflow.getHandle(drId).describe()).runId;
        if (run !== firstRun) await save('drVm-after-continue-as-new', drId);
        await new Promise((r) => setTimeout(r, 100));
        return done(s) ? s : undefined;
      }, ms);
    }

    await watchUntil('Protected', (s) => s.state === 'Protected');
    await save('cloudMonitor-healthy', monitorId);
    await save('vmOwner-after-backup', ownerId);

    // 1. The VM breaks: failover to the base standby, then re-protection.
    const server = (await call('GET', `/api/v1/vms/${vmId}`)).vm.placement.serverId as string;
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${server}/break`, { mode: 'error' });
    await watchUntil('failed over to the base standby', (s) => s.recentEvents.some((e) => e.kind === 'failover.completed'));
    await watchUntil('Protected again', (s) => s.state === 'Protected');
    await until('a re-protecting backup done', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).backups as Json[]).filter((b) => b.status === 'succeeded').length >= 2 ? true : undefined, 240_000);
    await save('vmOwner-after-failover', ownerId);

    // 2. The base cloud goes down: failover to CloudStack; the monitor records the outage.
    await simAdmin(clouds.openstack.url, 'POST', '/outage', { mode: '503' });
    await watchUntil('failed over to CloudStack', (s) => s.state === 'FailedOver' && s.target === 'backup-cloud');
    await save('cloudMonitor-after-outage', monitorId);

    // 3. The base cloud returns: failback waits for approval, then runs once approved.
    await simAdmin(clouds.openstack.url, 'DELETE', '/outage');
    await watchUntil('failback awaiting approval', (s) => !!s.awaitingApproval);
    await call('POST', `/api/v1/vms/${vmId}/dr/approve`);
    await watchUntil('Protected after failback', (s) => s.state === 'Protected' && !s.step);
    await save('drVm-Protected-after-failback', drId);
    await save('vmOwner-after-failback', ownerId);
    // The one-second monitor has continued as new by now (150 events): its current run starts from carried state.
    const continued = (await client.workflow.getHandle(monitorId).fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    await save(continued ? 'cloudMonitor-after-continue-as-new' : 'cloudMonitor-after-recovery', monitorId);
    console.log(`recorded ${saved.size} histories: ${[...saved].sort().join(', ')}`);
  } finally {
    await sys.stop();
    await stopSharedClouds();
    await stopSharedStack();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
