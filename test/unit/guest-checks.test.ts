/**
 * Guest health checks: the pure rules (src/dr/guest-checks.ts — the declared check, the address
 * map, which addresses may be checked) and the batch of checks itself (activities/guest-probe.ts)
 * against guests on loopback only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { checkGuest, checkGuests } from '../../activities/guest-probe';
import { guestAddressOf, guestAddressRefusal, guestHealthCheckSchema, mapGuestAddress, parseGuestAddressMap } from '../../src/dr/guest-checks';
import { parseAllowList } from '../../src/outbound/guard';

const sockets = new Set<net.Socket>();
const listen = (server: net.Server, host = '127.0.0.1') => {
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise<number>((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
};
const close = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('guest health checks: the declared check and where it connects', () => {
  it('when a check is declared, then protocol, port, path and bounds are validated and tcp takes no path', () => {
    assert.ok(guestHealthCheckSchema.safeParse({ protocol: 'http', port: 8080, path: '/health?full=1', failureThreshold: 2 }).success);
    assert.ok(guestHealthCheckSchema.safeParse({ protocol: 'tcp', port: 22 }).success);
    const bad = (v: unknown) => guestHealthCheckSchema.safeParse(v).error?.issues.map((i) => i.path.join('.'));
    assert.deepEqual(bad({ protocol: 'udp', port: 53 }), ['protocol']);
    assert.deepEqual(bad({ protocol: 'tcp', port: 70000 }), ['port']);
    assert.deepEqual(bad({ protocol: 'tcp', port: 22, path: '/x' }), ['path']);
    assert.deepEqual(bad({ protocol: 'http', port: 80, path: 'health' }), ['path']);
    assert.deepEqual(bad({ protocol: 'http', port: 80, path: '/a b' }), ['path']);
    assert.deepEqual(bad({ protocol: 'http', port: 80, intervalSeconds: 1 }), ['intervalSeconds']);
    assert.deepEqual(bad({ protocol: 'http', port: 80, timeoutSeconds: 30 }), ['timeoutSeconds']);
    assert.deepEqual(bad({ protocol: 'http', port: 80, extra: 1 }), ['']);
  });

  it('when an address map is set, then an address keeps its host bits in the target range, and addresses outside every entry are not reached', () => {
    const map = parseGuestAddressMap('10.0.0.0/8=127.0.0.0/8, 192.168.4.0/24=127.1.2.0/24');
    assert.equal(mapGuestAddress('10.0.3.7', map), '127.0.3.7');
    assert.equal(mapGuestAddress('10.255.255.254', map), '127.255.255.254');
    assert.equal(mapGuestAddress('192.168.4.9', map), '127.1.2.9');
    assert.equal(mapGuestAddress('172.24.4.10', map), undefined);
    assert.equal(mapGuestAddress('not-an-ip', map), undefined);
    // No map (real clouds): every address as it is.
    assert.equal(mapGuestAddress('10.0.3.7', []), '10.0.3.7');
    assert.deepEqual(parseGuestAddressMap(''), []);
    assert.throws(() => parseGuestAddressMap('10.0.0.0/8=127.0.0.0/16'), /prefix length/);
    assert.throws(() => parseGuestAddressMap('10.0.0.0/8'), /from-cidr=to-cidr/);
    assert.throws(() => parseGuestAddressMap('10.0.0.0/8=::1/8'), /family/);
  });

  it('when a server has floating and fixed addresses, then a floating one is checked first, unless the map reaches only the fixed one', () => {
    const addresses = {
      private: [
        { addr: '10.0.0.5', version: 4, 'OS-EXT-IPS:type': 'fixed' },
        { addr: '172.24.4.20', version: 4, 'OS-EXT-IPS:type': 'floating' },
      ],
    };
    assert.deepEqual(guestAddressOf(addresses, []), { address: '172.24.4.20', target: '172.24.4.20' });
    assert.deepEqual(guestAddressOf(addresses, parseGuestAddressMap('10.0.0.0/8=127.0.0.0/8')), { address: '10.0.0.5', target: '127.0.0.5' });
    assert.equal(guestAddressOf({}, []), undefined);
  });

  it('when a member’s cloud reports a VM address, then it is held to the outbound guard; the operator’s cloud may use private ranges but never link-local or metadata', () => {
    const allow = parseAllowList('10.20.0.0/16');
    assert.match(guestAddressRefusal('10.0.0.5', 'user', allow) ?? '', /private/);
    assert.match(guestAddressRefusal('169.254.169.254', 'user', allow) ?? '', /link-local/);
    assert.match(guestAddressRefusal('127.0.0.1', 'user', allow) ?? '', /loopback/);
    assert.equal(guestAddressRefusal('10.20.3.4', 'user', allow), undefined, 'allow-listed range');
    assert.equal(guestAddressRefusal('8.8.8.8', 'user', []), undefined, 'public unicast');
    assert.equal(guestAddressRefusal('10.0.0.5', 'operator', []), undefined);
    assert.match(guestAddressRefusal('169.254.169.254', 'operator', []) ?? '', /linkLocal/);
    assert.match(guestAddressRefusal('fe80::1', 'operator', []) ?? '', /linkLocal/);
    assert.match(guestAddressRefusal('nonsense', 'operator', []) ?? '', /not an IP address/);
  });
});

describe('guest health checks: one batch of checks (loopback guests)', function () {
  this.timeout(20_000);
  const servers: net.Server[] = [];
  let httpPort: number;
  let failingPort: number;
  let tcpPort: number;
  let silentPort: number;
  let freePortNobodyListensOn: number;

  before(async () => {
    const ok = http.createServer((req, res) => res.writeHead(req.url === '/health' ? 204 : 404).end());
    const failing = http.createServer((_req, res) => res.writeHead(503).end());
    const tcp = net.createServer((s) => s.end());
    // Accepts the connection but never answers an HTTP request.
    const silent = net.createServer(() => undefined);
    servers.push(ok, failing, tcp, silent);
    httpPort = await listen(ok);
    failingPort = await listen(failing);
    tcpPort = await listen(tcp, '127.0.0.2');
    silentPort = await listen(silent);
    const probe = net.createServer();
    freePortNobodyListensOn = await listen(probe);
    await close(probe);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) await close(s);
  });

  it('when guests answer, fail, refuse or stay silent, then each result says so in words and only answers below 400 pass', async () => {
    assert.deepEqual((await checkGuest({ vmId: 'a', protocol: 'http', host: '127.0.0.1', port: httpPort, path: '/health', timeoutMs: 2000 })).ok, true);
    const notFound = await checkGuest({ vmId: 'b', protocol: 'http', host: '127.0.0.1', port: httpPort, path: '/other', timeoutMs: 2000 });
    assert.equal(notFound.detail, `http :${httpPort} /other answered 404`);
    const failing = await checkGuest({ vmId: 'c', protocol: 'http', host: '127.0.0.1', port: failingPort, path: '/', timeoutMs: 2000 });
    assert.equal(failing.ok, false);
    assert.match(failing.detail, /answered 503$/);
    assert.equal((await checkGuest({ vmId: 'd', protocol: 'tcp', host: '127.0.0.2', port: tcpPort, timeoutMs: 2000 })).ok, true);
    const refused = await checkGuest({ vmId: 'e', protocol: 'tcp', host: '127.0.0.1', port: freePortNobodyListensOn, timeoutMs: 2000 });
    assert.equal(refused.detail, `tcp :${freePortNobodyListensOn} connection refused`);
    const silent = await checkGuest({ vmId: 'f', protocol: 'http', host: '127.0.0.1', port: silentPort, path: '/', timeoutMs: 300 });
    assert.equal(silent.detail, `http :${silentPort} / no answer in 300 ms`);
    const tls = await checkGuest({ vmId: 'g', protocol: 'https', host: '::1', port: freePortNobodyListensOn, path: '/', timeoutMs: 2000 });
    assert.equal(tls.ok, false);
  });

  it('when the batch deadline passes, then the checks still running are left out (inconclusive), never reported as failures', async () => {
    const targets = [
      { vmId: 'quick', protocol: 'tcp' as const, host: '127.0.0.2', port: tcpPort, timeoutMs: 5000 },
      { vmId: 'slow', protocol: 'http' as const, host: '127.0.0.1', port: silentPort, path: '/', timeoutMs: 5000 },
    ];
    const results = await checkGuests(targets, { deadlineMs: 400 });
    assert.deepEqual([...results.keys()], ['quick']);
    assert.equal(results.get('quick')?.ok, true);
  });

  it('when many guests are checked, then no more than the concurrency limit are open at once', async () => {
    let open = 0;
    let most = 0;
    const counting = net.createServer((s) => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => s.end(), 30);
      s.on('close', () => open--);
    });
    servers.push(counting);
    const port = await listen(counting);
    const targets = Array.from({ length: 40 }, (_, i) => ({ vmId: `vm${i}`, protocol: 'tcp' as const, host: '127.0.0.1', port, timeoutMs: 2000 }));
    const results = await checkGuests(targets, { deadlineMs: 10_000, concurrency: 5 });
    assert.equal(results.size, 40);
    assert.ok([...results.values()].every((r) => r.ok));
    assert.ok(most <= 5, `at most 5 connections at once, saw ${most}`);
  });
});
