/**
 * Backup policies, backups and restore (api/routes/backups.ts). Pure zod, no I/O.
 */
import { z } from 'zod';
import { cronProblem } from '../../backups/cron';
import type { BackupPolicy } from '../backup';
import { assertSameType, dateTime, taskProgressSchema, nextCursorField, pageQueryFields } from './common';

/** Five cron fields (minute hour day-of-month month day-of-week), as Temporal accepts them. */
const CRON = /^\s*(\S+\s+){4}\S+\s*$/;

/**
 * A backup policy as the API receives it. The shortest period is the deployment's
 * VMFLOW_BACKUP_MIN_INTERVAL_SECONDS, so the schema is made for it (the document states it too).
 */
export function backupPolicySchema(minIntervalSeconds: number) {
  return z
    .strictObject({
      intervalSeconds: z.number().int().min(minIntervalSeconds, `at least ${minIntervalSeconds} seconds`).max(31 * 86400, 'at most 31 days').optional(),
      cron: z
        .string()
        .max(200)
        .regex(CRON, 'five cron fields, e.g. "0 3 * * *"')
        .superRefine((cron, ctx) => {
          // Five fields that are not cron ("a b c d e", minute 61) would be refused by Temporal.
          const problem = CRON.test(cron) ? cronProblem(cron) : undefined;
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional()
        .meta({ description: 'Five cron fields, UTC.' }),
      retention: z.number().int().min(1, 'keep at least one backup').max(100).default(3).meta({ description: 'Keep the newest N good backups.' }),
      targets: z
        .strictObject({ baseStandby: z.boolean().default(true), backupCloudStandby: z.boolean().default(true) })
        .default({ baseStandby: true, backupCloudStandby: true }),
      paused: z.boolean().default(false),
      backupAccountId: z.string().min(1).max(100).optional().meta({ description: 'The CloudStack account for the backup-cloud standby; default: the operator’s.' }),
    })
    .refine((p) => (p.intervalSeconds === undefined) !== (p.cron === undefined), { message: 'give exactly one of intervalSeconds and cron', path: ['intervalSeconds'] })
    .meta({
      id: 'BackupPolicyRequest',
      description: 'A backup period (exactly one of intervalSeconds and cron, UTC), how many backups to keep, and where standbys go.',
      // The refine "exactly one of intervalSeconds and cron" has no JSON Schema form of its own.
      oneOf: [
        { type: 'object', properties: { intervalSeconds: { type: 'integer' } }, required: ['intervalSeconds'] },
        { type: 'object', properties: { cron: { type: 'string' } }, required: ['cron'] },
      ],
    });
}
export type BackupPolicyInput = z.input<ReturnType<typeof backupPolicySchema>>;

export const backupPolicyPatchSchema = z
  .record(z.string(), z.unknown(), { error: 'the body must be a JSON object' })
  .meta({ id: 'BackupPolicyPatch', description: 'Some fields of BackupPolicyRequest; a new period replaces the other kind. The merged policy is checked as a whole.' });

export const restoreRequestSchema = z
  .strictObject({ backupId: z.string().min(1).max(100).optional().meta({ description: 'Default: the newest backup with an image.' }) })
  .meta({ id: 'RestoreRequest' });

export const backupScheduleSchema = z.strictObject({
  scheduleId: z.string(),
  paused: z.boolean(),
  nextRuns: z.array(dateTime()),
  recentRuns: z.array(z.strictObject({ scheduledAt: dateTime(), workflowId: z.string() })),
  runs: z.number().int(),
  skippedOverlaps: z.number().int(),
});
export type BackupScheduleView = z.infer<typeof backupScheduleSchema>;

export const backupPolicyViewSchema = z
  .strictObject({
    intervalSeconds: z.number().int().optional(),
    cron: z.string().optional(),
    retention: z.number().int().meta({ description: 'The newest N good backups are kept.' }),
    targets: z.strictObject({ baseStandby: z.boolean(), backupCloudStandby: z.boolean() }),
    paused: z.boolean(),
    backupAccountId: z.string().meta({ description: 'The CloudStack account that holds the backup-cloud standby.' }),
    schedule: backupScheduleSchema.optional(),
  })
  .meta({ id: 'BackupPolicy' });
export type BackupPolicyView = z.infer<typeof backupPolicyViewSchema>;
// The stored policy (src/contracts/backup.ts) is what the view shows, plus the account and the schedule.
assertSameType<Pick<BackupPolicyView, keyof BackupPolicy>, BackupPolicy>();

export const BACKUP_STATUSES = ['running', 'succeeded', 'partial', 'failed', 'skipped', 'cancelled'] as const;

export const backupViewSchema = z
  .strictObject({
    id: z.string(),
    vmId: z.string(),
    workflowId: z.string(),
    trigger: z.enum(['schedule', 'manual', 'failback', 'final']).meta({ description: '`final`: taken by an environment’s destroy before the VM was deleted; its store copy is kept (`preservedAt`).' }),
    status: z.enum(BACKUP_STATUSES),
    reason: z.string().optional().meta({ description: 'Why a task failed (partial or failed).' }),
    startedAt: dateTime(),
    finishedAt: dateTime().optional(),
    image: z
      .strictObject({ id: z.string(), name: z.string(), size: z.number().int(), checksum: z.string().meta({ description: 'MD5, as Glance reports it.' }), osHashAlgo: z.string().optional(), osHashValue: z.string().optional() })
      .optional(),
    store: z.strictObject({ size: z.number().int(), sha256: z.string(), md5: z.string() }).optional(),
    template: z.strictObject({ id: z.string(), name: z.string(), size: z.number().int().optional() }).optional(),
    baseStandby: z.strictObject({ serverId: z.string(), name: z.string() }).optional(),
    backupCloudStandby: z.strictObject({ csVmId: z.string(), name: z.string() }).optional(),
    tasks: z.array(taskProgressSchema).meta({ description: 'Each task of the backup graph and its state.' }),
    retiredAt: dateTime().optional(),
    preservedAt: dateTime().optional().meta({ description: 'The VM was deleted and this backup kept: its copy in the image store (`store`) remains, its image and template are gone.' }),
  })
  .meta({ id: 'Backup' });
export type BackupView = z.infer<typeof backupViewSchema>;

export const backupListSchema = z.strictObject({ backups: z.array(backupViewSchema).meta({ description: 'Newest first (a page: limit, cursor).' }), ...nextCursorField }).meta({ id: 'BackupList' });
export const backupListQuery = z.strictObject({ ...pageQueryFields });
