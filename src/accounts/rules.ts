/**
 * The documented username and password rules (README "Accounts"). Checked at the edge by zod, so a
 * violation answers 400 naming the field.
 *
 * - Username: 3–32 characters from lower-case letters, digits, `.`, `_` and `-`, starting with a
 *   letter or digit. Usernames are case-insensitive: input is lower-cased before the check, and
 *   "Alice" and "alice" are the same account.
 * - Password: 10–128 characters (after Unicode NFKC normalisation, so the same password typed on
 *   another keyboard still matches), not all one repeated character, and not containing the
 *   username. Length beats composition rules (NIST SP 800-63B), so no character classes are required.
 */
import { z } from 'zod';

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{2,31}$/;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

/**
 * Names nobody may sign up with: they read as the system or its staff to other people (and in
 * logs), and were once how the operator role was given. Roles are granted explicitly now
 * (src/accounts/roles.ts), but a member called "admin" is still a lie waiting to be believed.
 */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  'admin', 'administrator', 'root', 'operator', 'operators', 'superuser', 'sysadmin', 'system',
  'vmflow', 'temporal', 'support', 'security', 'staff', 'owner', 'api', 'service',
]);

/** A reserved name, also with separators or digits around it: `admin`, `admin-1`, `the.operator`. */
export function isReservedUsername(username: string): boolean {
  return username.split(/[._-]+/).some((part) => RESERVED_USERNAMES.has(part.replace(/\d+$/, '')));
}

// The rule applies after trimming and lower-casing, so the pattern is on the piped side: the
// OpenAPI document shows the input side ("Alice" is accepted) and the rule in the description.
export const usernameSchema = z
  .string({ error: 'username is required' })
  .trim()
  .toLowerCase()
  .pipe(z.string().regex(USERNAME_RE, 'username must be 3-32 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit'))
  .meta({ description: 'Case-insensitive (trimmed and lower-cased first): 3–32 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit.' });

/** A username for a new member: the rules, and not a reserved name. */
export const newUsernameSchema = usernameSchema.refine((u) => !isReservedUsername(u), 'username is reserved (it would read as the system or its staff)');

export function normalizePassword(p: string): string {
  return p.normalize('NFKC');
}

/** The password as typed at login or withdraw: any non-empty string (rules apply at sign-up). */
export const enteredPasswordSchema = z.string({ error: 'password is required' }).min(1, 'password is required').max(1024, 'password is too long');

export const signupSchema = z
  .object({
    username: newUsernameSchema,
    password: z
      .string({ error: 'password is required' })
      .meta({ description: `${PASSWORD_MIN}–${PASSWORD_MAX} characters after Unicode NFKC normalisation; not one repeated character; must not contain the username.` }),
  })
  .superRefine((v, ctx) => {
    const p = normalizePassword(v.password);
    const chars = [...p];
    const problem =
      chars.length < PASSWORD_MIN
        ? `password must be at least ${PASSWORD_MIN} characters`
        : chars.length > PASSWORD_MAX
          ? `password must be at most ${PASSWORD_MAX} characters`
          : new Set(chars).size === 1
            ? 'password must not be one repeated character'
            : p.toLowerCase().includes(v.username)
              ? 'password must not contain the username'
              : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
  });

export const loginSchema = z.object({
  username: z.string({ error: 'username is required' }).trim().toLowerCase().min(1, 'username is required').max(64, 'username is too long'),
  password: enteredPasswordSchema,
});

export const withdrawSchema = z.object({ password: enteredPasswordSchema.meta({ description: 'The member’s password, re-entered.' }) });
