/**
 * Group protection of environments (api/routes/environment-backups.ts): the environment's backup
 * policy (the same fields as a VM's), its group restore points, and a group backup run by hand.
 * Pure zod, no I/O.
 */
import { z } from 'zod';
import { backupPolicyViewSchema, backupScheduleSchema } from './backups';
import { dateTime, nextCursorField, pageQueryFields } from './common';

/** What the answers say about the members' own schedules (README: "Group protection"). */
export const GROUP_POLICY_NOTE =
  'Members of an environment with a group backup policy do not run their own per-VM schedules: every member is backed up by the group schedule, its standbys in both clouds come from those backups, and a per-VM policy of a member is refused while the group policy exists.';

/**
 * A group policy as the API receives it: the fields of BackupPolicyRequest (checked by the same
 * schema, with the deployment's shortest period and the retention quota) plus `windowSeconds`.
 */
export const environmentBackupPolicyRequestSchema = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object (a backup policy)' })
  .meta({
    id: 'EnvironmentBackupPolicyRequest',
    description:
      'The fields of BackupPolicyRequest (exactly one of intervalSeconds and cron, retention, targets, paused, backupAccountId) plus `windowSeconds` (10–3600, default 300): how long a member’s backup may take to start before the group point is incomplete without it.',
  });

export const environmentBackupPolicyViewSchema = z
  .strictObject({
    intervalSeconds: z.number().int().optional(),
    cron: z.string().optional(),
    retention: z.number().int().meta({ description: 'Each member keeps its newest N good backups.' }),
    targets: backupPolicyViewSchema.shape.targets,
    paused: z.boolean(),
    backupAccountId: z.string().meta({ description: 'The CloudStack account that holds the members’ backup-cloud standbys.' }),
    windowSeconds: z.number().int().meta({ description: 'A member whose backup has not started this long after the group run began makes the group point incomplete.' }),
    schedule: backupScheduleSchema.optional().meta({ description: 'The environment’s schedule (`env-backup:<id>`).' }),
    note: z.string().meta({ description: 'How the group policy relates to the members’ own policies.' }),
  })
  .meta({ id: 'EnvironmentBackupPolicy' });
export type EnvironmentBackupPolicyView = z.infer<typeof environmentBackupPolicyViewSchema>;

export const GROUP_MEMBER_BACKUP_STATUSES = ['pending', 'running', 'succeeded', 'partial', 'failed', 'skipped', 'cancelled', 'not-started'] as const;
export const GROUP_BACKUP_STATUSES = ['running', 'complete', 'incomplete', 'skipped'] as const;

export const groupMemberBackupSchema = z.strictObject({
  name: z.string().meta({ description: 'The member’s name in the environment.' }),
  vmId: z.string(),
  workflowId: z.string().meta({ description: 'The member’s backupVm run.' }),
  backupId: z.string().optional().meta({ description: 'The member’s backup (GET /api/v1/vms/{vmId}/backups), once it began.' }),
  status: z.enum(GROUP_MEMBER_BACKUP_STATUSES).meta({ description: '`not-started`: the member’s backup had not begun within the window (its run was withdrawn).' }),
  reason: z.string().optional(),
});

export const environmentBackupSchema = z
  .strictObject({
    id: z.string().meta({ description: 'The group run’s workflow id.' }),
    envId: z.string(),
    trigger: z.enum(['schedule', 'manual', 'final']).meta({ description: '`final`: taken by the destroy before the members were deleted; each member’s copy in the image store is kept.' }),
    status: z.enum(GROUP_BACKUP_STATUSES).meta({ description: '`complete` only when every member’s backup succeeded; `incomplete` names each member that fell short in `reason`.' }),
    reason: z.string().optional(),
    windowSeconds: z.number().int(),
    startedAt: dateTime(),
    finishedAt: dateTime().optional(),
    members: z.array(groupMemberBackupSchema),
  })
  .meta({ id: 'EnvironmentBackup' });
export type EnvironmentBackupView = z.infer<typeof environmentBackupSchema>;

export const environmentBackupListSchema = z
  .strictObject({ backups: z.array(environmentBackupSchema).meta({ description: 'Group restore points, newest first (a page: limit, cursor).' }), ...nextCursorField })
  .meta({ id: 'EnvironmentBackupList' });

export const environmentBackupListQuery = z.object({ ...pageQueryFields });

export const environmentBackupAcceptedSchema = z
  .strictObject({
    id: z.string().meta({ description: 'The group run (and its restore point, once recorded).' }),
    workflowId: z.string(),
    started: z.boolean().meta({ description: 'false when an Idempotency-Key replay joined a run already started.' }),
    status: z.string().meta({ description: 'Path of the run’s status (GET /api/v1/workflows/{id}).' }),
  })
  .meta({ id: 'EnvironmentBackupAccepted' });
export type EnvironmentBackupAccepted = z.infer<typeof environmentBackupAcceptedSchema>;
