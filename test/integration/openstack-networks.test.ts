/**
 * The OpenStack client's private networks against the OpenStack simulator: ensurePrivateNetwork
 * and deletePrivateNetwork are safe to retry (a retry after a failure part-way finds what the
 * earlier attempt made instead of making a second), proven by the simulator's resource counts and
 * request counters.
 */
import assert from 'node:assert/strict';
import { CloudApiError } from '../../src/clouds/errors';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackClient } from '../../src/clouds/openstack';
import { startOpenStackSimulator, type OpenStackSimulator, type SimStateSummary } from '../../src/sim/openstack';

describe('OpenStack client: private networks against the simulator', function () {
  this.timeout(30_000);
  let sim: OpenStackSimulator;
  let os: OpenStackClient;

  async function simAdmin(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${sim.url}/_sim${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  const state = (): SimStateSummary => sim.state();
  const counts = () => {
    const s = state();
    return { networks: s.networks.total, subnets: s.subnets.total, routers: s.routers.total, ports: s.ports.total };
  };

  async function rejects(p: Promise<unknown>, check: (e: CloudApiError) => void): Promise<void> {
    let caught: unknown;
    try {
      await p;
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof CloudApiError, `expected a CloudApiError, got ${String(caught)}`);
    check(caught);
  }

  before(async () => {
    sim = await startOpenStackSimulator({ port: 0, timings: { serverBuildMs: 100, serverDeleteMs: 50 } });
    const c = sim.credentials;
    const session = new OpenStackSession(
      { authUrl: sim.authUrl, username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName, region: c.region },
      { tokenCache: new TokenCache() },
    );
    os = createOpenStackClient(session);
  });

  after(async () => {
    await sim?.stop();
  });

  afterEach(async () => {
    await simAdmin('DELETE', '/faults');
  });

  it('when ensurePrivateNetwork fails part-way and is retried, then the retries finish the one network, subnet, router and interface instead of making second ones', async () => {
    const base = counts();
    // The first attempt dies creating the router, the second adding the interface.
    await simAdmin('POST', '/faults', { service: 'network', method: 'POST', path: '/networking/v2.0/routers$', status: 503, count: 1 });
    await simAdmin('POST', '/faults', { service: 'network', method: 'PUT', path: '/add_router_interface$', status: 503, count: 1 });
    const spec = { name: 'wf-env-1', cidr: '10.60.0.0/24', externalNetwork: 'public', dnsNameservers: ['8.8.8.8'] };
    await rejects(os.network.ensurePrivateNetwork(spec), (e) => assert.equal(e.kind, 'Unavailable'));
    assert.deepEqual(counts(), { ...base, networks: base.networks + 1, subnets: base.subnets + 1 });
    await rejects(os.network.ensurePrivateNetwork(spec), (e) => assert.equal(e.kind, 'Unavailable'));
    assert.equal(counts().routers, base.routers + 1);

    const made = await os.network.ensurePrivateNetwork(spec);
    assert.equal(made.network.name, 'wf-env-1');
    assert.equal(made.subnet.cidr, '10.60.0.0/24');
    assert.equal(made.subnet.name, 'wf-env-1-subnet');
    assert.equal(made.router?.name, 'wf-env-1-router');
    const again = await os.network.ensurePrivateNetwork(spec);
    assert.deepEqual([again.network.id, again.subnet.id, again.router?.id], [made.network.id, made.subnet.id, made.router?.id]);

    const s = state();
    assert.equal(s.networks.total, base.networks + 1);
    assert.equal(s.subnets.total, base.subnets + 1);
    assert.equal(s.routers.total, base.routers + 1);
    assert.equal(s.routers.items.find((r) => r.id === made.router?.id)?.interfaces, 1);
    assert.equal(s.requests.byRoute['POST /networking/v2.0/networks'], 1, 'the network was created once');
    assert.equal(s.requests.byRoute['POST /networking/v2.0/subnets'], 1, 'the subnet was created once');
    const gw = made.router?.external_gateway_info;
    assert.equal(gw?.network_id, (await os.network.listNetworks({ name: 'public' }))[0].id);

    // A server on the network takes an address from the subnet.
    const image = (await os.image.listImages({ name: 'ubuntu-24.04' }))[0];
    const server = await os.compute.createServer({ name: 'env-vm', flavorRef: '1', imageRef: image.id, networks: [{ uuid: made.network.id }] });
    const port = (await os.network.listPorts({ device_id: server.id }))[0];
    assert.match(port.fixed_ips[0].ip_address, /^10\.60\.0\.\d+$/);

    // While the server is there the network cannot go: Conflict, which a retry overcomes once the server is deleted.
    await rejects(os.network.deletePrivateNetwork('wf-env-1'), (e) => {
      assert.equal(e.kind, 'Conflict');
      assert.equal(e.status, 409);
      assert.equal(e.retryable, true);
    });
    await os.compute.deleteServer(server.id);
    const deadline = Date.now() + 10_000;
    while (state().servers.items.some((x) => x.id === server.id)) {
      assert.ok(Date.now() < deadline, 'the server was not deleted in time');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.deepEqual(await os.network.deletePrivateNetwork('wf-env-1'), { routers: 0, networks: 1 });
    assert.deepEqual(await os.network.deletePrivateNetwork('wf-env-1'), { routers: 0, networks: 0 });
    assert.deepEqual(counts(), base);
  });

  it('when a private network without router is ensured twice and deleted, then one network and subnet exist in between and none after', async () => {
    const base = counts();
    const a = await os.network.ensurePrivateNetwork({ name: 'wf-env-2', cidr: '10.61.0.0/24' });
    const b = await os.network.ensurePrivateNetwork({ name: 'wf-env-2', cidr: '10.61.0.0/24' });
    assert.equal(a.router, undefined);
    assert.equal(a.network.id, b.network.id);
    assert.equal(a.subnet.id, b.subnet.id);
    assert.equal(a.subnet.gateway_ip, '10.61.0.1');
    assert.deepEqual(counts(), { ...base, networks: base.networks + 1, subnets: base.subnets + 1 });
    const quota = await os.network.getQuota(a.network.project_id!, { details: true });
    assert.deepEqual((quota as Record<string, { used: number }>).network.used, 1);
    assert.deepEqual(await os.network.deletePrivateNetwork('wf-env-2'), { routers: 0, networks: 1 });
    assert.deepEqual(counts(), base);
  });

  it('when the external network named does not exist or the CIDR is invalid, then the error is not retryable', async () => {
    await rejects(os.network.ensurePrivateNetwork({ name: 'wf-env-3', cidr: '10.62.0.0/24', externalNetwork: 'no-such-net' }), (e) => {
      assert.equal(e.kind, 'NotFound');
      assert.equal(e.retryable, false);
    });
    await rejects(os.network.ensurePrivateNetwork({ name: 'wf-env-4', cidr: '10.63.0.0/99' }), (e) => {
      assert.equal(e.kind, 'BadRequest');
      assert.equal(e.status, 400);
      assert.equal(e.retryable, false);
    });
    await os.network.deletePrivateNetwork('wf-env-3');
    await os.network.deletePrivateNetwork('wf-env-4');
    assert.equal(state().networks.items.filter((n) => n.name.startsWith('wf-env-')).length, 0);
  });
});
