/**
 * Guest health checks (issue 17, item 1): the seed's first disaster — "the VM itself breaks (an
 * attack, a failed update)" — usually leaves the server ACTIVE in Nova, so the cloud's status alone
 * never sees it. A protected VM may declare a check of its service: a TCP connect, or an HTTP(S)
 * GET of a path, on the VM's address. The cloud monitor runs every check of an account in one
 * batched step of its probe (activities/guest-probe.ts) and a VM that fails its check is handled
 * like a broken server (workflows/lib/health.ts: the same counters, the VM's own thresholds).
 *
 * This module is the pure part: the declared check (API schema, defaults), where a check connects
 * (the VM's address, rewritten by the operator's VMFLOW_GUEST_ADDRESS_MAP), and which addresses
 * may be connected to at all. No I/O.
 *
 * Why a check must have passed once on a server before it can fail it ("armed"): a check declared
 * with a wrong port, or a service that takes minutes to boot on a standby just started, would
 * otherwise fail the VM over again and again. A check that never passed is shown as such
 * (GET /vms/:id/dr) and changes nothing.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { addressRefusal, type AllowEntry } from '../outbound/guard';

export const GUEST_PROTOCOLS = ['tcp', 'http', 'https'] as const;

export const guestHealthCheckSchema = z
  .strictObject({
    protocol: z.enum(GUEST_PROTOCOLS).meta({ description: 'tcp: the port accepts a connection; http/https: GET of `path` answers 2xx or 3xx (https does not verify the certificate: guests often use self-signed ones).' }),
    port: z.number().int().min(1).max(65535),
    path: z
      .string()
      .max(200)
      .regex(/^\/[\x21-\x7e]*$/, 'must start with / and contain no spaces or control characters')
      .optional()
      .meta({ description: 'http/https only; default /.' }),
    intervalSeconds: z.number().int().min(5).max(3600).optional().meta({ description: 'At least this long between two checks of this VM (default 30); the monitor interval is the floor.' }),
    timeoutSeconds: z.number().int().min(1).max(10).optional().meta({ description: 'Default 3.' }),
    failureThreshold: z.number().int().min(1).max(10).optional().meta({ description: 'Consecutive failed checks before the VM counts as broken (default 3).' }),
    successThreshold: z.number().int().min(1).max(10).optional().meta({ description: 'Consecutive good checks before a broken VM counts as healthy again (default 2).' }),
  })
  .superRefine((c, ctx) => {
    if (c.protocol === 'tcp' && c.path !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'only for http or https checks' });
  })
  .meta({ id: 'GuestHealthCheck', description: 'A check of the service inside the VM. It must pass once on a server before a failure counts.' });

export type GuestHealthCheck = z.infer<typeof guestHealthCheckSchema>;

export const GUEST_CHECK_DEFAULTS = { intervalSeconds: 30, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 2, path: '/' } as const;

/** Status a VM is reported with when its guest check fails (its server is ACTIVE). */
export const GUEST_FAILED_STATUS = 'GUEST_FAILED';

// ---- where a check connects ------------------------------------------------------------------

export interface AddressMapEntry {
  from: [ipaddr.IPv4 | ipaddr.IPv6, number];
  to: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

/**
 * VMFLOW_GUEST_ADDRESS_MAP: `from-cidr=to-cidr[,…]`, same family and prefix length; an address in
 * `from` is reached at the address with the same host bits in `to`. Empty (the default, and what a
 * real cloud needs): every address is reached as it is. The simulators serve each guest on
 * loopback, so a test or `npm start` maps their private range there: `10.0.0.0/8=127.0.0.0/8`.
 */
export function parseGuestAddressMap(text: string | undefined): AddressMapEntry[] {
  if (!text || !text.trim()) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((pair) => {
      const [from, to, extra] = pair.split('=');
      if (!from || !to || extra !== undefined) throw new Error(`"${pair}" is not from-cidr=to-cidr`);
      let a: [ipaddr.IPv4 | ipaddr.IPv6, number];
      let b: [ipaddr.IPv4 | ipaddr.IPv6, number];
      try {
        a = ipaddr.parseCIDR(from.trim());
        b = ipaddr.parseCIDR(to.trim());
      } catch {
        throw new Error(`"${pair}": both sides must be CIDRs (10.0.0.0/8=127.0.0.0/8)`);
      }
      if (a[0].kind() !== b[0].kind() || a[1] !== b[1]) throw new Error(`"${pair}": both sides must be of one family and one prefix length`);
      return { from: a, to: b };
    });
}

/** The address a guest at `address` is reached at; undefined when a map is set and no entry covers it. */
export function mapGuestAddress(address: string, map: readonly AddressMapEntry[]): string | undefined {
  if (!map.length) return address;
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    a = ipaddr.parse(address);
  } catch {
    return undefined;
  }
  for (const e of map) {
    if (a.kind() !== e.from[0].kind() || !a.match(e.from)) continue;
    const bytes = a.toByteArray();
    const to = e.to[0].toByteArray();
    const bits = e.from[1];
    const out = bytes.map((byte, i) => {
      const keep = Math.max(0, Math.min(8, bits - i * 8)); // network bits of this byte come from `to`
      const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
      return (to[i] & mask) | (byte & ~mask & 0xff);
    });
    return ipaddr.fromByteArray(out).toString();
  }
  return undefined;
}

type NovaAddress = { addr?: string; version?: number; 'OS-EXT-IPS:type'?: string };

/**
 * The address of a server a guest check connects to: a floating address first (what reaches the
 * VM from outside its network), then the first fixed one; IPv4 before IPv6. With an address map,
 * only addresses the map covers count (the rest cannot be reached from here).
 */
export function guestAddressOf(addresses: Record<string, NovaAddress[]> | undefined, map: readonly AddressMapEntry[]): { address: string; target: string } | undefined {
  const all = Object.values(addresses ?? {}).flat().filter((a): a is NovaAddress & { addr: string } => typeof a.addr === 'string');
  const rank = (a: NovaAddress) => (a['OS-EXT-IPS:type'] === 'floating' ? 0 : 2) + (a.version === 6 ? 1 : 0);
  for (const a of [...all].sort((x, y) => rank(x) - rank(y))) {
    const target = mapGuestAddress(a.addr, map);
    if (target) return { address: a.addr, target };
  }
  return undefined;
}

/** Ranges a guest check never connects to, whoever owns the cloud: the metadata service and other link-local, multicast, unspecified, broadcast. */
const NEVER = new Set(['linkLocal', 'multicast', 'unspecified', 'broadcast', 'reserved']);

/**
 * Why a guest check may not connect to a VM's `address` (before mapping), or undefined when it
 * may. A member's cloud reports whatever addresses it likes, so a member account's VM is held to
 * the outbound guard (public unicast, or a CIDR the operator allow-listed with
 * VMFLOW_OUTBOUND_ALLOW: a check is a connection the worker makes for the member); the operator's
 * own cloud is trusted with its private ranges, but never with link-local (metadata) and the like.
 */
export function guestAddressRefusal(address: string, scope: 'operator' | 'user', allow: readonly AllowEntry[]): string | undefined {
  if (scope === 'user') return addressRefusal(address, allow);
  let range: string;
  try {
    const parsed = ipaddr.process(address);
    range = parsed.range();
  } catch {
    return `"${address}" is not an IP address`;
  }
  return NEVER.has(range) ? `${address} is a ${range} address` : undefined;
}
