/**
 * The fixed part of the simulated cloud: accounts, one Advanced zone, service offerings, OS types,
 * a guest network per account and the featured templates. Ids derive from the seed, so they are
 * the same after a restart (a state file refers to them) and differ between seeds.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Account, Network, NetworkOffering, OsType, ServiceOffering, SimAccountSpec, Template, Zone } from './model';

/**
 * The demo account's credentials. Fixed so a demo, the README and CloudMonkey profiles can name
 * them; they only open this simulator.
 */
export const DEMO_ACCOUNT: SimAccountSpec = {
  name: 'demo',
  apiKey: 'PbA8LbQTT2E28uMDiF18JmPrAk5UtLlaZw49kp4DTmNR2rPSlHBb3h6j7SWS5ZBw5Jy-RvJhFP8PdD1syGg-IQ',
  secretKey: 'zkVU2BBlFi2i5fnKjePvFmvCuyzaotT45Wio_JSr0KRZPgkoxeFs7VwS8E4Fsuv-Fu55Ny5UzROOrVTZXiiIzw',
};

export const ADMIN_ACCOUNT: SimAccountSpec = {
  name: 'admin',
  apiKey: 'OTK8_tx1dgETh0ii1gzkWmCewgQast6Gsuh26-JV6RMq-PEvaZ9Po08PQqDnPdDlK7rMjDxrP_wKZ_wmmD90dA',
  secretKey: '71zlax5PLta1ceGZF9983r4XaokhmAFhvNhM_3WxX--clR8rDJyu5cyHz4cXmVarByO2sttwaEah1zwoyfBPoQ',
  admin: true,
};

/** Owner of the featured templates (CloudStack's `system` account). */
export const SYSTEM_ACCOUNT_ID_KEY = 'account:system';

export const DOMAIN = { id: '', name: 'ROOT' };

/** A UUID derived from the seed and a key (v4-shaped so clients that check the format accept it). */
export function seededUuid(seed: number, key: string): string {
  const h = crypto.createHash('sha256').update(`${seed}:${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A fixed instant for seeded records, so their `created` does not change between restarts. */
const SEED_CREATED = Date.UTC(2025, 0, 6, 9, 0, 0);

export interface SeedInfra {
  domainId: string;
  systemAccountId: string;
  accounts: Account[];
  zone: Zone;
  offerings: ServiceOffering[];
  osTypes: OsType[];
  networks: Network[];
  networkOfferings: NetworkOffering[];
}

export function buildInfra(seed: number, specs: SimAccountSpec[]): SeedInfra {
  const byName = new Map<string, SimAccountSpec>();
  for (const s of [DEMO_ACCOUNT, ADMIN_ACCOUNT, ...specs]) byName.set(s.name, s);
  const accounts: Account[] = [...byName.values()].map((s, i) => ({
    id: seededUuid(seed, `account:${s.name}`),
    userId: seededUuid(seed, `user:${s.name}`),
    name: s.name,
    admin: !!s.admin,
    apiKey: s.apiKey,
    secretKey: s.secretKey,
    vmLimit: s.vmLimit ?? (s.admin ? undefined : 20),
    index: i + 1,
  }));
  const keys = new Set<string>();
  for (const a of accounts) {
    if (keys.has(a.apiKey)) throw new Error(`two simulator accounts share the apiKey of "${a.name}"`);
    keys.add(a.apiKey);
  }
  const zone: Zone = { id: seededUuid(seed, 'zone:1'), name: 'sim-zone-1' };
  const offering = (name: string, cpunumber: number, cpuspeed: number, memory: number): ServiceOffering => ({
    id: seededUuid(seed, `offering:${name}`),
    name,
    displaytext: `${name}: ${cpunumber} vCPU, ${cpuspeed} MHz, ${memory} MiB`,
    cpunumber,
    cpuspeed,
    memory,
    created: SEED_CREATED,
  });
  const linux = seededUuid(seed, 'oscategory:linux');
  const osType = (description: string): OsType => ({ id: seededUuid(seed, `ostype:${description}`), description, oscategoryid: linux });
  return {
    domainId: seededUuid(seed, 'domain:ROOT'),
    systemAccountId: seededUuid(seed, SYSTEM_ACCOUNT_ID_KEY),
    accounts,
    zone,
    // Named like CloudStack's stock "Small Instance"/"Medium Instance" offerings (and vmflow's catalog).
    offerings: [
      offering('Small Instance', 1, 1000, 2048),
      offering('Medium Instance', 2, 2000, 4096),
      offering('Large Instance', 4, 2000, 8192),
      offering('Extra Large Instance', 8, 2000, 16384),
    ],
    osTypes: ['Ubuntu 24.04 LTS', 'Ubuntu 22.04 LTS', 'CentOS Stream 9', 'Fedora Linux 41', 'Other Linux (64-bit)', 'Other (64-bit)'].map(osType),
    networks: accounts.map((a) => ({
      id: seededUuid(seed, `network:${a.name}`),
      name: `${a.name}-network`,
      accountId: a.id,
      zoneId: zone.id,
      prefix: `10.1.${a.index}`,
      created: SEED_CREATED,
    })),
    // CloudStack's stock offerings: isolated networks with a virtual router doing source NAT
    // (what createNetwork serves here), and the shared one (admin-only, VLAN and IP range given).
    networkOfferings: [
      {
        id: seededUuid(seed, 'networkoffering:DefaultIsolatedNetworkOfferingWithSourceNatService'),
        name: 'DefaultIsolatedNetworkOfferingWithSourceNatService',
        displaytext: 'Offering for Isolated networks with Source Nat service enabled',
        guestiptype: 'Isolated',
        isdefault: true,
        specifyvlan: false,
        specifyipranges: false,
        services: ['Dhcp', 'Dns', 'Firewall', 'Lb', 'PortForwarding', 'SourceNat', 'StaticNat', 'UserData', 'Vpn'].map((name) => ({ name, provider: 'VirtualRouter' })),
        created: SEED_CREATED,
      },
      {
        id: seededUuid(seed, 'networkoffering:DefaultSharedNetworkOffering'),
        name: 'DefaultSharedNetworkOffering',
        displaytext: 'Offering for Shared networks',
        guestiptype: 'Shared',
        isdefault: true,
        specifyvlan: true,
        specifyipranges: true,
        services: ['Dhcp', 'Dns', 'UserData'].map((name) => ({ name, provider: 'VirtualRouter' })),
        created: SEED_CREATED,
      },
    ],
  };
}

const GiB = 1024 ** 3;

/** Featured public templates every account can deploy, with small placeholder image files. */
export function seedTemplates(seed: number, infra: SeedInfra, dataDir: string): Template[] {
  const os = (d: string) => infra.osTypes.find((o) => o.description === d)!.id;
  const defs: Array<[string, string, string, number]> = [
    ['Ubuntu 24.04 LTS', 'Ubuntu 24.04 LTS (Noble Numbat) cloud image', 'Ubuntu 24.04 LTS', 3.5 * GiB],
    ['Ubuntu 22.04 LTS', 'Ubuntu 22.04 LTS (Jammy Jellyfish) cloud image', 'Ubuntu 22.04 LTS', 2.2 * GiB],
    ['CentOS Stream 9', 'CentOS Stream 9 GenericCloud image', 'CentOS Stream 9', 10 * GiB],
    ['Fedora 41', 'Fedora Cloud Base 41', 'Fedora Linux 41', 5 * GiB],
  ];
  return defs.map(([name, displaytext, osName, virtualSize]) => {
    const id = seededUuid(seed, `template:${name}`);
    const file = path.join('templates', `${id}.qcow2`);
    const physical = writePlaceholderImage(path.join(dataDir, file), virtualSize, `${seed}:${name}`);
    return {
      id,
      name,
      displaytext,
      accountId: infra.systemAccountId,
      zoneId: infra.zone.id,
      ostypeId: os(osName),
      format: 'QCOW2',
      hypervisor: 'KVM',
      ispublic: true,
      isfeatured: true,
      isextractable: true,
      passwordenabled: false,
      isready: true,
      status: 'Download Complete',
      size: virtualSize,
      physicalsize: physical,
      templatetype: 'BUILTIN',
      origin: 'seed',
      created: SEED_CREATED,
      file,
    } satisfies Template;
  });
}

/**
 * A 64 KiB stand-in for a cloud image: a qcow2 header announcing `virtualSize`, then deterministic
 * filler. Enough for the byte-for-byte export path; it does not boot anything.
 */
function writePlaceholderImage(file: string, virtualSize: number, key: string): number {
  const size = 64 * 1024;
  if (fs.existsSync(file) && fs.statSync(file).size === size) return size;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const buf = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update(key).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(buf, off);
    block = crypto.createHash('sha256').update(block).digest();
  }
  buf.writeUInt32BE(0x514649fb, 0); // "QFI\xfb"
  buf.writeUInt32BE(3, 4); // version
  buf.writeBigUInt64BE(0n, 8); // backing file offset
  buf.writeUInt32BE(0, 16); // backing file name length
  buf.writeUInt32BE(16, 20); // cluster bits
  buf.writeBigUInt64BE(BigInt(Math.round(virtualSize)), 24);
  fs.writeFileSync(file, buf);
  return size;
}

/** Virtual size from a qcow2 header, or undefined when the file is not qcow2. */
export function qcow2VirtualSize(file: string): number | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(32);
    if (fs.readSync(fd, head, 0, 32, 0) < 32 || head.readUInt32BE(0) !== 0x514649fb) return undefined;
    return Number(head.readBigUInt64BE(24));
  } finally {
    fs.closeSync(fd);
  }
}
