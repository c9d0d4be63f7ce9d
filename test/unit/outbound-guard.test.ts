/**
 * The outbound guard (src/outbound): range checks on the address-check function with stubbed
 * resolvers (nothing here ever connects to a non-loopback address), and the guarded agent end to
 * end against servers on 127.0.0.1, 127.0.0.2 and ::1 only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { interceptors, request } from 'undici';
import { addressRefusal, OutboundGuard, OutboundRefusedError, outboundRefusal, parseAllowList, type Resolver } from '../../src/outbound/guard';

interface Target {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** A server on a loopback address that records each request's path and answers `answer`. */
async function target(host: string, answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, s) => s.end('ok')): Promise<Target> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A resolver that answers from a table and counts its calls; unknown names are ENOTFOUND. */
function stubResolver(table: Record<string, string[] | (() => string[])>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = (async (name: string) => {
    calls.push(name);
    const entry = table[name];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return (typeof entry === 'function' ? entry() : entry).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as Resolver & { calls: string[] };
  fn.calls = calls;
  return fn;
}

async function refusedBy(p: Promise<unknown>): Promise<OutboundRefusedError> {
  try {
    await p;
  } catch (err) {
    const refused = outboundRefusal(err);
    assert.ok(refused, `expected an outbound refusal, got ${String(err)}`);
    return refused;
  }
  assert.fail('expected the request to be refused');
}

describe('outbound guard: the addresses a member-supplied URL may reach', () => {
  describe('address checks (no connections)', () => {
    const refused: Array<[string, RegExp]> = [
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['10.0.0.1', /private/],
      ['10.255.255.255', /private/],
      ['172.16.0.1', /private/],
      ['172.31.255.254', /private/],
      ['192.168.1.1', /private/],
      ['169.254.169.254', /link-local.*metadata/],
      ['169.254.0.1', /link-local/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['100.127.255.254', /carrier-grade NAT/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['0.0.0.0', /unspecified/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['::1', /loopback/],
      ['::', /unspecified/],
      ['fc00::1', /unique-local/],
      ['fd12:3456:789a::1', /unique-local/],
      ['fe80::1', /link-local/],
      ['ff02::1', /multicast/],
      ['::ffff:127.0.0.1', /127\.0\.0\.1 is a loopback/],
      ['::ffff:7f00:1', /127\.0\.0\.1 is a loopback/],
      ['::ffff:169.254.169.254', /169\.254\.169\.254 is a link-local/],
      ['::ffff:10.1.2.3', /10\.1\.2\.3 is a private/],
      ['::127.0.0.1', /IPv4-compatible|127\.0\.0\.1 is a loopback/],
      ['::a00:1', /IPv4-compatible/],
      ['64:ff9b::a9fe:a9fe', /NAT64/],
      ['2002:7f00:1::1', /6to4/],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
    ];
    for (const [ip, why] of refused) {
      it(`when the address is ${ip}, then it is refused (${why.source})`, () => {
        const r = addressRefusal(ip);
        assert.ok(r, `${ip} allowed`);
        assert.match(r, why);
      });
    }

    it('when the address is public unicast (IPv4, IPv6, IPv4-mapped public), then it is allowed', () => {
      for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8']) assert.equal(addressRefusal(ip), undefined, ip);
    });

    it('when an address is inside an allow-listed CIDR, then it is allowed, and only that range is', () => {
      const allow = parseAllowList('10.20.0.0/16, fd00:1::/32, 192.168.7.7, ::ffff:172.16.0.0/108');
      assert.equal(addressRefusal('10.20.3.4', allow), undefined);
      assert.match(addressRefusal('10.21.0.1', allow) ?? '', /private/);
      assert.equal(addressRefusal('fd00:1::5', allow), undefined);
      assert.match(addressRefusal('fd00:2::5', allow) ?? '', /unique-local/);
      assert.equal(addressRefusal('192.168.7.7', allow), undefined);
      assert.equal(addressRefusal('::ffff:192.168.7.7', allow), undefined, 'mapped form of an allowed address');
      assert.equal(addressRefusal('172.16.9.9', allow), undefined, 'mapped CIDR applies to the IPv4 address');
      assert.match(addressRefusal('192.168.7.8', allow) ?? '', /private/);
    });

    it('when the allow-list has a bad entry, then parsing names it', () => {
      assert.throws(() => parseAllowList('10.0.0.0/8,not-an-entry'), /"not-an-entry"/);
      assert.throws(() => parseAllowList('10.0.0.0/33'), /"10\.0\.0\.0\/33"/);
      assert.throws(() => parseAllowList('http://u:p@127.0.0.1:8000/identity/'), /credentials/);
      assert.deepEqual(parseAllowList(' , '), []);
    });

    it('when a URL has another scheme or credentials, then checkUrl refuses it', () => {
      const g = new OutboundGuard();
      for (const u of ['file:///etc/passwd', 'ftp://example.com/x', 'gopher://example.com:70/_x', 'http://user:pw@example.com/']) assert.throws(() => g.checkUrl(u), OutboundRefusedError, u);
      assert.throws(() => g.checkUrl('http://169.254.169.254/latest/meta-data/'), /link-local/);
      assert.throws(() => g.checkUrl('http://[::ffff:127.0.0.1]:8000/_sim/reset'), /loopback/);
      assert.throws(() => g.checkUrl('http://2130706433/'), /loopback/, 'the decimal form of 127.0.0.1 (URL parsing normalises it)');
      assert.throws(() => g.checkUrl('http://0x7f.1/'), /loopback/, 'the hex form');
      assert.equal(g.checkUrl('https://keystone.example.com:5000/v3').hostname, 'keystone.example.com');
    });

    it('when a name resolves (stubbed) to a metadata, private or mapped-loopback address, then checkUrlResolved refuses it; a public answer passes', async () => {
      const resolve = stubResolver({
        'metadata.test': ['169.254.169.254'],
        'mixed.test': ['8.8.4.4', '10.0.0.5'],
        'mapped.test': ['::ffff:127.0.0.1'],
        'cloud.test': ['8.8.8.8', '2001:4860:4860::8888'],
      });
      const g = new OutboundGuard({ resolve });
      await assert.rejects(g.checkUrlResolved('http://metadata.test/latest/'), /metadata.test resolves to 169\.254\.169\.254, a link-local/);
      await assert.rejects(g.checkUrlResolved('http://mixed.test/'), /10\.0\.0\.5, a private/, 'one bad address of several is enough');
      await assert.rejects(g.checkUrlResolved('http://mapped.test/'), /loopback/);
      assert.equal((await g.checkUrlResolved('https://cloud.test:5000/v3')).hostname, 'cloud.test');
    });
  });

  describe('the guarded agent, end to end on loopback', () => {
    let victim: Target;
    let allowed: Target;
    let victim6: Target | undefined;
    before(async () => {
      victim = await target('127.0.0.1');
      allowed = await target('127.0.0.2', (req, res) => {
        if (req.url === '/redirect') {
          res.statusCode = 302;
          res.setHeader('location', `${victim.url}/_sim/reset`);
          return res.end();
        }
        res.end(`hello from ${req.socket.localAddress}`);
      });
      victim6 = await target('::1').catch(() => undefined);
    });
    after(async () => {
      await Promise.all([victim.close(), allowed.close(), victim6?.close()]);
    });
    afterEach(() => {
      victim.hits.length = 0;
      if (victim6) victim6.hits.length = 0;
    });

    it('when a request names 127.0.0.1, [::1] or ::ffff:127.0.0.1, then nothing connects and the refusal says why', async () => {
      const g = new OutboundGuard();
      try {
        assert.match((await refusedBy(request(`${victim.url}/_sim/reset`, { method: 'POST', dispatcher: g.dispatcher }))).message, /127\.0\.0\.1 is a loopback address/);
        const port = new URL(victim.url).port;
        assert.match((await refusedBy(request(`http://[::ffff:127.0.0.1]:${port}/_sim/reset`, { method: 'POST', dispatcher: g.dispatcher }))).message, /loopback/);
        if (victim6) assert.match((await refusedBy(request(`${victim6.url}/x`, { dispatcher: g.dispatcher }))).message, /::1 is a loopback address/);
        assert.deepEqual(victim.hits, []);
        assert.deepEqual(victim6?.hits ?? [], []);
      } finally {
        await g.close();
      }
    });

    it('when a name resolves to a loopback address, then the connection is refused (the system resolver too: localhost)', async () => {
      const g = new OutboundGuard({ resolve: stubResolver({ 'internal.test': ['127.0.0.1'] }) });
      const sys = new OutboundGuard();
      try {
        const port = new URL(victim.url).port;
        assert.match((await refusedBy(request(`http://internal.test:${port}/`, { dispatcher: g.dispatcher }))).message, /internal\.test resolves to 127\.0\.0\.1, a loopback address/);
        await refusedBy(request(`http://localhost:${port}/`, { dispatcher: sys.dispatcher }));
        assert.deepEqual(victim.hits, []);
      } finally {
        await Promise.all([g.close(), sys.close()]);
      }
    });

    it('when the allow-list names an address, then a name resolving there connects — to exactly the address checked', async () => {
      const resolve = stubResolver({ 'sim.test': ['127.0.0.2'] });
      const g = new OutboundGuard({ allow: parseAllowList('127.0.0.2/32'), resolve });
      try {
        const port = new URL(allowed.url).port;
        const res = await request(`http://sim.test:${port}/`, { dispatcher: g.dispatcher });
        assert.equal(res.statusCode, 200);
        // sim.test exists only in the stub: the socket can only have used the address the guard checked.
        assert.equal(await res.body.text(), 'hello from 127.0.0.2');
        assert.deepEqual(resolve.calls, ['sim.test'], 'one resolution, by the guard');
      } finally {
        await g.close();
      }
    });

    it('when DNS answers an allowed address first and a loopback one next (rebinding), then the next connection is checked anew and refused', async () => {
      const answers = [['127.0.0.2'], ['127.0.0.1']];
      const resolve = stubResolver({ 'rebind.test': () => answers.shift() ?? ['127.0.0.1'] });
      const g = new OutboundGuard({ allow: parseAllowList('127.0.0.2/32'), resolve });
      try {
        const port = new URL(allowed.url).port;
        // The victim listens on the same port number on 127.0.0.1 when it can; either way it must see nothing.
        const first = await request(`http://rebind.test:${port}/`, { dispatcher: g.dispatcher, reset: true });
        assert.equal(await first.body.text(), 'hello from 127.0.0.2');
        const refused = await refusedBy(request(`http://rebind.test:${port}/_sim/reset`, { method: 'POST', dispatcher: g.dispatcher }));
        assert.match(refused.message, /rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
        assert.deepEqual(resolve.calls, ['rebind.test', 'rebind.test'], 'each connection resolved once, by the guard');
        assert.deepEqual(victim.hits, []);
      } finally {
        await g.close();
      }
    });

    it('when an allowed server redirects to a loopback target, then the clients do not follow, and a redirect interceptor over the guard has the hop refused', async () => {
      const g = new OutboundGuard({ allow: parseAllowList('127.0.0.2/32') });
      try {
        const plain = await request(`${allowed.url}/redirect`, { dispatcher: g.dispatcher });
        await plain.body.dump();
        assert.equal(plain.statusCode, 302, 'undici request does not follow redirects');
        const following = g.dispatcher.compose(interceptors.redirect({ maxRedirections: 3 }));
        const refused = await refusedBy(request(`${allowed.url}/redirect`, { dispatcher: following }));
        assert.match(refused.message, /127\.0\.0\.1 is a loopback address/);
        assert.deepEqual(victim.hits, [], 'the redirect target saw nothing');
      } finally {
        await g.close();
      }
    });

    it('when an origin is allow-listed by URL prefix, then only paths under the prefix pass (no /_sim, no encoded or dotted escape)', async () => {
      const g = new OutboundGuard({ allow: parseAllowList(`${victim.url}/identity/,${victim.url}/client/api`) });
      try {
        const ok = await request(`${victim.url}/identity/v3/auth/tokens`, { method: 'POST', dispatcher: g.dispatcher });
        assert.equal(ok.statusCode, 200);
        await ok.body.dump();
        const api = await request(`${victim.url}/client/api?command=listZones`, { dispatcher: g.dispatcher });
        assert.equal(api.statusCode, 200);
        await api.body.dump();
        for (const p of ['/_sim/reset', '/_sim/reset?/identity/', '/identity/../_sim/reset', '/identity/%2e%2e/_sim/reset', '/identity/%2F..%2F_sim/reset', '/identityx', '/client/apix']) {
          await refusedBy(request(`${victim.url}${p}`, { method: 'POST', dispatcher: g.dispatcher }));
        }
        assert.deepEqual(victim.hits, ['/identity/v3/auth/tokens', '/client/api?command=listZones']);
      } finally {
        await g.close();
      }
    });
  });
});
