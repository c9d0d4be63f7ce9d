/**
 * The simulated Nova's domain logic: flavors, quotas, key pairs and the server life cycle with
 * Nova's vm_state/task_state machine (BUILD → ACTIVE, stop/start, soft and hard reboot,
 * snapshot, resize, delete), the 409s Nova gives for actions in the wrong state, and the
 * admin-side breakage (error, shutoff, gone, failing builds). nova.ts is its HTTP face; Heat
 * calls it directly.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Cloud } from './cloud';
import { ApiError, badRequest, conflict, forbidden, notFound } from './errors';
import type { AuthContext, Flavor, Keypair, Port, Server, VmState } from './model';
import { isPlainObject } from './util';

export const FLAVORS: Flavor[] = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, swap: 0, ephemeral: 0, isPublic: true, description: null },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20, swap: 0, ephemeral: 0, isPublic: true, description: null },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40, swap: 0, ephemeral: 0, isPublic: true, description: null },
  { id: '4', name: 'm1.large', ram: 8192, vcpus: 4, disk: 80, swap: 0, ephemeral: 0, isPublic: true, description: null },
  { id: '5', name: 'm1.xlarge', ram: 16384, vcpus: 8, disk: 160, swap: 0, ephemeral: 0, isPublic: true, description: null },
];

export interface ComputeQuota {
  instances: number;
  cores: number;
  ram: number;
  key_pairs: number;
  metadata_items: number;
}

export const DEFAULT_QUOTA: ComputeQuota = { instances: 10, cores: 20, ram: 51200, key_pairs: 100, metadata_items: 128 };

export const POWER = { NOSTATE: 0, RUNNING: 1, SHUTDOWN: 4 } as const;

export type NetworkRequest = 'auto' | 'none' | { uuid?: string; port?: string; fixed_ip?: string }[];

export interface CreateServerRequest {
  name: string;
  flavorRef: string;
  imageRef: string;
  networks?: NetworkRequest;
  keyName?: string | null;
  userData?: string | null;
  metadata?: Record<string, string>;
  securityGroups?: string[];
  availabilityZone?: string;
  description?: string | null;
  tags?: string[];
}

export interface BuildFailure {
  remaining: number;
  namePattern?: string;
  message: string;
}

export type BreakMode = 'error' | 'shutoff' | 'gone' | 'guest';

const generateKeyPair = promisify(crypto.generateKeyPair);

/** Nova's status from vm_state and task_state (nova/api/openstack/common.py _STATE_MAP). */
export function serverStatus(s: Server): string {
  const t = s.taskState ?? '';
  switch (s.vmState) {
    case 'building':
      return 'BUILD';
    case 'active':
      if (['rebooting', 'reboot_pending', 'reboot_started'].includes(t)) return 'REBOOT';
      if (['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'].includes(t)) return 'HARD_REBOOT';
      if (t === 'resize_reverting') return 'REVERT_RESIZE';
      if (t.startsWith('resize_')) return 'RESIZE';
      return 'ACTIVE';
    case 'stopped':
      if (['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'].includes(t)) return 'HARD_REBOOT';
      if (t.startsWith('resize_') && t !== 'resize_reverting') return 'RESIZE';
      return 'SHUTOFF';
    case 'resized':
      return t === 'resize_reverting' ? 'REVERT_RESIZE' : 'VERIFY_RESIZE';
    case 'error':
      return 'ERROR';
  }
}

/** Nova's message for an action refused in the current state. */
function stateConflict(action: string, s: Server): ApiError {
  if (s.taskState) return conflict(`Cannot '${action}' instance ${s.id} while it is in task_state ${s.taskState}`);
  return conflict(`Cannot '${action}' instance ${s.id} while it is in vm_state ${s.vmState}`);
}

/** OpenSSH wire-format helpers for generated RSA key pairs. */
function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}
function sshMpint(b: Buffer): Buffer {
  let v = b;
  while (v.length > 1 && v[0] === 0 && (v[1] & 0x80) === 0) v = v.subarray(1);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

export function fingerprintOf(publicKey: string): string | undefined {
  const parts = publicKey.trim().split(/\s+/);
  if (parts.length < 2) return undefined;
  const known = ['ssh-rsa', 'ssh-ed25519', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'];
  if (!known.includes(parts[0]) || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1])) return undefined;
  const blob = Buffer.from(parts[1], 'base64');
  if (blob.length < 8) return undefined;
  const typeLen = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + typeLen).toString('latin1') !== parts[0]) return undefined;
  const md5 = crypto.createHash('md5').update(blob).digest('hex');
  return md5.match(/../g)!.join(':');
}

export class ComputeEngine {
  readonly quotas = new Map<string, Partial<ComputeQuota>>();
  buildFailures: BuildFailure[] = [];

  constructor(private readonly cloud: Cloud) {}

  private get store() {
    return this.cloud.store;
  }

  private get timings() {
    return this.cloud.timings;
  }

  flavor(id: string): Flavor | undefined {
    return FLAVORS.find((f) => f.id === id);
  }

  /** A flavor by id, or by name (Heat and the CLI name them). */
  findFlavor(ref: string): Flavor | undefined {
    return this.flavor(ref) ?? FLAVORS.find((f) => f.name === ref);
  }

  quota(projectId: string): ComputeQuota {
    return { ...DEFAULT_QUOTA, ...(this.quotas.get(projectId) ?? {}) };
  }

  usage(projectId: string): { instances: number; cores: number; ram: number } {
    let instances = 0;
    let cores = 0;
    let ram = 0;
    for (const s of this.store.servers.values()) {
      if (s.projectId !== projectId) continue;
      const f = this.flavor(s.flavorId);
      instances++;
      cores += f?.vcpus ?? 0;
      ram += f?.ram ?? 0;
    }
    return { instances, cores, ram };
  }

  private checkQuota(projectId: string, want: { instances: number; cores: number; ram: number }): void {
    const q = this.quota(projectId);
    const used = this.usage(projectId);
    for (const k of ['instances', 'cores', 'ram'] as const) {
      if (want[k] > 0 && used[k] + want[k] > q[k]) {
        throw forbidden(`Quota exceeded for ${k}: Requested ${want[k]}, but already used ${used[k]} of ${q[k]} ${k}`);
      }
    }
  }

  /** The server if the caller may see it (own project, or admin); 404 otherwise. */
  get(auth: AuthContext, id: string): Server {
    const s = this.store.servers.get(id);
    if (!s || (!auth.isAdmin && s.projectId !== auth.projectId)) throw notFound(`Instance ${id} could not be found.`);
    return s;
  }

  private touch(s: Server): void {
    s.updatedAt = Date.now();
    this.store.changed();
    this.cloud.guests?.sync(s, this.store.servers.get(s.id) === s);
  }

  /** Runs task-state steps in the background, then `done`, unless a newer transition took over. */
  private transition(s: Server, steps: { task: string | null; ms: number }[], done: (s: Server) => void): void {
    const gen = ++s.generation;
    const current = () => this.store.servers.get(s.id) === s && s.generation === gen;
    this.cloud.clock.spawn(`server ${s.id}`, async (signal) => {
      for (const step of steps) {
        if (!current()) return;
        s.taskState = step.task;
        this.touch(s);
        await this.cloud.clock.sleep(step.ms, signal);
      }
      if (!current()) return;
      done(s);
      this.touch(s);
    });
  }

  async create(auth: AuthContext, req: CreateServerRequest): Promise<{ server: Server; adminPass: string }> {
    const flavor = this.findFlavorStrict(req.flavorRef);
    const imageId = req.imageRef.includes('/') ? req.imageRef.slice(req.imageRef.lastIndexOf('/') + 1) : req.imageRef;
    const image = this.store.images.get(imageId);
    if (!image || !this.cloud.images.canSee(auth, image)) throw badRequest(`Image ${req.imageRef} could not be found.`);
    if (image.status !== 'active') throw badRequest(`Image ${req.imageRef} is not active.`);
    if (image.minRam > flavor.ram) throw badRequest("Flavor's memory is too small for requested image.");
    if (image.minDisk > flavor.disk) throw badRequest("Flavor's disk is too small for requested image.");
    if ((image.size ?? 0) > flavor.disk * 1024 ** 3) {
      throw badRequest(`Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, image is ${image.size} bytes.`);
    }
    if (req.keyName && !this.store.keypairs.has(`${auth.userId}/${req.keyName}`)) throw badRequest('Invalid key_name provided.');
    const metadata = req.metadata ?? {};
    if (Object.keys(metadata).length > this.quota(auth.projectId).metadata_items) throw forbidden('Quota exceeded for metadata_items');
    const sgNames = req.securityGroups ?? ['default'];
    try {
      this.cloud.network.resolveSecurityGroups(auth.projectId, sgNames);
    } catch {
      throw badRequest(`Unable to find security_group with name or id '${sgNames.join(', ')}'`);
    }
    this.checkQuota(auth.projectId, { instances: 1, cores: flavor.vcpus, ram: flavor.ram });

    const now = Date.now();
    const server: Server = {
      id: this.cloud.rng.uuid(),
      name: req.name,
      projectId: auth.projectId,
      userId: auth.userId,
      flavorId: flavor.id,
      imageId: image.id,
      keyName: req.keyName ?? null,
      metadata: { ...metadata },
      userData: req.userData ?? null,
      description: req.description ?? null,
      tags: req.tags ?? [],
      securityGroups: sgNames,
      availabilityZone: req.availabilityZone ?? 'nova',
      vmState: 'building',
      taskState: 'scheduling',
      powerState: POWER.NOSTATE,
      progress: 0,
      createdAt: now,
      updatedAt: now,
      launchedAt: null,
      portIds: [],
      ownedPortIds: [],
      generation: 0,
    };
    this.attachNetworks(auth, server, req.networks ?? 'auto');
    this.store.servers.set(server.id, server);
    this.store.changed();
    this.build(server);
    return { server, adminPass: this.cloud.rng.bytes(9).toString('base64').replace(/[+/=]/g, 'x') };
  }

  /** flavorRef is an id or a flavor URL (Nova takes the last path segment). */
  private findFlavorStrict(ref: string): Flavor {
    const f = this.flavor(ref.includes('/') ? ref.slice(ref.lastIndexOf('/') + 1) : ref);
    if (!f) throw badRequest(`Flavor ${ref} could not be found.`);
    return f;
  }

  /** Allocates or binds the requested ports; on any failure releases what it took. */
  private attachNetworks(auth: AuthContext, server: Server, networks: NetworkRequest): void {
    const net = this.cloud.network;
    const made: Port[] = [];
    const bound: Port[] = [];
    try {
      if (networks === 'none') return;
      const requests = networks === 'auto' ? [{ uuid: undefined as string | undefined, port: undefined as string | undefined, fixed_ip: undefined as string | undefined }] : networks;
      const sgIds = net.resolveSecurityGroups(auth.projectId, server.securityGroups);
      for (const r of requests) {
        if (r.port) {
          const port = this.store.ports.get(r.port);
          if (!port || (!auth.isAdmin && port.projectId !== auth.projectId)) throw badRequest(`Port ${r.port} could not be found.`);
          if (port.deviceId) throw conflict(`Port ${r.port} is still in use.`);
          net.bindPort(port, server);
          bound.push(port);
          server.portIds.push(port.id);
          continue;
        }
        let networkId = r.uuid;
        if (!networkId) {
          const auto = net.autoNetwork(auth);
          if (!auto) throw badRequest(`Unable to automatically allocate a network for project ${auth.projectId}`);
          networkId = auto.id;
        }
        const network = this.store.networks.get(networkId);
        if (!network || !net.canSeeNetwork(auth, network)) throw badRequest(`Network ${networkId} could not be found.`);
        if (!network.subnetIds.length) throw badRequest(`Network ${network.id} requires a subnet in order to boot instances on.`);
        let port: Port;
        try {
          port = net.createPort(auth.projectId, {
            networkId: network.id,
            fixedIps: r.fixed_ip ? [{ ipAddress: r.fixed_ip }] : undefined,
            securityGroupIds: network.external ? [] : sgIds,
          });
        } catch (err) {
          if (err instanceof ApiError && err.status === 409 && r.fixed_ip) throw badRequest(`Fixed IP address ${r.fixed_ip} is already in use on instance`);
          if (err instanceof ApiError && err.status === 409) throw conflict(`No more IP addresses available on network ${network.id}.`);
          if (err instanceof ApiError) throw badRequest(err.message);
          throw err;
        }
        net.bindPort(port, server);
        made.push(port);
        server.portIds.push(port.id);
        server.ownedPortIds.push(port.id);
      }
    } catch (err) {
      for (const p of made) this.store.ports.delete(p.id);
      for (const p of bound) net.unbindPort(p);
      server.portIds = [];
      server.ownedPortIds = [];
      throw err;
    }
  }

  private matchingBuildFailure(server: Server): BuildFailure | undefined {
    const f = this.buildFailures.find((b) => b.remaining > 0 && (!b.namePattern || new RegExp(b.namePattern).test(server.name)));
    if (!f) return undefined;
    f.remaining--;
    this.buildFailures = this.buildFailures.filter((b) => b.remaining > 0);
    return f;
  }

  private build(server: Server): void {
    const t = this.timings.serverBuildMs;
    const failure = this.matchingBuildFailure(server);
    const steps = [
      { task: 'scheduling', ms: t * 0.15 },
      { task: 'networking', ms: t * 0.15 },
      { task: 'spawning', ms: t * 0.7 },
    ];
    this.transition(server, failure ? steps.slice(0, 1) : steps, (s) => {
      if (failure) {
        this.fail(s, { code: 500, message: failure.message, details: 'Traceback (most recent call last):\n  ...\nnova.exception.NoValidHost' });
        this.releasePorts(s);
        return;
      }
      s.vmState = 'active';
      s.taskState = null;
      s.powerState = POWER.RUNNING;
      s.progress = 100;
      s.launchedAt = Date.now();
      this.cloud.network.setPortsStatus(s, 'ACTIVE');
    });
  }

  private fail(s: Server, fault: { code: number; message: string; details?: string }): void {
    s.vmState = 'error';
    s.taskState = null;
    s.powerState = POWER.NOSTATE;
    s.fault = { ...fault, created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  /** Nova's network deallocation: its own ports go, ports the user passed in are unbound. */
  private releasePorts(s: Server): void {
    for (const id of s.portIds) {
      const port = this.store.ports.get(id);
      if (!port) continue;
      if (s.ownedPortIds.includes(id)) this.cloud.network.deletePort(id);
      else this.cloud.network.unbindPort(port);
    }
    s.portIds = [];
    s.ownedPortIds = [];
    this.store.changed();
  }

  delete(auth: AuthContext, id: string): void {
    const s = this.get(auth, id);
    if (s.deleting) return;
    s.deleting = true;
    this.transition(s, [{ task: 'deleting', ms: this.timings.serverDeleteMs }], (x) => this.purge(x));
  }

  /** Removes the server record at once (end of the deleting phase, or "gone"). */
  purge(s: Server): void {
    s.generation++;
    this.cloud.guests?.remove(s.id);
    this.releasePorts(s);
    this.store.servers.delete(s.id);
    this.store.changed();
  }

  private assertIdle(action: string, s: Server, vmStates: VmState[]): void {
    if (s.deleting || s.taskState) throw stateConflict(action, s);
    if (!vmStates.includes(s.vmState)) throw stateConflict(action, s);
  }

  stop(auth: AuthContext, id: string): void {
    const s = this.get(auth, id);
    this.assertIdle('stop', s, ['active', 'error']);
    this.transition(s, [{ task: 'powering-off', ms: this.timings.serverStopMs }], (x) => {
      x.vmState = 'stopped';
      x.taskState = null;
      x.powerState = POWER.SHUTDOWN;
    });
  }

  start(auth: AuthContext, id: string): void {
    const s = this.get(auth, id);
    this.assertIdle('start', s, ['stopped']);
    this.transition(s, [{ task: 'powering-on', ms: this.timings.serverStartMs }], (x) => {
      x.vmState = 'active';
      x.taskState = null;
      x.powerState = POWER.RUNNING;
    });
  }

  reboot(auth: AuthContext, id: string, type: 'SOFT' | 'HARD'): void {
    const s = this.get(auth, id);
    if (type === 'SOFT') {
      this.assertIdle('reboot', s, ['active']);
      const t = this.timings.serverRebootMs / 3;
      this.transition(
        s,
        [
          { task: 'rebooting', ms: t },
          { task: 'reboot_pending', ms: t },
          { task: 'reboot_started', ms: t },
        ],
        (x) => {
          x.taskState = null;
        },
      );
      return;
    }
    this.assertIdle('reboot', s, ['active', 'stopped', 'error']);
    const t = this.timings.serverHardRebootMs / 3;
    this.transition(
      s,
      [
        { task: 'rebooting_hard', ms: t },
        { task: 'reboot_pending_hard', ms: t },
        { task: 'reboot_started_hard', ms: t },
      ],
      (x) => {
        x.vmState = 'active';
        x.taskState = null;
        x.powerState = POWER.RUNNING;
        delete x.fault;
      },
    );
  }

  /** createImage: the image is queued at once; the task states and the upload follow. */
  createImage(auth: AuthContext, id: string, name: string, metadata: Record<string, string>): string {
    const s = this.get(auth, id);
    this.assertIdle('createImage', s, ['active', 'stopped']);
    const image = this.cloud.images.createSnapshot(s, name, metadata, auth);
    const gen = ++s.generation;
    const current = () => this.store.servers.get(s.id) === s && s.generation === gen;
    const setTask = (task: string | null) => {
      s.taskState = task;
      this.touch(s);
    };
    setTask('image_snapshot');
    this.cloud.clock.spawn(`snapshot ${image.id}`, async (signal) => {
      const ok = await (async () => {
        await this.cloud.clock.sleep(this.timings.snapshotMs / 2, signal);
        if (!current()) return false;
        setTask('image_pending_upload');
        await this.cloud.clock.sleep(this.timings.snapshotMs / 2, signal);
        if (!current()) return false;
        setTask('image_uploading');
        return this.cloud.images.uploadSnapshot(image, signal);
      })();
      if (current()) setTask(null);
      // Nova deletes the image of a snapshot that did not finish.
      if (!ok && this.store.images.get(image.id)?.status !== 'active') this.cloud.images.remove(image);
    });
    return image.id;
  }

  resize(auth: AuthContext, id: string, flavorRef: string): void {
    const s = this.get(auth, id);
    this.assertIdle('resize', s, ['active', 'stopped']);
    const flavor = this.findFlavorStrict(flavorRef);
    if (flavor.id === s.flavorId) throw badRequest('When resizing, instances must change flavor!');
    const old = this.flavor(s.flavorId)!;
    this.checkQuota(s.projectId, { instances: 0, cores: flavor.vcpus - old.vcpus, ram: flavor.ram - old.ram });
    const prior = s.vmState;
    const t = this.timings.serverResizeMs / 4;
    this.transition(
      s,
      ['resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish'].map((task) => ({ task, ms: t })),
      (x) => {
        x.resize = { oldFlavorId: x.flavorId, priorVmState: prior };
        x.flavorId = flavor.id;
        x.vmState = 'resized';
        x.taskState = null;
      },
    );
  }

  confirmResize(auth: AuthContext, id: string): void {
    const s = this.get(auth, id);
    if (s.vmState !== 'resized' || s.taskState || !s.resize) throw stateConflict('confirmResize', s);
    s.vmState = s.resize.priorVmState === 'stopped' ? 'stopped' : 'active';
    s.powerState = s.vmState === 'active' ? POWER.RUNNING : POWER.SHUTDOWN;
    delete s.resize;
    s.generation++;
    this.touch(s);
  }

  revertResize(auth: AuthContext, id: string): void {
    const s = this.get(auth, id);
    if (s.vmState !== 'resized' || s.taskState || !s.resize) throw stateConflict('revertResize', s);
    const resize = s.resize;
    this.transition(s, [{ task: 'resize_reverting', ms: this.timings.serverResizeMs / 2 }], (x) => {
      x.flavorId = resize.oldFlavorId;
      x.vmState = resize.priorVmState === 'stopped' ? 'stopped' : 'active';
      x.powerState = x.vmState === 'active' ? POWER.RUNNING : POWER.SHUTDOWN;
      x.taskState = null;
      delete x.resize;
    });
  }

  /** Admin fault injection on one VM. */
  break(id: string, mode: BreakMode): Server {
    const s = this.store.servers.get(id);
    if (!s) throw notFound(`Instance ${id} could not be found.`);
    if (mode === 'gone') {
      this.purge(s);
      return s;
    }
    if (mode === 'guest') {
      // The service inside dies; Nova still says ACTIVE (guests.ts).
      if (!this.cloud.guests) throw badRequest('this simulator models no guest services (start it with guest ports)');
      this.cloud.guests.broken.add(s.id);
      this.touch(s);
      return s;
    }
    s.generation++;
    s.deleting = false;
    if (mode === 'error') {
      this.fail(s, { code: 500, message: 'Simulated failure: the instance crashed on its hypervisor.', details: 'injected through /_sim/servers/:id/break' });
      this.cloud.network.setPortsStatus(s, 'DOWN');
    } else {
      s.vmState = 'stopped';
      s.taskState = null;
      s.powerState = POWER.SHUTDOWN;
    }
    this.touch(s);
    return s;
  }

  /** Admin: the server's guest service runs again (after break mode 'guest'). */
  repairGuest(id: string): Server {
    const s = this.store.servers.get(id);
    if (!s) throw notFound(`Instance ${id} could not be found.`);
    this.cloud.guests?.broken.delete(s.id);
    this.touch(s);
    return s;
  }

  // ---- key pairs (they belong to users) ----

  keypairs(userId: string): Keypair[] {
    return [...this.store.keypairs.values()].filter((k) => k.userId === userId).sort((a, b) => a.name.localeCompare(b.name));
  }

  keypair(userId: string, name: string): Keypair {
    const k = this.store.keypairs.get(`${userId}/${name}`);
    if (!k) throw notFound(`Keypair ${name} not found for user ${userId}`);
    return k;
  }

  async createKeypair(userId: string, name: unknown, publicKey: unknown, type: unknown, allowDotAt: boolean): Promise<{ keypair: Keypair; privateKey?: string }> {
    const nameRe = allowDotAt ? /^[a-zA-Z0-9 _.@-]+$/ : /^[a-zA-Z0-9 _-]+$/;
    if (typeof name !== 'string' || name.length < 1 || name.length > 255 || !nameRe.test(name) || name.trim() !== name) {
      throw badRequest(`Invalid input for field/attribute name. Value: ${String(name)}. '${String(name)}' does not match '${nameRe.source}'`);
    }
    if (type !== undefined && type !== 'ssh' && type !== 'x509') throw badRequest(`Invalid input for field/attribute type. Value: ${String(type)}. '${String(type)}' is not one of ['ssh', 'x509']`);
    if (this.store.keypairs.has(`${userId}/${name}`)) throw conflict(`Key pair '${name}' already exists.`);
    if (this.keypairs(userId).length >= DEFAULT_QUOTA.key_pairs) throw forbidden('Quota exceeded, too many key pairs.');
    let pub: string;
    let privateKey: string | undefined;
    if (publicKey === undefined || publicKey === null) {
      const { publicKey: pk, privateKey: sk } = await generateKeyPair('rsa', { modulusLength: 2048 });
      const jwk = pk.export({ format: 'jwk' }) as { n: string; e: string };
      const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), sshMpint(Buffer.from(jwk.e, 'base64url')), sshMpint(Buffer.from(jwk.n, 'base64url'))]);
      pub = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`;
      privateKey = sk.export({ format: 'pem', type: 'pkcs1' }).toString();
    } else if (typeof publicKey === 'string') {
      pub = publicKey.trim();
    } else {
      throw badRequest('Invalid input for field/attribute public_key. Value must be a string.');
    }
    const fingerprint = fingerprintOf(pub);
    if (!fingerprint) throw badRequest('Keypair data is invalid: failed to generate fingerprint');
    // Checked again after the await: a concurrent request may have taken the name.
    if (this.store.keypairs.has(`${userId}/${name}`)) throw conflict(`Key pair '${name}' already exists.`);
    const keypair: Keypair = { id: ++this.store.keypairSeq, name, userId, publicKey: pub, fingerprint, type: (type as 'ssh' | 'x509') ?? 'ssh', createdAt: Date.now() };
    this.store.keypairs.set(`${userId}/${name}`, keypair);
    this.store.changed();
    return { keypair, privateKey };
  }

  deleteKeypair(userId: string, name: string): void {
    this.keypair(userId, name);
    this.store.keypairs.delete(`${userId}/${name}`);
    this.store.changed();
  }

  /** After a restart: transitions in flight are finished the way they were heading. */
  recover(): void {
    for (const s of this.store.servers.values()) {
      if (s.deleting) {
        this.purge(s);
        continue;
      }
      if (s.vmState === 'building') {
        s.generation++;
        this.build(s);
        continue;
      }
      if (s.taskState) {
        const t = s.taskState;
        s.taskState = null;
        if (t === 'powering-off') Object.assign(s, { vmState: 'stopped', powerState: POWER.SHUTDOWN });
        if (t === 'powering-on' || t.startsWith('reboot') || t === 'rebooting_hard') Object.assign(s, { vmState: 'active', powerState: POWER.RUNNING });
        if (t.startsWith('resize_') && t !== 'resize_reverting') {
          s.vmState = s.resize ? 'resized' : s.vmState;
        }
      }
    }
    for (const img of this.store.images.values()) {
      if (img.properties.image_type === 'snapshot' && (img.status === 'queued' || img.status === 'saving') && !img.data) {
        img.status = 'queued';
        this.cloud.clock.spawn(`snapshot ${img.id}`, async (signal) => {
          if (!(await this.cloud.images.uploadSnapshot(img, signal))) this.cloud.images.remove(img);
        });
      }
    }
    this.store.changed();
  }

  /** Stable host id per project, as Nova hashes project and host. */
  hostId(projectId: string): string {
    return crypto.createHash('sha224').update(`${projectId}sim-compute-1`).digest('hex');
  }
}

/** Parses Nova's metadata object: string keys 1..255 chars, string values ≤255. */
export function parseMetadata(raw: unknown, field = 'metadata'): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw badRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(raw)}. ${JSON.stringify(raw)} is not of type 'object'`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.length < 1 || k.length > 255) throw badRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(raw)}. Metadata keys must be 1-255 characters`);
    if (typeof v !== 'string') throw badRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(raw)}. ${JSON.stringify(v)} is not of type 'string'`);
    if (v.length > 255) throw badRequest(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(raw)}. '${v}' is too long`);
    out[k] = v;
  }
  return out;
}
