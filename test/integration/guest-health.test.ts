/**
 * Guest health checks end to end (issue 17, item 1): the seed's first disaster — the VM's service
 * dies while Nova still says ACTIVE. The OpenStack simulator serves each ACTIVE server's guest on
 * its loopback-mapped address (src/sim/openstack/guests.ts); the monitor checks the guests of its
 * account in one batch per interval; a VM whose check fails past its threshold fails over to its
 * base standby like a broken server, and one whose service comes back within the threshold does not.
 */
import assert from 'node:assert/strict';
import { cloudMonitorWorkflowId } from '../../src/contracts/dr';
import { MONITOR_STATUS_QUERY, type MonitorStatus } from '../../src/contracts/dr-monitor';
import type { TestApi } from '../harness/api';
import { sharedClouds, simAdmin, type TestClouds } from '../harness/clouds';
import { startDrSystem, type DrSystem } from '../harness/dr-system';
import { apiCall, waitUntil } from '../harness/http';
import { signupAndLogin, type TestUser } from '../harness/users';

type Json = any;

describe('guest health checks: a VM whose service dies while its server stays ACTIVE', function () {
  this.timeout(600_000);
  let clouds: TestClouds;
  let sys: DrSystem;
  let api: TestApi;
  let alice: TestUser;

  const call = (method: string, p: string, body?: unknown) => apiCall(api.url, alice, method, p, body);
  const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 150_000) => waitUntil(what, fn, timeoutMs);
  const vm = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}`)).body.vm;
  const dr = async (vmId: string) => (await call('GET', `/api/v1/vms/${vmId}/dr`)).body;
  const monitor = (accountId: string) => sys.tw.client.workflow.getHandle(cloudMonitorWorkflowId(accountId)).query<MonitorStatus>(MONITOR_STATUS_QUERY);
  const osServers = async () => (await simAdmin(clouds.openstack.url, 'GET', '/state')).servers.items as Json[];

  /** A VM created with a guest check, backed up once (standbys in both clouds), then protected; returned once its check has passed. */
  async function protectedVmWithCheck(name: string, healthCheck: Record<string, unknown>): Promise<{ vmId: string; serverId: string; accountId: string }> {
    const r = await call('POST', '/api/v1/vms', { name, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack', healthCheck });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const vmId = r.body.vm.id as string;
    const active = await until('VM active', async () => {
      const v = await vm(vmId);
      return v.state === 'active' ? v : undefined;
    });
    const run = await call('POST', `/api/v1/vms/${vmId}/backups`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const b = await until('backup done', async () => ((await call('GET', `/api/v1/vms/${vmId}/backups`)).body.backups as Json[]).find((x) => x.status !== 'running'));
    assert.equal(b.status, 'succeeded', JSON.stringify(b));
    // Declared at create time, kept (not protected yet) until the VM is protected.
    const declared = await dr(vmId);
    assert.equal(declared.protected, false);
    assert.deepEqual(declared.healthCheck, healthCheck);
    const p = await call('PUT', `/api/v1/vms/${vmId}/dr`, { failbackMode: 'automatic', failbackAfterHealthySeconds: 2 });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.protected, true);
    assert.deepEqual(p.body.healthCheck, healthCheck, 'protecting keeps the declared check');
    const armed = await until('guest check passed once (armed)', async () => {
      const d = await dr(vmId);
      return d.state?.state === 'Protected' && d.guest?.armed && d.guest.serverId === active.placement.serverId ? d : undefined;
    });
    assert.equal(armed.guest.ok, true);
    return { vmId, serverId: active.placement.serverId, accountId: active.placement.accountId };
  }

  before(async () => {
    clouds = await sharedClouds();
    sys = await startDrSystem();
    api = sys.api;
    alice = await signupAndLogin(api.url);
  });
  after(async () => {
    await sys?.stop();
  });

  it('when the guest stops answering, then the VM fails over to its base standby (the monitor saw the guest fail, the old server stayed ACTIVE until fenced)', async () => {
    const failureThreshold = 2;
    const intervalSeconds = 5;
    const { vmId, serverId, accountId } = await protectedVmWithCheck('guest-dies', { protocol: 'http', port: clouds.guestPort, path: '/health', intervalSeconds, timeoutSeconds: 1, failureThreshold });
    const standby = (await osServers()).find((s) => s.name === `vmflow-${vmId}-standby`);
    assert.equal(standby.status, 'SHUTOFF');

    const brokeAt = Date.now();
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${serverId}/break`, { mode: 'guest' });
    assert.equal((await osServers()).find((s) => s.id === serverId).status, 'ACTIVE', 'the server itself stays ACTIVE');

    const after = await until('switched to the standby', async () => {
      const v = await vm(vmId);
      return v.placement.serverId === standby.id ? v : undefined;
    });
    assert.equal(after.state, 'active');
    // The monitor judged the guest, not the server: its signal names the failed check.
    const status = await monitor(accountId);
    const signal = status.recentSignals.find((s) => s.kind === 'vmHealth' && s.vmId === vmId && !s.healthy);
    assert.ok(signal, JSON.stringify(status.recentSignals));
    assert.match(signal.status ?? '', /^GUEST_FAILED \(http :\d+ \/health connection refused\)$/);
    assert.ok(Date.parse(signal.firstFailedAt!) >= brokeAt - 1000, 'the run of failures began after the break');
    // Detection budget: failureThreshold checks of the VM, each at most its interval (plus the
    // monitor's own interval and probe) apart; generous slack for a loaded machine.
    const detectedMs = Date.parse(signal.at) - brokeAt;
    const budgetMs = failureThreshold * (intervalSeconds + 1 + 1) * 1000 + 15_000;
    assert.ok(detectedMs <= budgetMs, `detected after ${detectedMs} ms; budget ${budgetMs} ms`);

    const d = await until('failover completed', async () => {
      const v = await dr(vmId);
      return v.events.some((e: Json) => e.kind === 'failover.completed') ? v : undefined;
    });
    const disaster = d.events.find((e: Json) => e.kind === 'disaster.vm');
    assert.match(disaster.message, /GUEST_FAILED/);
    assert.equal(d.events.find((e: Json) => e.kind === 'failover.completed').details.target, 'base-standby');
    // One running copy: the old server was fenced after the switch.
    const servers = await osServers();
    const old = servers.find((s) => s.id === serverId);
    assert.ok(!old || old.status !== 'ACTIVE', 'the old server no longer runs');
    // The new server's guest is checked afresh and passes.
    await until('the guest on the promoted standby passes', async () => {
      const g = (await dr(vmId)).guest;
      return g?.serverId === standby.id && g.armed && g.ok ? g : undefined;
    });
  });

  it('when the guest comes back within the threshold, or a check never passed, then nothing fails over', async () => {
    const { vmId, serverId, accountId } = await protectedVmWithCheck('guest-blip', { protocol: 'tcp', port: clouds.guestPort, intervalSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 });
    await simAdmin(clouds.openstack.url, 'POST', `/servers/${serverId}/break`, { mode: 'guest' });
    // The monitor saw the failure (one failed check counted against the VM's threshold of 3) …
    const seen = await until('one failed guest check counted', async () => {
      const m = await monitor(accountId);
      const c = m.trackedVms[vmId];
      return c && c.failures >= 1 && c.status.startsWith('GUEST_FAILED') ? c : undefined;
    });
    assert.equal(seen.healthy, true, 'still healthy below the threshold');
    // … and the service came back before the threshold.
    await simAdmin(clouds.openstack.url, 'DELETE', `/servers/${serverId}/break`);
    await until('counters cleared by a passing check', async () => ((await monitor(accountId)).trackedVms[vmId] ? undefined : true));
    const d = await dr(vmId);
    assert.equal(d.state.state, 'Protected');
    assert.ok(!d.events.some((e: Json) => e.kind === 'disaster.vm'), JSON.stringify(d.events));
    assert.equal((await vm(vmId)).placement.serverId, serverId, 'still on its own server');
    const m = await monitor(accountId);
    assert.ok(!m.recentSignals.some((s) => s.vmId === vmId && !s.healthy), 'no unhealthy signal sent');

    // A check aimed at a port nothing listens on never passes, so it never fails the VM over.
    const wrong = await call('PUT', `/api/v1/vms/${vmId}/dr`, { healthCheck: { protocol: 'tcp', port: clouds.guestPort === 65535 ? 65534 : clouds.guestPort + 1, intervalSeconds: 5, timeoutSeconds: 1, failureThreshold: 1 } });
    assert.equal(wrong.status, 200, JSON.stringify(wrong.body));
    const checksBefore = (await monitor(accountId)).checks;
    await until('the wrong check was made and failed, unarmed', async () => {
      const g = (await dr(vmId)).guest;
      return g && !g.ok && !g.armed ? g : undefined;
    });
    await until('more monitor checks', async () => ((await monitor(accountId)).checks >= checksBefore + 8 ? true : undefined));
    assert.equal((await dr(vmId)).state.state, 'Protected');
    assert.equal((await vm(vmId)).placement.serverId, serverId);
  });

  it('when a health check is malformed, then the API answers 400 naming the field', async () => {
    const r = await call('POST', '/api/v1/vms', { name: 'bad-check', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack', healthCheck: { protocol: 'udp', port: 0 } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    const fields = (r.body.error?.fields ?? r.body.fields ?? []).map((f: Json) => f.field);
    assert.ok(fields.includes('healthCheck.protocol') && fields.includes('healthCheck.port'), JSON.stringify(r.body));
    const tcpWithPath = await call('POST', '/api/v1/vms', { name: 'bad-check', os: 'ubuntu-24.04', size: 'small', cloud: 'openstack', healthCheck: { protocol: 'tcp', port: 22, path: '/x' } });
    assert.equal(tcpWithPath.status, 400);
    assert.ok(JSON.stringify(tcpWithPath.body).includes('healthCheck.path'), JSON.stringify(tcpWithPath.body));
  });
});
