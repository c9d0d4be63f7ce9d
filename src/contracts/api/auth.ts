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

/**
 * Links into the Temporal Web UI, for operators only: the UI lists every member's workflows (and an
 * operator's session decodes their payloads through /codec), so a member's answers never carry it.
 * Each link is a template the console fills in (URL-encoded value in place of the placeholder).
 */
export const temporalUiLinksSchema = z
  .strictObject({
    url: z.string().meta({ description: 'The Temporal Web UI (TEMPORAL_UI_URL).' }),
    workflowUrl: z.string().meta({ description: 'The runs of one workflow in the UI: replace `{workflowId}` with the URL-encoded workflow id (an operation’s, a backup’s, a drill’s).' }),
    drWorkflowUrl: z.string().meta({ description: 'The runs of a VM’s DR workflow (drVm): replace `{vmId}` with the URL-encoded VM id.' }),
  })
  .meta({ id: 'TemporalUiLinks' });
export type TemporalUiLinks = z.infer<typeof temporalUiLinksSchema>;

export const meSchema = memberSchema
  .extend({
    roles: z.array(z.string()).meta({ description: 'Roles stored on the member: `operator` when granted with `npm run operator -- grant`.' }),
    temporalUi: temporalUiLinksSchema.optional().meta({ description: 'Operators only: links into the Temporal Web UI. Absent for members.' }),
  })
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
