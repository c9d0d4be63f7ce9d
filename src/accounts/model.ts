/**
 * Members and their login sessions. A username is unique by a unique index (FerretDB keeps unique
 * indexes atomic, unlike conditional updates), and the member id is a random UUID so a username
 * freed by a withdrawal never inherits the old member's records. A session is stored only as the
 * SHA-256 of its token (its `_id`): a database dump yields no usable token.
 */
import { Schema, type Connection, type Model } from 'mongoose';

export interface UserRecord {
  _id: string;
  username: string;
  passwordHash: string;
  /**
   * Roles of this member (`operator`). Stored on the member, so they belong to this member id:
   * a username freed by a withdrawal and signed up again starts with none. Granted only by
   * `npm run operator -- grant` (src/accounts/roles.ts), never through the API.
   */
  roles?: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionRecord {
  /** hex SHA-256 of the bearer token. */
  _id: string;
  userId: string;
  expiresAt: Date;
  createdAt: Date;
}

export const USERS_COLLECTION = 'users';
export const SESSIONS_COLLECTION = 'sessions';

const userSchema = new Schema<UserRecord>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true, unique: true },
    passwordHash: { type: String, required: true },
    roles: { type: [String], default: [] },
  },
  { timestamps: true, versionKey: false },
);

const sessionSchema = new Schema<SessionRecord>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    expiresAt: { type: Date, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, versionKey: false },
);

export function userModel(conn: Connection): Model<UserRecord> {
  return (conn.models.User as Model<UserRecord>) ?? conn.model<UserRecord>('User', userSchema, USERS_COLLECTION);
}

export function sessionModel(conn: Connection): Model<SessionRecord> {
  return (conn.models.Session as Model<SessionRecord>) ?? conn.model<SessionRecord>('Session', sessionSchema, SESSIONS_COLLECTION);
}
