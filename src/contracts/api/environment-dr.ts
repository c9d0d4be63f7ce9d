/**
 * An environment's recovery plan (api/routes/environment-dr.ts): protect it (every member by its
 * drVm, failback by approval, and one environmentDr workflow saying when each goes), read the
 * plan and its last failover, failback and drill, and drill the whole environment. Pure zod, no I/O.
 */
import { z } from 'zod';
import { guestHealthCheckSchema } from '../../dr/guest-checks';
import type { PlanRun } from '../environment-dr';
import { assertSameType, dateTime } from './common';

const DR_STATES = ['Protected', 'Degraded', 'FailingOver', 'FailedOver', 'FailingBack'] as const;
const PLAN_STATES = ['Protected', 'FailingOver', 'FailedOver', 'FailingBack'] as const;

export const environmentDrRequestSchema = z
  .strictObject({
    waitSeconds: z.number('must be a number').int('must be an integer').min(0, 'must be at least 0').max(3600, 'must be at most 3600').optional().meta({ description: 'Seconds to wait after a wave has arrived before the next starts (failover and failback; default 0).' }),
    healthChecks: z
      .record(z.string(), guestHealthCheckSchema)
      .optional()
      .meta({ description: 'Per member name: a check of its service. The member’s guest check (as PUT /vms/{id}/dr healthCheck), and passed where it runs before the next wave starts (at most 5 minutes, then the plan goes on and says so).' }),
    failbackAfterHealthySeconds: z.number('must be a number').int('must be an integer').min(0, 'must be at least 0').max(7 * 86400).optional().meta({ description: 'How long the base cloud must stay healthy before the members’ failbacks are asked for (each member’s DR setting).' }),
  })
  .meta({ id: 'EnvironmentDrRequest', description: 'Protect the environment as a whole; every field is optional.' });
export type EnvironmentDrRequest = z.infer<typeof environmentDrRequestSchema>;

export const environmentDrillRequestSchema = z
  .strictObject({
    waitSeconds: z.number('must be a number').int('must be an integer').min(0, 'must be at least 0').max(3600, 'must be at most 3600').optional().meta({ description: 'Seconds between waves (default: the plan’s, else 0).' }),
  })
  .meta({ id: 'EnvironmentDrillRequest' });

const planMemberRunSchema = z.strictObject({
  name: z.string(),
  vmId: z.string(),
  wave: z.number().int().meta({ description: 'Its wave (0 first).' }),
  startedAt: dateTime('When it was told to go.').optional(),
  finishedAt: dateTime('When it arrived (FailedOver, Protected again, or its drill copy running).').optional(),
  rtoSeconds: z.number().optional().meta({ description: 'startedAt → finishedAt.' }),
  result: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
  healthy: z.boolean().optional().meta({ description: 'Its health check’s verdict, when it has one.' }),
  error: z.string().optional(),
});

export const planRunSchema = z
  .strictObject({
    startedAt: dateTime(),
    finishedAt: dateTime().optional(),
    ok: z.boolean().optional(),
    error: z.string().optional(),
    members: z.array(planMemberRunSchema).meta({ description: 'Every member in wave order.' }),
  })
  .meta({ id: 'EnvironmentPlanRun' });
assertSameType<z.infer<typeof planRunSchema>, PlanRun>();

export const environmentDrillReportSchema = planRunSchema
  .extend({
    drillId: z.string(),
    workflowId: z.string(),
    cleanedUp: z.boolean().meta({ description: 'Every drill copy and the drill network were removed.' }),
    network: z.strictObject({ name: z.string(), networkId: z.string() }).optional().meta({ description: 'The drill’s own isolated network in the backup cloud.' }),
  })
  .meta({ id: 'EnvironmentDrillReport' });

export const environmentDrViewSchema = z
  .strictObject({
    envId: z.string(),
    protected: z.boolean(),
    settings: z
      .strictObject({ waitSeconds: z.number().int(), healthChecks: z.record(z.string(), guestHealthCheckSchema) })
      .optional(),
    plan: z.strictObject({ waves: z.array(z.array(z.string())).meta({ description: 'Members by wave: a wave requires only members of earlier waves.' }) }),
    state: z.enum(PLAN_STATES).optional().meta({ description: 'The plan’s state, as its workflow recorded it.' }),
    currentWave: z.number().int().optional(),
    baseCloudHealthy: z.boolean().optional(),
    lastError: z.string().optional(),
    members: z.array(
      z.strictObject({
        name: z.string(),
        vmId: z.string(),
        wave: z.number().int(),
        drState: z.enum(DR_STATES).optional().meta({ description: 'The member’s own DR state (GET /vms/{id}/dr).' }),
        target: z.enum(['base-standby', 'backup-cloud']).optional(),
        awaitingApproval: z.boolean().optional(),
      }),
    ),
    lastFailover: planRunSchema.optional(),
    lastFailback: planRunSchema.optional(),
    lastDrill: environmentDrillReportSchema.optional(),
    updatedAt: dateTime().optional(),
  })
  .meta({ id: 'EnvironmentDr' });
export type EnvironmentDrView = z.infer<typeof environmentDrViewSchema>;

export const environmentDrillAcceptedSchema = z
  .strictObject({ drillId: z.string(), workflowId: z.string(), status: z.string().meta({ description: 'Path of the drill workflow’s status (GET /api/v1/workflows/{id}).' }) })
  .meta({ id: 'EnvironmentDrillAccepted' });
