/**
 * Account use cases: sign up, log in, authenticate a token, log out, withdraw. Routes stay thin and
 * call these; errors are AppErrors with the status the route answers.
 *
 * Login answers the same 401 body for an unknown username and a wrong password, after the same
 * scrypt work (see passwords.ts), and is rate-limited per (username, client address) and per client
 * address — never per username alone, so failures from an attacker's address cannot lock the owner
 * out from theirs. The counters are in the database (src/limits/throttle.ts), shared by every API
 * process.
 */
import crypto from 'node:crypto';
import type { Client as TemporalClient } from '@temporalio/client';
import type { Connection } from 'mongoose';
import type { Member, WithdrawResult } from '../contracts/api/auth';
import { AppError } from '../errors';
import type { Logger } from '../logger';
import { HashGate } from './hash-gate';
import { memberDataCleanups, countLiveVmsOwnedBy } from './member-data';
import { userModel, sessionModel, type UserRecord } from './model';
import { hashPassword, needsRehash, verifyPassword, type ScryptParams } from './passwords';
import { takeAll, Throttle } from '../limits/throttle';
import { newSessionToken, sessionTokenHash } from './sessions';

/** A member as the API shows one (src/contracts/api/auth.ts). */
export type PublicUser = Member;

export interface SessionUser {
  id: string;
  username: string;
  /** Stored on the member (src/accounts/roles.ts); read at every request, so a revoke is immediate. */
  roles: string[];
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: PublicUser;
}

export type { WithdrawResult };

export interface AccountServiceOptions {
  db: Connection;
  log: Logger;
  scrypt: ScryptParams;
  sessionTtlMs: number;
  /** perUsername counts per (username, address). */
  loginLimits: { perUsername: number; perAddress: number; windowMs: number };
  /** Sign-ups counted per client address and over all addresses, per window. */
  signupLimits: { perAddress: number; global: number; windowSeconds: number };
  /** Temporal, for the member's schedules at withdrawal (member-data.ts). */
  temporal?: TemporalClient;
  /** Password hashes at once, and how many may wait (hash-gate.ts). */
  hashing: { concurrency: number; maxQueued: number };
  /** Prefix of this service's counter keys (tests keep their API instances apart; deployments leave it empty). */
  limiterNamespace?: string;
  now?: () => number;
}

const INVALID_CREDENTIALS = () => new AppError(401, 'invalid_credentials', 'username or password is incorrect');

/**
 * How a login name appears in logs: people type passwords into the username field, so a name that
 * failed is logged only as a short fingerprint (enough to correlate attempts, not to read it).
 */
function nameFingerprint(username: string): string {
  return crypto.createHash('sha256').update(username, 'utf8').digest('hex').slice(0, 12);
}

function publicUser(u: Pick<UserRecord, '_id' | 'username' | 'createdAt'>): PublicUser {
  return { id: u._id, username: u.username, createdAt: new Date(u.createdAt).toISOString() };
}

export class AccountService {
  private readonly byUsernameAddress: Throttle;
  private readonly byAddress: Throttle;
  private readonly signupsByAddress: Throttle;
  private readonly signupsOverall: Throttle;
  private readonly hashGate: HashGate;
  private readonly now: () => number;

  constructor(private readonly o: AccountServiceOptions) {
    this.now = o.now ?? Date.now;
    const windowSeconds = Math.max(1, Math.round(o.loginLimits.windowMs / 1000));
    this.byUsernameAddress = new Throttle(o.db, { name: 'login-username-address', points: o.loginLimits.perUsername, windowSeconds }, o.limiterNamespace);
    this.byAddress = new Throttle(o.db, { name: 'login-address', points: o.loginLimits.perAddress, windowSeconds }, o.limiterNamespace);
    const signupWindow = o.signupLimits.windowSeconds;
    this.signupsByAddress = new Throttle(o.db, { name: 'signup-address', points: o.signupLimits.perAddress, windowSeconds: signupWindow }, o.limiterNamespace);
    this.signupsOverall = new Throttle(o.db, { name: 'signup-global', points: o.signupLimits.global, windowSeconds: signupWindow }, o.limiterNamespace);
    this.hashGate = new HashGate(o.hashing.concurrency, o.hashing.maxQueued);
  }

  private get users() {
    return userModel(this.o.db);
  }

  private get sessions() {
    return sessionModel(this.o.db);
  }

  /**
   * Creates a member; a taken username is 409 (decided by the unique index, so races are safe).
   * Sign-ups are counted per client address and overall (429 past either, every sign-up counts,
   * taken names too), and their password hashes yield to logins' (hash-gate.ts).
   */
  async signup(input: { username: string; password: string }, clientAddress: string): Promise<PublicUser> {
    const Users = this.users;
    const taken = await takeAll([
      [this.signupsByAddress, clientAddress],
      [this.signupsOverall, '*'],
    ]);
    if (!taken.allowed) {
      this.o.log.warn({ address: clientAddress, limitedBy: taken.limitedBy }, 'sign-up rate limited');
      const scope = taken.limitedBy.includes('signup-address') ? 'from this address' : 'right now';
      throw AppError.tooManyRequests(`too many sign-ups ${scope}; try again in ${taken.retryAfterSeconds} s`, taken.retryAfterSeconds);
    }
    // The unique index must exist before the first insert, or two racing sign-ups could both win.
    await Users.init();
    const passwordHash = await this.hashGate.run('signup', () => hashPassword(input.password, this.o.scrypt));
    try {
      // No roles, ever, at sign-up: they are granted from the operator's shell (roles.ts).
      const doc = await Users.create({ _id: crypto.randomUUID(), username: input.username, passwordHash, roles: [] });
      this.o.log.info({ userId: doc._id, username: doc.username }, 'member signed up');
      return publicUser(doc);
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw AppError.conflict(`username ${input.username} is taken`, 'username_taken');
      throw err;
    }
  }

  /**
   * Counts an attempt per (username, address) and per address — taken up front, so a burst of
   * concurrent attempts cannot all slip past the check while their hashes run; refuses with 429 +
   * Retry-After when either is full. The function returned takes the attempt back (a success), so
   * only failures accumulate.
   */
  private async takeAttempt(username: string, address: string): Promise<() => Promise<void>> {
    const taken = await takeAll([
      [this.byUsernameAddress, `${username}\u0000${address}`],
      [this.byAddress, address],
    ]);
    if (!taken.allowed) {
      this.o.log.warn({ usernameFingerprint: nameFingerprint(username), address, limitedBy: taken.limitedBy }, 'login rate limited');
      throw AppError.tooManyRequests(`too many login attempts; try again in ${taken.retryAfterSeconds} s`, taken.retryAfterSeconds);
    }
    return taken.giveBack;
  }

  async login(input: { username: string; password: string }, clientAddress: string): Promise<LoginResult> {
    const giveBack = await this.takeAttempt(input.username, clientAddress);
    const user = await this.users.findOne({ username: input.username }).lean();
    const ok = await this.hashGate.run('login', () => verifyPassword(user?.passwordHash, input.password, this.o.scrypt));
    if (!user || !ok) {
      this.o.log.info({ ...(user ? { userId: user._id } : { usernameFingerprint: nameFingerprint(input.username) }), address: clientAddress }, 'login refused');
      throw INVALID_CREDENTIALS();
    }
    await giveBack();
    if (needsRehash(user.passwordHash, this.o.scrypt)) {
      const rehashed = await this.hashGate.run('login', () => hashPassword(input.password, this.o.scrypt));
      await this.users.updateOne({ _id: user._id }, { $set: { passwordHash: rehashed } });
    }
    const token = newSessionToken();
    const expiresAt = new Date(this.now() + this.o.sessionTtlMs);
    await this.sessions.create({ _id: sessionTokenHash(token)!, userId: user._id, expiresAt });
    // Expired sessions of this member go now; nothing else needs them (no TTL index on FerretDB v1).
    await this.sessions.deleteMany({ userId: user._id, expiresAt: { $lte: new Date(this.now()) } });
    this.o.log.info({ userId: user._id }, 'member logged in');
    return { token, expiresAt, user: publicUser(user) };
  }

  /** The member behind a token, or undefined when the token is unknown, revoked or expired. */
  async authenticate(token: string): Promise<SessionUser | undefined> {
    const hash = sessionTokenHash(token);
    if (!hash) return undefined;
    const session = await this.sessions.findById(hash).lean();
    if (!session || session.expiresAt.getTime() <= this.now()) return undefined;
    const user = await this.users.findById(session.userId, { username: 1, roles: 1 }).lean();
    return user ? { id: user._id, username: user.username, roles: [...(user.roles ?? [])] } : undefined;
  }

  /** "Log out everywhere": revokes every session of the member (this one included); the count revoked. */
  async logoutEverywhere(userId: string): Promise<number> {
    const res = await this.sessions.deleteMany({ userId });
    this.o.log.info({ userId, revoked: res.deletedCount ?? 0 }, 'member logged out everywhere');
    return res.deletedCount ?? 0;
  }

  /** Deletes every expired session (FerretDB has no TTL index): run periodically by the API. */
  async pruneExpiredSessions(): Promise<number> {
    const res = await this.sessions.deleteMany({ expiresAt: { $lte: new Date(this.now()) } });
    return res.deletedCount ?? 0;
  }

  /** Revokes the session of `token` (idempotent). */
  async logout(token: string): Promise<void> {
    const hash = sessionTokenHash(token);
    if (hash) await this.sessions.deleteOne({ _id: hash });
  }

  async me(userId: string): Promise<PublicUser | undefined> {
    const user = await this.users.findById(userId).lean();
    return user ? publicUser(user) : undefined;
  }

  /**
   * Removes the member and every record registered in member-data.ts, after the password is
   * re-entered correctly (403 otherwise, rate-limited like login) and only when the member owns
   * no VM that is not deleted (409).
   */
  async withdraw(userId: string, password: string, clientAddress: string): Promise<WithdrawResult> {
    const user = await this.users.findById(userId).lean();
    if (!user) throw AppError.unauthorized('session is no longer valid');
    const giveBack = await this.takeAttempt(user.username, clientAddress);
    if (!(await this.hashGate.run('login', () => verifyPassword(user.passwordHash, password, this.o.scrypt)))) {
      this.o.log.info({ userId }, 'withdraw refused: wrong password');
      throw new AppError(403, 'wrong_password', 'the password is incorrect; re-enter your password to withdraw');
    }
    await giveBack();
    const liveVms = await countLiveVmsOwnedBy(this.o.db, userId);
    if (liveVms > 0) {
      throw AppError.conflict(`you still own ${liveVms} VM${liveVms === 1 ? '' : 's'}; delete ${liveVms === 1 ? 'it' : 'them'} before withdrawing`, 'member_owns_vms');
    }
    const removed: Record<string, number> = {};
    for (const [name, cleanup] of memberDataCleanups()) removed[name] = await cleanup({ db: this.o.db, userId, ...(this.o.temporal ? { temporal: this.o.temporal } : {}) });
    removed.sessions = (await this.sessions.deleteMany({ userId })).deletedCount ?? 0;
    removed.users = (await this.users.deleteOne({ _id: userId })).deletedCount ?? 0;
    this.o.log.info({ userId, removed }, 'member withdrew');
    return { username: user.username, removed };
  }
}
