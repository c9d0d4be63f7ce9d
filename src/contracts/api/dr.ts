/**
 * Disaster recovery (api/routes/dr.ts): protection settings, the DR view, manual commands, drills
 * and events. The DR state is what the DR workflow's `drStatus` query answers (src/contracts/dr.ts),
 * checked equal to that type at compile time; readers get it from the record the workflow writes. Pure zod, no I/O.
 */
import { z } from 'zod';
import type { DrEventKind, DrStatus } from '../dr';
import { assertSameType, dateTime, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, nextCursorField, pageQueryFields, pageQueryFieldsUpTo } from './common';
import { vmIdParam } from './vms';
import { guestHealthCheckSchema } from '../../dr/guest-checks';

const TARGETS = ['base-standby', 'backup-cloud'] as const;

export const drSettingsSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    failbackMode: z.enum(['automatic', 'approval']).optional(),
    failbackAfterHealthySeconds: z.number().int().min(0).max(7 * 86400).optional(),
    /** Run a drill on a schedule (seconds between drills); null removes the schedule. */
    drillIntervalSeconds: z.number().int().min(60).max(90 * 86400).nullable().optional().meta({ description: 'Run a drill every N seconds; null removes the schedule.' }),
    drillTarget: z.enum(TARGETS).optional(),
    healthCheck: guestHealthCheckSchema.nullable().optional().meta({ description: 'A check of the service inside the VM; a VM failing it is failed over like a broken server. null removes it; absent keeps it.' }),
  })
  .meta({ id: 'DrSettingsRequest', description: 'Protect the VM (enabled, default true) and how failback happens; optionally drills on a schedule and a guest health check.' });

export const failoverRequestSchema = z
  .strictObject({
    target: z.enum(TARGETS).optional().meta({ description: 'Default: base-standby when the base cloud is healthy, else backup-cloud.' }),
    reason: z.string().max(500).optional(),
  })
  .meta({ id: 'FailoverRequest' });

export const drillRequestSchema = z.strictObject({ target: z.enum(TARGETS).default('backup-cloud') }).meta({ id: 'DrillRequest' });

export const eventsQuery = z.strictObject({
  vmId: vmIdParam.optional().meta({ description: 'Only this VM’s events.' }),
  ...pageQueryFieldsUpTo(EVENTS_PAGE_MAX, EVENTS_PAGE_DEFAULT),
});
export const drillListQuery = z.strictObject({ ...pageQueryFields });

const drSettingsViewSchema = z.strictObject({ failbackMode: z.enum(['automatic', 'approval']), failbackAfterHealthySeconds: z.number().int() });

const DR_EVENT_KINDS = [
  'disaster.vm',
  'disaster.cloud',
  'failover.started',
  'failover.completed',
  'failover.failed',
  'failover.gave-up',
  'failback.waiting-approval',
  'failback.started',
  'failback.completed',
  'failback.failed',
  'failback.gave-up',
  'backup.paused',
  'disaster.live-copy',
  'live-copy.recovered',
  'cloud.recovered',
  'fence.completed',
  'drill.completed',
  'drill.failed',
] as const satisfies readonly DrEventKind[];
// Every kind the workflows record is listed (the `satisfies` above proves no extra one).
assertSameType<(typeof DR_EVENT_KINDS)[number], DrEventKind>();
const drEventKind = z.enum(DR_EVENT_KINDS);

export const drStateSchema = z
  .strictObject({
    vmId: z.string(),
    state: z.enum(['Protected', 'Degraded', 'FailingOver', 'FailedOver', 'FailingBack']),
    target: z.enum(TARGETS).optional(),
    settings: drSettingsViewSchema,
    baseCloudHealthy: z.boolean(),
    baseHealthySince: dateTime().optional(),
    vmHealthy: z.boolean(),
    awaitingApproval: z.boolean(),
    fencePending: z.strictObject({ cloud: z.enum(['openstack', 'cloudstack']), accountId: z.string(), serverId: z.string() }).optional(),
    lastRpoSeconds: z.number().optional(),
    lastRtoSeconds: z.number().optional(),
    lastError: z.string().optional(),
    failbackRetry: z.strictObject({ failures: z.number().int(), nextAttemptAt: dateTime().optional(), gaveUp: z.boolean() }).optional(),
    failoverRetry: z
      .strictObject({
        failures: z.number().int(),
        nextAttemptAt: dateTime().optional(),
        gaveUp: z.boolean(),
        cause: z.strictObject({ target: z.enum(TARGETS).optional(), reason: z.string(), firstFailedAt: dateTime(), kind: z.enum(['disaster.vm', 'disaster.cloud']) }),
      })
      .optional()
      .meta({ description: 'A failover after a disaster that failed: retried after a doubling wait unless its cause clears; after the last try a command is needed.' }),
    recentEvents: z.array(z.strictObject({ at: dateTime(), kind: drEventKind, message: z.string() })),
    step: z.string().optional(),
    updatedAt: dateTime(),
  })
  .meta({ id: 'DrState', description: 'The DR workflow’s state (its drStatus query).' });
assertSameType<z.infer<typeof drStateSchema>, DrStatus>();

export const drEventSchema = z
  .strictObject({
    id: z.string(),
    vmId: z.string(),
    kind: drEventKind,
    message: z.string(),
    at: dateTime(),
    rpoSeconds: z.number().optional().meta({ description: 'Age of the backup the failover used.' }),
    rtoSeconds: z.number().optional().meta({ description: 'From the first failed check to the switch completing.' }),
    details: z.record(z.string(), z.unknown()).optional(),
    delivery: z.strictObject({ status: z.enum(['pending', 'delivered', 'failed', 'disabled']), attempts: z.number().int() }).optional(),
  })
  .meta({ id: 'DrEvent' });
export type DrEventView = z.infer<typeof drEventSchema>;

export const drViewSchema = z
  .strictObject({
    vmId: z.string(),
    protected: z.boolean(),
    settings: drSettingsViewSchema.optional(),
    state: drStateSchema.optional(),
    stateSince: dateTime().optional().meta({ description: 'When the DR state last changed (from the state the DR workflow records for readers).' }),
    lastRpoSeconds: z.number().optional(),
    lastRtoSeconds: z.number().optional(),
    rpoSecondsNow: z
      .number()
      .optional()
      .meta({ description: 'Age of the newest backup with an image: what a disaster now would lose. It grows while backups are paused (the VM runs in the backup cloud).' }),
    backupsPaused: z.string().optional().meta({ description: 'Why scheduled backups do not run now (absent when they do).' }),
    healthCheck: guestHealthCheckSchema.optional(),
    guest: z
      .strictObject({
        serverId: z.string(),
        armed: z.boolean().meta({ description: 'The check has passed on this server, so a failure counts.' }),
        ok: z.boolean(),
        detail: z.string(),
        since: dateTime(),
      })
      .optional()
      .meta({ description: 'What the monitor last learnt of the guest check (absent until it first checked).' }),
    events: z.array(drEventSchema).meta({ description: 'Newest first (50 at most).' }),
  })
  .meta({ id: 'DrView' });
export type DrView = z.infer<typeof drViewSchema>;

export const drUnprotectedSchema = z.strictObject({ vmId: z.string(), protected: z.literal(false) }).meta({ id: 'DrUnprotected' });
export type DrUnprotected = z.infer<typeof drUnprotectedSchema>;

export const drAcceptedSchema = z.strictObject({ state: drStateSchema }).meta({ id: 'DrAccepted' });

export const drillAcceptedSchema = z.strictObject({ workflowId: z.string(), status: z.string() }).meta({ id: 'DrillAccepted' });

export const drillViewSchema = z.strictObject({
  id: z.string(),
  workflowId: z.string(),
  target: z.enum(TARGETS),
  ok: z.boolean(),
  bootSeconds: z.number().optional(),
  rpoSeconds: z.number().optional(),
  backupId: z.string().optional(),
  cleanedUp: z.boolean(),
  error: z.string().optional(),
  startedAt: dateTime(),
  finishedAt: dateTime(),
});
export type DrillView = z.infer<typeof drillViewSchema>;

export const drillListSchema = z.strictObject({ drills: z.array(drillViewSchema).meta({ description: 'Newest first (a page: limit, cursor).' }), ...nextCursorField }).meta({ id: 'DrillList' });

export const eventListSchema = z.strictObject({ events: z.array(drEventSchema).meta({ description: 'Newest first (a page: limit, cursor).' }), ...nextCursorField }).meta({ id: 'EventList' });
