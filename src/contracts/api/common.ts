/**
 * What every area of the HTTP API shares: the error body, a workflow's status and progress, the
 * answer to a workflow start, and the small helpers the area contracts build with. Pure zod, no
 * I/O. Each schema that the OpenAPI document names carries `.meta({ id })`: the generator
 * (api/openapi.ts) turns it into `#/components/schemas/<id>` and a `$ref` wherever it is used.
 */
import { z } from 'zod';
import type { TaskProgress, WorkflowProgress } from '../progress';

/** An ISO-8601 UTC timestamp as `Date#toISOString` writes it. */
export const dateTime = (description?: string) => (description ? z.iso.datetime().meta({ description }) : z.iso.datetime());

/** Compile-time proof that a schema's type and a hand-written contract type are the same. */
export type SameType<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export function assertSameType<A, B>(..._proof: SameType<A, B> extends true ? [] : ['the schema and the type differ']): void {}

export const fieldErrorSchema = z
  .strictObject({
    field: z.string().meta({ description: 'Where the problem is: `name`, `software[2]`, `users[0].name`, `(body)` for the body as a whole.' }),
    message: z.string().meta({ description: 'What is wrong with it.' }),
  })
  .meta({ id: 'FieldError' });

export const plannedChangeSchema = z.strictObject({ field: z.string(), effect: z.string() });
export type PlannedChange = z.infer<typeof plannedChangeSchema>;

/** What a change of requirements does to the running VM (src/vms/update-plan.ts). */
export const updatePlanSchema = z
  .strictObject({
    inPlace: z.array(plannedChangeSchema).meta({ description: 'Applied to the running server; its disk stays.' }),
    replaced: z.array(plannedChangeSchema).meta({ description: 'Applied by replacing the server: data written to its disk is lost.' }),
    notes: z.array(z.string()),
  })
  .meta({ id: 'UpdatePlan', description: 'What a change of requirements does to the running VM (PATCH /api/v1/vms/{id}; in the 409 confirmation_required error too).' });
export type UpdatePlan = z.infer<typeof updatePlanSchema>;

/** The body of every error answer (api/app.ts errorHandler). */
export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().meta({
        description: 'Stable machine code: validation_failed, unauthorized, forbidden, not_found, conflict, too_many_requests, payload_too_large, internal, or one an operation names (vm_busy, …).',
        examples: ['validation_failed'],
      }),
      message: z.string().meta({ description: 'What went wrong, for a person to read.' }),
      fields: z.array(fieldErrorSchema).optional().meta({ description: 'On validation errors: every field at fault.' }),
      plan: updatePlanSchema.optional(),
      quota: z.string().optional().meta({ description: 'On quota_exceeded: which quota (vms, cloudAccounts, backupsInFlight, drillsInFlight, imageStoreBytes, webhooks).' }),
      limit: z.number().int().optional().meta({ description: 'On quota_exceeded: the quota\'s value.' }),
      requestId: z.string().meta({ description: 'The request id (also the X-Request-Id header); quote it when reporting a problem.' }),
    }),
  })
  .meta({ id: 'Error', description: 'The body of every error answer.' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const taskProgressSchema = z.strictObject({
  name: z.string(),
  state: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']),
  requires: z.array(z.string()),
  error: z.string().optional().meta({ description: 'Failure message, or why the task was skipped or cancelled.' }),
  blockedBy: z.string().optional().meta({ description: 'For `skipped`: the failed task that made this one impossible.' }),
  startedAt: dateTime().optional(),
  finishedAt: dateTime().optional(),
});
assertSameType<z.infer<typeof taskProgressSchema>, TaskProgress>();

/** A workflow's `progress` query (src/contracts/progress.ts). */
export const workflowProgressSchema = z
  .strictObject({
    kind: z.string(),
    status: z.enum(['running', 'completed', 'failed', 'compensating']),
    step: z.string().meta({ description: 'The step running now (or the last one when finished).' }),
    steps: z.array(z.string()),
    stepsDone: z.array(z.string()),
    lastError: z.string().optional(),
    detail: z.string().optional().meta({ description: 'Free-form detail of the current step.' }),
    tasks: z.array(taskProgressSchema).optional(),
    updatedAt: dateTime(),
  })
  .meta({ id: 'WorkflowProgress' });
assertSameType<z.infer<typeof workflowProgressSchema>, WorkflowProgress>();

export const operationStatusSchema = z
  .strictObject({
    workflowId: z.string(),
    status: z.string().meta({ description: 'Temporal’s execution status (RUNNING, COMPLETED, FAILED, …), NOT_STARTED, or UNKNOWN.', examples: ['RUNNING'] }),
    progress: workflowProgressSchema.optional(),
  })
  .meta({ id: 'OperationStatus' });
export type OperationStatus = z.infer<typeof operationStatusSchema>;

/** The answer to a start of a backup or restore workflow. */
export const workflowAcceptedSchema = z
  .strictObject({
    workflowId: z.string(),
    started: z.boolean().optional().meta({ description: 'false when an Idempotency-Key replay joined a workflow already started.' }),
    status: z.string().meta({ description: 'Path of the workflow’s status (GET /api/v1/workflows/{id}).' }),
  })
  .meta({ id: 'WorkflowAccepted' });
export type WorkflowAccepted = z.infer<typeof workflowAcceptedSchema>;

/** A workflow the API started (members get its status path, never a Temporal UI link: the UI shows every member's workflows). */
export interface StartedWorkflow {
  workflowId: string;
}

/** `GET /api/v1/workflows/:id` takes the id answered in `operation.workflowId`. */
export const workflowIdParams = z.object({ id: z.string().min(1).max(300).meta({ description: 'A workflow id, as answered in `operation.workflowId`.' }) });

// ─── Pages (every list; src/limits/pages.ts reads and writes the cursor) ─────────────────────────
export const PAGE_MAX = 100;
export const PAGE_DEFAULT = 50;

/** Query fields of a paginated list whose pages hold at most `max` items (default PAGE_MAX). */
export function pageQueryFieldsUpTo(max: number, def = PAGE_DEFAULT) {
  return {
    limit: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`).optional().meta({ description: `Items per page (default ${def}, at most ${max})` }),
    cursor: z.string().max(512, 'is too long').optional().meta({ description: 'The `nextCursor` of the previous page' }),
  };
}

/** Query fields of a paginated list (spread into the route's query schema). */
export const pageQueryFields = pageQueryFieldsUpTo(PAGE_MAX);

/** Events keep the larger page they always allowed (clients ask for up to 500). */
export const EVENTS_PAGE_MAX = 500;
export const EVENTS_PAGE_DEFAULT = 100;

/** The field a paginated list answers beside its items. */
export const nextCursorField = { nextCursor: z.string().optional().meta({ description: 'Present when more items follow: pass it as `cursor` for the next page' }) };
