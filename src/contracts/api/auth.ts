/**
 * Sign-up, sessions and withdrawal (api/routes/auth.ts). The request schemas are the rules of
 * src/accounts/rules.ts, named for the document; the answers are what AccountService returns.
 * Pure zod, no I/O.
 */
import { z } from 'zod';
import { loginSchema, signupSchema, withdrawSchema } from '../../accounts/rules';
import { dateTime } from './common';

export const signupRequestSchema = signupSchema.meta({ id: 'SignupRequest' });
export const loginRequestSchema = loginSchema.meta({ id: 'LoginRequest' });
export const withdrawRequestSchema = withdrawSchema.meta({ id: 'WithdrawRequest' });

export const memberSchema = z.strictObject({ id: z.uuid(), username: z.string(), createdAt: dateTime() }).meta({ id: 'Member' });
export type Member = z.infer<typeof memberSchema>;

export const meSchema = memberSchema
  .extend({ roles: z.array(z.string()).meta({ description: 'Roles stored on the member: `operator` when granted with `npm run operator -- grant`.' }) })
  .meta({ id: 'Me' });

export const loginResultSchema = z
  .strictObject({
    token: z.string().meta({ description: 'The session token: send it as `Authorization: Bearer <token>`. The same token is set as the session cookie.' }),
    tokenType: z.literal('Bearer'),
    expiresAt: dateTime(),
    user: memberSchema,
  })
  .meta({ id: 'LoginResult' });

export const logoutAllResultSchema = z
  .strictObject({ revoked: z.number().int().meta({ description: 'Sessions revoked, this one included.' }) })
  .meta({ id: 'LogoutAllResult' });

export const withdrawResultSchema = z
  .strictObject({
    withdrawn: z.literal(true),
    username: z.string(),
    removed: z.record(z.string(), z.number().int()).meta({ description: 'Records removed, by kind.' }),
  })
  .meta({ id: 'WithdrawResult' });
export type WithdrawResult = Omit<z.infer<typeof withdrawResultSchema>, 'withdrawn'>;
