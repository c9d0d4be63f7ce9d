/**
 * The per-member VM quota (QUOTA_VMS), exact under a burst of creates and with several API
 * processes. Counting the member's VMs and then inserting one lets every request of a burst pass
 * the count; here a create must first win a quota slot, and winning is an insert of a new `_id`,
 * which FerretDB and MongoDB both settle atomically (the loser gets E11000).
 *
 * Slot n (0 ≤ n < quota) of a member is a chain of claim documents `<ownerId>:<n>:<e>`, e = 0, 1, …;
 * the one with the highest e holds the slot for its `vmId`. Nothing is ever updated: taking a slot
 * over from a holder that is gone is inserting claim e+1, so of two requests that both see the
 * slot free only one gets it (a conditional update or delete of one shared document is not atomic
 * on FerretDB). A slot is free when its holder
 *   - is a VM in state `deleted` (the delete workflow's last write frees it: no write here),
 *   - holds a lower slot too (two requests with one Idempotency-Key, or two adopting one VM),
 *   - is `null` (released by a create that failed after claiming), or
 *   - is no VM at all and was claimed more than CLAIM_LEASE_MS ago: a create that crashed between
 *     its claim and its insert. Inside the lease it counts (its insert may be under way); a create
 *     whose claim has aged past CLAIM_INSERT_DEADLINE_MS gives it back instead of inserting.
 * VMs from before slots (or written by other means) hold none: a create first claims slots for
 * them ("adopts" them), so they count as before. Once every VM of a member holds a slot (the
 * marker `<ownerId>:adopted`), a create far from the quota reads only the claims and counts every
 * holder — deleted or lapsed ones too; only near the quota does it read the member's VMs to tell
 * which slots are free again (on the embedded FerretDB, whose SQLite backend looks up only `_id`
 * from an index, that read scans every VM of every member).
 */
import type { Connection } from 'mongoose';
import { ONE_BATCH, whileBusy } from '../db/connection';
import { AppError } from '../errors';

export const VM_QUOTA_SLOTS_COLLECTION = 'vm_quota_slots';

/** A claim whose VM does not exist is another create's insert under way until this old. */
export const CLAIM_LEASE_MS = 5 * 60_000;
/** A create that took longer than this from claim to insert gives the slot back (lease ≫ this: clock skew). */
export const CLAIM_INSERT_DEADLINE_MS = 60_000;
/** Never-claimed slots a create tries at most (beyond the VMs it adopts): a burst this large spreads over them. */
const FREE_SLOTS_TRIED = 256;
/** Read-and-try rounds of one create (each tries up to FREE_SLOTS_TRIED new numbers) before it answers 503 busy. */
const CLAIM_ROUNDS = 32;

export interface QuotaSlotClaim {
  _id: string;
  ownerId: string;
  n: number;
  e: number;
  /** The VM that holds the slot; null: released. */
  vmId: string | null;
  at: Date;
}

export type ClaimResult =
  | { ok: true; claim: QuotaSlotClaim }
  /** `held`: slots taken (or VMs the member has, if more), for the error message. */
  | { ok: false; held: number };

function claimId(ownerId: string, n: number, e: number): string {
  return `${ownerId}:${n}:${e}`;
}

function slots(db: Connection) {
  return db.collection<QuotaSlotClaim>(VM_QUOTA_SLOTS_COLLECTION);
}

/** The index a create's read of the member's claims uses on MongoDB (FerretDB v1 scans regardless). */
export async function ensureQuotaSlotIndexes(db: Connection): Promise<void> {
  await slots(db).createIndex({ ownerId: 1 });
}

/** Inserts claim (n, e) for vmId; false when another request inserted it first. */
async function insertClaim(db: Connection, ownerId: string, n: number, e: number, vmId: string | null): Promise<QuotaSlotClaim | undefined> {
  const claim: QuotaSlotClaim = { _id: claimId(ownerId, n, e), ownerId, n, e, vmId, at: new Date() };
  try {
    // Retried while the embedded database answers busy (the insert did not happen then).
    await whileBusy(() => slots(db).insertOne(claim));
    return claim;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) return undefined;
    throw err;
  }
}

/**
 * Claims a free slot of `ownerId` for `vmId` (not yet inserted), or says the quota is reached.
 * The caller inserts the VM next (see claimIsFresh) and releases the claim if it does not.
 */
export async function claimVmSlot(db: Connection, ownerId: string, vmId: string, max: number): Promise<ClaimResult> {
  // A round that lost every slot it tried, while slots it did not try remain (a burst larger than
  // the FREE_SLOTS_TRIED it saw), reads again: the winners' claims are then known, and the next
  // never-claimed numbers are new. 500 creates at once were refused "quota reached" 49 times
  // before this, with a quota of 1,000,000.
  for (let round = 1; ; round++) {
    const result = await claimRound(db, ownerId, vmId, max);
    if (result !== 'lost') return result;
    if (round >= CLAIM_ROUNDS) throw new AppError(503, 'busy', 'too many VMs of this member are being created at once; try again shortly', undefined, { retryAfterSeconds: 1 });
  }
}

/** One read-and-try of claimVmSlot; 'lost': every slot tried was taken by others, and untried ones remain. */
async function claimRound(db: Connection, ownerId: string, vmId: string, max: number): Promise<ClaimResult | 'lost'> {
  // Claims first, VMs second: a VM inserted after its claim was read is seen, never missed.
  const read = await slots(db).find({ ownerId }, ONE_BATCH).toArray();
  const adopted = read.some((c) => c._id === adoptedMarkerId(ownerId));
  const claims = read.filter((c) => typeof c.n === 'number');
  const latest = new Map<number, QuotaSlotClaim>();
  for (const c of claims) if ((latest.get(c.n)?.e ?? -1) < c.e) latest.set(c.n, c);
  const now = Date.now();
  // Only slots that were ever claimed can be held: the cost follows the claims, never the quota
  // (an operator's QUOTA_VMS of 1,000,000 made every create walk a million slots).
  const claimed = [...latest.keys()].filter((n) => n < max).sort((a, b) => a - b);
  const holders = new Set([...latest.values()].map((c) => c.vmId).filter((v): v is string => !!v));

  const heldBy = new Map<string, number>(); // vmId → lowest slot it holds
  let unslotted: string[] = [];
  if (adopted && holders.size < max) {
    // Far from the quota, the claims alone decide: every holder counts, even one deleted or
    // lapsed, so the member's VMs need not be read — on the embedded FerretDB that read scans every
    // VM of every member (2 s of a 2.7 s create at 20 creates/s with 1,000 VMs stored: issue 13).
    // Counting too many can only send a create to the exact reading below, never admit one too many.
    for (const n of claimed) {
      const c = latest.get(n)!;
      if (c.vmId && !heldBy.has(c.vmId)) heldBy.set(c.vmId, n);
    }
  } else {
    const vms = await db.collection<{ _id: string; state: string; ownerId: string }>('vms')
      .find({ $or: [{ ownerId, state: { $ne: 'deleted' } }, { _id: { $in: [...holders] } }] }, { projection: { _id: 1, state: 1, ownerId: 1 }, ...ONE_BATCH })
      .toArray();
    const state = new Map(vms.map((v) => [v._id, v.state]));
    const live = vms.filter((v) => v.ownerId === ownerId && v.state !== 'deleted').map((v) => v._id);
    for (const n of claimed) {
      const c = latest.get(n);
      if (!c?.vmId || heldBy.has(c.vmId)) continue;
      const s = state.get(c.vmId);
      if (s === 'deleted') continue;
      if (s === undefined && now - new Date(c.at).getTime() > CLAIM_LEASE_MS) continue;
      heldBy.set(c.vmId, n);
    }
    // VMs the member has beyond the slots (a quota lowered since) are refused here, as before.
    unslotted = live.filter((id) => !heldBy.has(id) && id !== vmId);
    if (live.length >= max || heldBy.size + unslotted.length >= max) return { ok: false, held: Math.max(live.length, heldBy.size + unslotted.length) };
  }
  // Free slots, lowest first: every claimed slot nobody holds, then never-claimed numbers — as many
  // as the VMs to adopt plus FREE_SLOTS_TRIED (all of them when the quota is smaller).
  const free = claimed.filter((n) => heldBy.get(latest.get(n)?.vmId ?? '') !== n);
  let n = 0;
  for (let added = 0; n < max && added < unslotted.length + FREE_SLOTS_TRIED; n++) {
    if (latest.has(n)) continue;
    free.push(n);
    added++;
  }
  const untriedRemain = [...latest.keys()].filter((k) => k >= n && k < max).length < max - n;
  free.sort((a, b) => a - b);

  const take = async (n: number, holder: string): Promise<QuotaSlotClaim | undefined> => insertClaim(db, ownerId, n, (latest.get(n)?.e ?? -1) + 1, holder);
  // VMs that hold no slot (created before slots existed) take theirs first, lowest first.
  const queue = [...free];
  for (const id of unslotted) {
    while (queue.length && !(await take(queue.shift()!, id)));
    if (!queue.length) return untriedRemain ? 'lost' : { ok: false, held: max };
  }
  // A random start spreads a burst over the free slots; every free slot is still tried, so no
  // request is refused while a slot it saw free was not taken by another.
  const start = Math.floor(Math.random() * queue.length);
  for (const n of [...queue.slice(start), ...queue.slice(0, start)]) {
    const claim = await take(n, vmId);
    if (claim) {
      // Every VM of the member now holds a slot (VMs come to be only through a claim: VmService#admit).
      if (!adopted) await markAdopted(db, ownerId);
      await forgetSuperseded(db, claims, latest, now);
      return { ok: true, claim };
    }
  }
  return untriedRemain ? 'lost' : { ok: false, held: max };
}

/** The marker that the member's VMs from before slots have theirs: `<ownerId>:adopted`, never a claim (no `n`). */
function adoptedMarkerId(ownerId: string): string {
  return `${ownerId}:adopted`;
}

async function markAdopted(db: Connection, ownerId: string): Promise<void> {
  try {
    await whileBusy(() => slots(db).insertOne({ _id: adoptedMarkerId(ownerId), ownerId, at: new Date() } as never));
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
  }
}

/** Whether a claim is still young enough for its VM to be inserted (see CLAIM_INSERT_DEADLINE_MS). */
export function claimIsFresh(claim: QuotaSlotClaim): boolean {
  return Date.now() - claim.at.getTime() < CLAIM_INSERT_DEADLINE_MS;
}

/** Gives a claim back (its VM was not inserted): claim e+1 with no holder; lost to a newer claim, nothing to do. */
export async function releaseVmSlot(db: Connection, claim: QuotaSlotClaim): Promise<void> {
  await insertClaim(db, claim.ownerId, claim.n, claim.e + 1, null);
}

/**
 * Removes claims superseded more than a lease ago (by _id: nobody else writes them). A claim is
 * kept while its successor is young, so a reader racing the successor's insert still finds one of
 * the two and never sees the slot empty (which would let it insert e = 0 again).
 */
async function forgetSuperseded(db: Connection, claims: QuotaSlotClaim[], latest: Map<number, QuotaSlotClaim>, now: number): Promise<void> {
  const byId = new Map(claims.map((c) => [c._id, c]));
  const old = claims.filter((c) => {
    const next = byId.get(claimId(c.ownerId, c.n, c.e + 1));
    return c !== latest.get(c.n) && next && now - new Date(next.at).getTime() > CLAIM_LEASE_MS;
  });
  if (old.length) await whileBusy(() => slots(db).deleteMany({ _id: { $in: old.map((c) => c._id) } }));
}
