/**
 * The simulator's in-memory cloud: every mutable record, the request counters, a change signal
 * that background work and Heat wait on, and optional persistence to a JSON state file (written
 * debounced and atomically, read once at start) so a demo survives a restart.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../logger';
import type { FloatingIp, Image, Keypair, Network, Port, Router, SecurityGroup, Server, ServiceName, Stack, Subnet, Token } from './model';
import { Rng, sleep, Stopped } from './util';

export interface RequestStats {
  total: number;
  byService: Record<ServiceName | 'unknown', number>;
  /** `METHOD <route pattern>` → count, e.g. `POST /compute/v2.1/servers`. */
  byRoute: Record<string, number>;
  /** Requests answered by an injected fault or outage instead of the service. */
  faulted: number;
}

interface PersistedState {
  version: 1;
  savedAt: string;
  rng: [number, number, number, number];
  keypairSeq: number;
  tokensIssued: number;
  servers: Server[];
  images: Image[];
  networks: Network[];
  subnets: Subnet[];
  ports: Port[];
  floatingIps: FloatingIp[];
  /** Absent in state files written before routers existed. */
  routers?: Router[];
  securityGroups: SecurityGroup[];
  keypairs: Keypair[];
  stacks: Stack[];
  tokens: Token[];
}

function emptyStats(): RequestStats {
  return { total: 0, byService: { identity: 0, compute: 0, image: 0, orchestration: 0, network: 0, unknown: 0 }, byRoute: {}, faulted: 0 };
}

export class Store extends EventEmitter {
  servers = new Map<string, Server>();
  images = new Map<string, Image>();
  networks = new Map<string, Network>();
  subnets = new Map<string, Subnet>();
  ports = new Map<string, Port>();
  floatingIps = new Map<string, FloatingIp>();
  routers = new Map<string, Router>();
  securityGroups = new Map<string, SecurityGroup>();
  /** Keyed `<userId>/<name>`: key pairs belong to users, not projects. */
  keypairs = new Map<string, Keypair>();
  stacks = new Map<string, Stack>();
  tokens = new Map<string, Token>();
  keypairSeq = 0;
  tokensIssued = 0;
  stats: RequestStats = emptyStats();

  private persistTimer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private dirty = false;

  constructor(
    readonly rng: Rng,
    private readonly stateFile: string | undefined,
    private readonly log: Logger,
    private readonly persistDebounceMs = 250,
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Call after every mutation: wakes waiters and schedules a state-file write. */
  changed(): void {
    this.emit('change');
    if (!this.stateFile) return;
    this.dirty = true;
    this.persistTimer ??= setTimeout(() => {
      this.persistTimer = undefined;
      void this.flush();
    }, this.persistDebounceMs);
  }

  countRequest(service: ServiceName | 'unknown'): void {
    this.stats.total++;
    this.stats.byService[service]++;
  }

  resetStats(): void {
    this.stats = emptyStats();
  }

  countRoute(key: string): void {
    this.stats.byRoute[key] = (this.stats.byRoute[key] ?? 0) + 1;
  }

  /** Resolves when `check` returns a value other than undefined (checked now and on each change). */
  waitFor<T>(check: () => T | undefined, signal: AbortSignal): Promise<T> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    if (signal.aborted) return Promise.reject(new Stopped());
    return new Promise<T>((resolve, reject) => {
      const onChange = () => {
        let v: T | undefined;
        try {
          v = check();
        } catch (err) {
          cleanup();
          reject(err);
          return;
        }
        if (v !== undefined) {
          cleanup();
          resolve(v);
        }
      };
      const onAbort = () => {
        cleanup();
        reject(new Stopped());
      };
      const cleanup = () => {
        this.off('change', onChange);
        signal.removeEventListener('abort', onAbort);
      };
      this.on('change', onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Drops every resource record (tokens and counters stay; the caller re-seeds). */
  clearResources(): void {
    for (const m of [this.servers, this.images, this.networks, this.subnets, this.ports, this.floatingIps, this.routers, this.securityGroups, this.keypairs, this.stacks]) {
      m.clear();
    }
  }

  /** Writes the state file now if anything changed since the last write. */
  async flush(): Promise<void> {
    if (!this.stateFile) return;
    if (this.persistTimer) {
      clearTimeout(this.persistTimer);
      this.persistTimer = undefined;
    }
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const file = this.stateFile;
    const json = JSON.stringify(this.serialize());
    this.writing = (async () => {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await fs.promises.mkdir(path.dirname(file), { recursive: true });
        await fs.promises.writeFile(tmp, json);
        await fs.promises.rename(tmp, file);
      } catch (err) {
        this.log.warn({ err, file }, 'could not write the simulator state file');
      }
    })();
    await this.writing;
    this.writing = undefined;
  }

  /** Reads the state file if it exists; returns false when there was none. */
  load(): boolean {
    if (!this.stateFile || !fs.existsSync(this.stateFile)) return false;
    const raw = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as PersistedState;
    if (raw.version !== 1) throw new Error(`unsupported simulator state file version ${String(raw.version)} in ${this.stateFile}`);
    const fill = <T>(map: Map<string, T>, items: T[], key: (t: T) => string) => {
      map.clear();
      for (const item of items ?? []) map.set(key(item), item);
    };
    fill(this.servers, raw.servers, (s) => s.id);
    fill(this.images, raw.images, (i) => i.id);
    fill(this.networks, raw.networks, (n) => n.id);
    fill(this.subnets, raw.subnets, (s) => s.id);
    fill(this.ports, raw.ports, (p) => p.id);
    fill(this.floatingIps, raw.floatingIps, (f) => f.id);
    fill(this.routers, raw.routers ?? [], (r) => r.id);
    fill(this.securityGroups, raw.securityGroups, (g) => g.id);
    fill(this.keypairs, raw.keypairs, (k) => `${k.userId}/${k.name}`);
    fill(this.stacks, raw.stacks, (s) => s.id);
    fill(this.tokens, raw.tokens, (t) => t.id);
    this.keypairSeq = raw.keypairSeq ?? 0;
    this.tokensIssued = raw.tokensIssued ?? this.tokens.size;
    if (raw.rng) this.rng.restore(raw.rng);
    return true;
  }

  private serialize(): PersistedState {
    const now = Date.now();
    return {
      version: 1,
      savedAt: new Date(now).toISOString(),
      rng: this.rng.state,
      keypairSeq: this.keypairSeq,
      tokensIssued: this.tokensIssued,
      servers: [...this.servers.values()],
      images: [...this.images.values()],
      networks: [...this.networks.values()],
      subnets: [...this.subnets.values()],
      ports: [...this.ports.values()],
      floatingIps: [...this.floatingIps.values()],
      routers: [...this.routers.values()],
      securityGroups: [...this.securityGroups.values()],
      keypairs: [...this.keypairs.values()],
      stacks: [...this.stacks.values()],
      tokens: [...this.tokens.values()].filter((t) => t.expiresAt > now && !t.revoked),
    };
  }

  async close(): Promise<void> {
    await this.flush();
    this.removeAllListeners();
  }
}

/**
 * Background work of the simulated cloud (builds, snapshots, imports, stack operations). Every
 * task sleeps through the clock, so stop() and reset() end them all at once.
 *
 * The clock's signal lives as long as the simulator, and hundreds of tasks run at once (a
 * benchmark builds 250 servers together): nothing here adds a listener to it per task or per
 * sleep. Work that must stop with the clock gets its own controller from link(), which the clock
 * aborts on stop and forgets on release(), so the count of what it holds follows the work in
 * flight and drops to zero when the work ends.
 */
export class Clock {
  private controller = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private readonly linked = new Set<AbortController>();

  constructor(private readonly log: Logger) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** A controller aborted when the clock stops or restarts; release() it when the work ends. */
  link(): AbortController {
    const ac = new AbortController();
    if (this.signal.aborted) ac.abort();
    else this.linked.add(ac);
    return ac;
  }

  release(ac: AbortController): void {
    this.linked.delete(ac);
  }

  /** Controllers linked and not yet released (for tests). */
  get linkedCount(): number {
    return this.linked.size;
  }

  /** Sleeps `ms`; rejects with Stopped when `signal` aborts (by default: when the clock stops). */
  async sleep(ms: number, signal: AbortSignal = this.signal): Promise<void> {
    if (signal !== this.signal) return sleep(ms, signal);
    const ac = this.link();
    try {
      await sleep(ms, ac.signal);
    } finally {
      this.release(ac);
    }
  }

  /** Runs `fn` in the background; Stopped is the normal way out, anything else is logged. */
  spawn(name: string, fn: (signal: AbortSignal) => Promise<void>): void {
    const signal = this.signal;
    const p: Promise<void> = fn(signal)
      .catch((err) => {
        if (err instanceof Stopped || signal.aborted) return;
        this.log.error({ err, task: name }, 'simulator background task failed');
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Cancels every background task (used by reset) and starts a fresh generation. */
  async restart(): Promise<void> {
    this.abortAll();
    await Promise.allSettled([...this.running]);
    this.controller = new AbortController();
  }

  async stop(): Promise<void> {
    this.abortAll();
    await Promise.allSettled([...this.running]);
  }

  private abortAll(): void {
    this.controller.abort();
    for (const ac of this.linked) ac.abort();
    this.linked.clear();
  }
}
