/**
 * The one guarded way out for URLs a member supplied (their cloud accounts' authUrl / apiUrl, the
 * endpoints in their Keystone catalog, CloudStack extract URLs): server-side request forgery stops
 * here.
 *
 * - Only http: and https: URLs, without user:password@.
 * - The address a connection is made to must be public unicast: loopback, private (10/8,
 *   172.16/12, 192.168/16), link-local (169.254/16, the cloud metadata service 169.254.169.254,
 *   fe80::/10), CGNAT (100.64/10), multicast, unique-local (fc00::/7), unspecified, broadcast,
 *   reserved and the IPv6 ranges that embed IPv4 (IPv4-mapped ::ffff:a.b.c.d is judged as the IPv4
 *   address it maps; NAT64, 6to4, Teredo are refused) are not. ipaddr.js names the ranges; anything
 *   it does not call `unicast` is refused.
 * - The check happens inside the connection: the agent's connector resolves the name with its own
 *   `lookup`, checks every address, and hands exactly the checked addresses to the socket. There is
 *   no second resolution that DNS rebinding could answer differently. IP literals (which Node
 *   connects to without a lookup) are checked in the connector too.
 * - Redirects are not followed by the clients (a 3xx is an unexpected status); and because the
 *   check is in the agent, a redirect interceptor composed over `dispatcher` has every hop checked
 *   again (the per-request check and a fresh connector check for a new origin).
 * - An allow-list (VMFLOW_OUTBOUND_ALLOW) lets the operator open what is needed: a CIDR or address
 *   (`10.20.0.0/16`) allows connections to those addresses; a URL prefix
 *   (`http://127.0.0.1:8000/identity/`) allows requests under that path of that origin, whatever it
 *   resolves to — and a request to that origin outside every listed path is refused, so allowing a
 *   simulator's API does not open its /_sim control routes.
 *
 * Operator-configured endpoints (the operator's cloud accounts, the image store, Temporal, the
 * database, the alert webhook) do not go through this guard: they are trusted configuration.
 */
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';

export const OUTBOUND_REFUSED = 'ERR_VMFLOW_OUTBOUND_REFUSED';

/** A request a member's URL asked for that the guard will not make. Never retryable. */
export class OutboundRefusedError extends Error {
  readonly code = OUTBOUND_REFUSED;
  constructor(
    /** Origin (scheme://host:port) of the refused request; never a query string. */
    readonly target: string,
    /** Why, for a person: "127.0.0.1 is a loopback address". */
    readonly reason: string,
  ) {
    super(`refused to contact ${target}: ${reason}`);
    this.name = 'OutboundRefusedError';
  }
}

/** The refusal on an error or anywhere on its `cause` chain (undici and the clients wrap errors). */
export function outboundRefusal(err: unknown): OutboundRefusedError | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof OutboundRefusedError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export type AllowEntry =
  | { kind: 'cidr'; text: string; range: [ipaddr.IPv4 | ipaddr.IPv6, number] }
  | { kind: 'prefix'; text: string; origin: string; path: string };

/**
 * Parses VMFLOW_OUTBOUND_ALLOW: comma-separated CIDRs, addresses, or http(s) URL prefixes.
 * Throws an Error naming the first bad entry.
 */
export function parseAllowList(text: string | undefined): AllowEntry[] {
  const out: AllowEntry[] = [];
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    if (/^https?:\/\//i.test(entry)) {
      let u: URL;
      try {
        u = new URL(entry);
      } catch {
        throw new Error(`"${entry}" is not a URL`);
      }
      if (u.username || u.password || u.search || u.hash) throw new Error(`"${entry}": a URL prefix has no credentials, query or fragment`);
      out.push({ kind: 'prefix', text: entry, origin: u.origin, path: u.pathname });
      continue;
    }
    try {
      const range = entry.includes('/') ? ipaddr.parseCIDR(entry) : ((a) => [a, a.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number])(ipaddr.parse(entry));
      out.push({ kind: 'cidr', text: entry, range: [unmap(range[0]), range[0].kind() === 'ipv6' && (range[0] as ipaddr.IPv6).isIPv4MappedAddress() ? range[1] - 96 : range[1]] });
    } catch {
      throw new Error(`"${entry}" is neither a CIDR, an IP address nor an http(s) URL prefix`);
    }
  }
  return out;
}

function unmap(a: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

const RANGE_WORDS: Record<string, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address (this includes cloud metadata services)',
  carrierGradeNat: 'a carrier-grade NAT (shared) address',
  multicast: 'a multicast address',
  uniqueLocal: 'a unique-local IPv6 address',
  unspecified: 'the unspecified address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
  rfc6052: 'a NAT64 address',
  '6to4': 'a 6to4 address',
  teredo: 'a Teredo address',
};

/** ipaddr.js's range name of an address (IPv4-mapped IPv6 judged as its IPv4), `unicast` when public. */
export function addressRange(ip: string): { address: string; range: string } {
  const a = unmap(ipaddr.parse(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '')));
  return { address: a.toString(), range: a.range() };
}

/**
 * Why a connection to `ip` is refused, or undefined when it may be made: the address is public
 * unicast, or inside a CIDR of the allow-list.
 */
export function addressRefusal(ip: string, allow: readonly AllowEntry[] = []): string | undefined {
  let parsed: { address: string; range: string };
  try {
    parsed = addressRange(ip);
  } catch {
    return `"${ip}" is not an IP address`;
  }
  const a = ipaddr.parse(parsed.address);
  for (const e of allow) if (e.kind === 'cidr' && e.range[0].kind() === a.kind() && a.match(e.range)) return undefined;
  if (parsed.range === 'unicast') {
    // ::a.b.c.d (IPv4-compatible, deprecated): ipaddr.js calls it unicast; it names an IPv4 address all the same.
    if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return `${parsed.address} is an IPv4-compatible IPv6 address`;
    return undefined;
  }
  return `${parsed.address} is ${RANGE_WORDS[parsed.range] ?? `a non-public address (${parsed.range})`}`;
}

function prefixesOf(allow: readonly AllowEntry[], origin: string): Array<Extract<AllowEntry, { kind: 'prefix' }>> {
  return allow.filter((e): e is Extract<AllowEntry, { kind: 'prefix' }> => e.kind === 'prefix' && e.origin === origin);
}

/** Path under an allow-listed prefix: whole segments, and no encoded separators or dots to smuggle `..` past it. */
function pathUnder(path: string, prefix: string): boolean {
  const p = path.split('?')[0] ?? '';
  if (/%2f|%5c|%2e/i.test(p) || p.includes('\\')) return false;
  if (prefix.endsWith('/')) return p.startsWith(prefix);
  return p === prefix || p.startsWith(`${prefix}/`);
}

/** Origin as undici and URL spell it: scheme://host[:port] (default ports left out). */
function originOf(protocol: string, hostname: string, port: string | number | undefined): string {
  const host = net.isIPv6(hostname.replace(/^\[|\]$/g, '')) ? `[${hostname.replace(/^\[|\]$/g, '')}]` : hostname;
  return new URL(`${protocol}//${host}${port ? `:${port}` : ''}`).origin;
}

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** The system resolver, every address (getaddrinfo, as sockets use). */
export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

export interface OutboundGuardOptions {
  /** The allow-list, or a function read at each check (tests add simulators as they start them). */
  allow?: readonly AllowEntry[] | (() => readonly AllowEntry[]);
  /** Name resolution (tests stub it). Default: getaddrinfo via dns.lookup. */
  resolve?: Resolver;
  /** Connect timeout of the agent, ms. Default 10 s. */
  connectTimeoutMs?: number;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;

export class OutboundGuard {
  private readonly allowOf: () => readonly AllowEntry[];
  private readonly resolve: Resolver;
  private agent?: Dispatcher;

  constructor(private readonly o: OutboundGuardOptions = {}) {
    const allow = o.allow ?? [];
    this.allowOf = typeof allow === 'function' ? allow : () => allow;
    this.resolve = o.resolve ?? systemResolver;
  }

  get allowList(): readonly AllowEntry[] {
    return this.allowOf();
  }

  /**
   * What can be said of a URL without resolving it: scheme, credentials, an IP literal's range,
   * and allow-listed paths of an allow-listed origin. Throws OutboundRefusedError.
   */
  checkUrl(url: string | URL): URL {
    let u: URL;
    try {
      u = typeof url === 'string' ? new URL(url) : url;
    } catch {
      throw new OutboundRefusedError(String(url).slice(0, 80), 'not a URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OutboundRefusedError(u.protocol, 'only http and https URLs are allowed');
    if (u.username || u.password) throw new OutboundRefusedError(u.origin, 'URLs with user:password@ are not allowed');
    this.checkRequest(u.origin, `${u.pathname}${u.search}`);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) && prefixesOf(this.allowOf(), u.origin).length === 0) {
      const why = addressRefusal(host, this.allowOf());
      if (why) throw new OutboundRefusedError(u.origin, why);
    }
    return u;
  }

  /**
   * checkUrl plus the name's current addresses: for an early, field-named answer when a member
   * registers a URL. The connection checks again (the name may resolve differently by then).
   */
  async checkUrlResolved(url: string | URL): Promise<URL> {
    const u = this.checkUrl(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host) || prefixesOf(this.allowOf(), u.origin).length) return u;
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = await this.resolve(host);
    } catch {
      return u; // Unresolvable now: the connection will say so (or check whatever it resolves to then).
    }
    for (const a of addresses) {
      const why = addressRefusal(a.address, this.allowOf());
      if (why) throw new OutboundRefusedError(u.origin, `${host} resolves to ${why.replace(/^\S+ is /, `${a.address}, `)}`);
    }
    return u;
  }

  /** Per request (every redirect hop too): the scheme, and the paths of a prefix-listed origin. */
  checkRequest(origin: string, path: string): void {
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      throw new OutboundRefusedError(String(origin).slice(0, 80), 'not a URL');
    }
    if (o.protocol !== 'http:' && o.protocol !== 'https:') throw new OutboundRefusedError(o.protocol, 'only http and https URLs are allowed');
    const prefixes = prefixesOf(this.allowOf(), o.origin);
    if (prefixes.length && !prefixes.some((p) => pathUnder(path, p.path))) {
      throw new OutboundRefusedError(o.origin, `only ${prefixes.map((p) => p.path).join(', ')} may be reached on this allow-listed origin`);
    }
  }

  /** `lookup` for net.connect: resolves, refuses if any address is not allowed, returns exactly the checked addresses. */
  private lookup() {
    return (hostname: string, options: { family?: number | string; all?: boolean }, callback: LookupCallback): void => {
      this.resolve(hostname).then(
        (found) => {
          const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family) || 0;
          const addresses = family ? found.filter((a) => a.family === family) : found;
          if (!addresses.length) {
            const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
            return callback(err, '');
          }
          for (const a of addresses) {
            const why = addressRefusal(a.address, this.allowOf());
            if (why) return callback(new OutboundRefusedError(hostname, `${hostname} resolves to ${why.replace(/^\S+ is /, `${a.address}, `)}`) as NodeJS.ErrnoException, '');
          }
          if (options.all) callback(null, addresses);
          else callback(null, addresses[0]!.address, addresses[0]!.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, ''),
      );
    };
  }

  /** The connector: allow-listed origins connect as configured; every other connection is checked. */
  private connector(): buildConnector.connector {
    const timeout = this.o.connectTimeoutMs ?? 10_000;
    const plain = buildConnector({ timeout });
    const guarded = buildConnector({ timeout, lookup: this.lookup() as never });
    return (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      let origin: string;
      try {
        origin = originOf(opts.protocol, host, opts.port);
      } catch {
        return callback(new OutboundRefusedError(String(opts.hostname), 'not a valid host'), null);
      }
      if (opts.protocol !== 'http:' && opts.protocol !== 'https:') return callback(new OutboundRefusedError(origin, 'only http and https URLs are allowed'), null);
      if (prefixesOf(this.allowOf(), origin).length) return plain(opts, callback);
      if (net.isIP(host)) {
        const why = addressRefusal(host, this.allowOf());
        if (why) return callback(new OutboundRefusedError(origin, why), null);
        return plain(opts, callback);
      }
      return guarded(opts, callback);
    };
  }

  /**
   * The guarded undici dispatcher (one Agent per guard, shared): pass it as `dispatcher` to
   * `request`, OpenStackSession or CloudStackClient.
   */
  get dispatcher(): Dispatcher {
    this.agent ??= new Agent({ connect: this.connector() }).compose((dispatch) => (opts, handler) => {
      this.checkRequest(String(opts.origin), opts.path);
      return dispatch(opts, handler);
    });
    return this.agent;
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }
}
