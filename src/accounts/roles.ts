/**
 * Member roles. A role is stored on the member record (`users.roles`), so it belongs to that
 * member id and dies with it: withdrawing frees the username, and whoever signs up with it next
 * starts with no role. Roles are granted and revoked only from the operator's shell —
 * `npm run operator -- grant <username>` (scripts/operator.ts) — never through the API, and no
 * configuration names usernames, so there is nothing a stranger could claim by signing up first.
 */
import type { Connection } from 'mongoose';
import { userModel } from './model';

export const OPERATOR_ROLE = 'operator';
export const ROLES = [OPERATOR_ROLE] as const;
export type Role = (typeof ROLES)[number];

export interface MemberRoles {
  id: string;
  username: string;
  createdAt: string;
  roles: string[];
}

export class RoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoleError';
  }
}

function view(u: { _id: string; username: string; createdAt: Date; roles?: string[] }): MemberRoles {
  return { id: u._id, username: u.username, createdAt: new Date(u.createdAt).toISOString(), roles: [...(u.roles ?? [])].sort() };
}

async function change(db: Connection, username: string, role: Role, op: '$addToSet' | '$pull', expectedId?: string): Promise<MemberRoles> {
  const Users = userModel(db);
  const name = username.trim().toLowerCase();
  const user = await Users.findOne({ username: name }).lean();
  if (!user) throw new RoleError(`no member is called ${name}: they must sign up first`);
  // The member id pins the grant to the person the operator looked at, not to whoever holds the name now.
  if (expectedId !== undefined && user._id !== expectedId) throw new RoleError(`${name} is member ${user._id}, not ${expectedId}`);
  await Users.updateOne({ _id: user._id }, { [op]: { roles: role } });
  const after = await Users.findById(user._id).lean();
  if (!after) throw new RoleError(`member ${name} withdrew meanwhile`);
  return view(after);
}

/** Gives `role` to the member called `username` (optionally only if its id is `expectedId`). */
export function grantRole(db: Connection, username: string, role: Role = OPERATOR_ROLE, expectedId?: string): Promise<MemberRoles> {
  return change(db, username, role, '$addToSet', expectedId);
}

/** Takes `role` from the member called `username`; their sessions see it at the next request. */
export function revokeRole(db: Connection, username: string, role: Role = OPERATOR_ROLE): Promise<MemberRoles> {
  return change(db, username, role, '$pull');
}

/** Members that hold any role. */
export async function membersWithRoles(db: Connection): Promise<MemberRoles[]> {
  const docs = await userModel(db).find({ roles: { $in: [...ROLES] } }).sort({ username: 1 }).lean();
  return docs.map(view);
}
