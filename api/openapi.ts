/**
 * The OpenAPI 3.1 description of every route the API serves, answered at
 * `GET /api/v1/openapi.json` (public). Request bodies come from the zod schemas the routes validate
 * with (z.toJSONSchema, JSON Schema 2020-12, which is OpenAPI 3.1's dialect); answers are plain JSON
 * Schema in SCHEMAS below. test/unit/openapi.test.ts keeps ROUTES in step with what Express serves
 * (listExpressRoutes) and with the session gate's public list.
 *
 * Documenting a new route is one entry in ROUTES, in its area's section, e.g.
 *
 *   { method: 'post', path: '/api/v1/vms/{id}/backups', operationId: 'backupVm', tag: 'backups',
 *     summary: 'Back a VM up now', params: { id: VM_ID }, body: 'BackupRequest',
 *     responses: { 202: json('BackupAccepted', 'backup started', LOCATION) },
 *     errors: { 400: 'invalid id', 404: 'no such VM', 409: 'vm_busy: …' } },
 *
 * plus the answer's schema in SCHEMAS when it is new. The builder adds what every route shares:
 * 401 and the security requirement (unless `auth: 'public'`), 400/413 for a JSON body, and the
 * error body, X-Request-Id and Retry-After headers on every error answer.
 */
import { drSettingsSchema } from '../src/dr/service';
import { backupPolicySchema } from '../src/backups/service';
import type { Express, RequestHandler } from 'express';
import { z } from 'zod';
import { loginSchema, signupSchema, withdrawSchema } from '../src/accounts/rules';
import { catalogSchema } from '../src/catalog/schema';
import { createCloudAccountSchema } from '../src/cloud-accounts/store';
import type { VerifyFailureReason } from '../src/cloud-accounts/verify';
import type { TaskProgress, WorkflowRunStatus } from '../src/contracts/progress';
import type { VmState } from '../src/contracts/vm';
import { vmRequirementsSchema } from '../src/templates';
import { MUTABLE_REQUIREMENTS } from '../src/vms/service';
import { SESSION_COOKIE } from './auth-middleware';

type JsonSchema = Record<string, unknown>;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call a route. `session` (the default, as in the session gate): a member's bearer token or
 * session cookie. `public`: nobody needs to sign in (must match PUBLIC_API_ROUTES under /api/v1).
 * `codec`: the operator token or an operator's session (api/routes/codec.ts).
 */
type Auth = 'public' | 'session' | 'codec';

interface ParamDoc {
  description: string;
  schema: JsonSchema;
  required?: boolean;
}

interface ResponseDoc {
  description: string;
  headers?: Record<string, JsonSchema>;
  content?: Record<string, { schema: JsonSchema }>;
}

export interface RouteDoc {
  method: HttpMethod;
  /** The full path as served, `{name}` for Express's `:name`. */
  path: string;
  /** Unique across the document; clients generate method names from it. */
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Default `session`. */
  auth?: Auth;
  /** Path parameters; a `{name}` in the path not listed here is documented as a plain string. */
  params?: Record<string, ParamDoc>;
  query?: Record<string, ParamDoc>;
  /** Request headers (Authorization and the cookie come from `auth`). */
  headers?: Record<string, ParamDoc>;
  /** A JSON request body: the name of a schema in SCHEMAS. */
  body?: SchemaName;
  /** The body may be left out (the route reads a missing one as `{}`). */
  bodyOptional?: true;
  /** The success answers, by status. */
  responses: Record<number, ResponseDoc>;
  /** Error answers by status → when they happen (name the specific `error.code`s). All carry the Error body. */
  errors?: Record<number, string>;
}

// ─── Schemas from the zod input schemas ─────────────────────────────────────────────────────────

/** The JSON Schema of a zod schema as the API reads it (defaults optional, transforms' input side). */
function fromZod(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) as JsonSchema;
  // Definitions would need their $refs rewritten to #/components/schemas; none of ours has any yet.
  if ('$defs' in json) throw new Error('openapi: a zod schema produced $defs; hoist them into SCHEMAS');
  return json;
}

/** Adds descriptions (and drops keywords that would mislead) on top-level properties of a derived schema. */
function annotate(schema: JsonSchema, notes: Record<string, { description: string; drop?: string[] }>): JsonSchema {
  const properties = { ...(schema.properties as Record<string, JsonSchema>) };
  for (const [name, note] of Object.entries(notes)) {
    if (!properties[name]) throw new Error(`openapi: annotate names ${name}, which the schema lacks`);
    const prop: JsonSchema = { ...properties[name], description: note.description };
    for (const k of note.drop ?? []) delete prop[k];
    properties[name] = prop;
  }
  return { ...schema, properties };
}

const vmRequirements = fromZod(vmRequirementsSchema);
const vmRequirementProps = vmRequirements.properties as Record<string, JsonSchema>;

/** The values of a string union, checked complete at compile time so the document follows the types. */
function unionValues<T extends string | number>() {
  return <const V extends readonly T[]>(values: V & ([T] extends [V[number]] ? unknown : 'lists fewer values than the type')): T[] => [...values];
}

/** What the codec accepts as base64 (api/routes/codec.ts). */
const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
/** A reference to a schema in SCHEMAS (untyped there, where the names are being defined; the unit test resolves every $ref). */
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', ...(description ? { description } : {}), ...extra });
const dateTime = (description?: string): JsonSchema => str(description, { format: 'date-time' });
const arrayOf = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) });
/** An object whose listed `required` properties are always present; others are optional. */
function object(properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties), description?: string): JsonSchema {
  return { type: 'object', properties, required, ...(description ? { description } : {}) };
}

// ─── Component schemas ──────────────────────────────────────────────────────────────────────────

const SCHEMAS = {
  Error: {
    ...object(
      {
        error: object(
          {
            code: str('Stable machine code: validation_failed, unauthorized, forbidden, not_found, conflict, too_many_requests, payload_too_large, internal, or one an operation names (vm_busy, …).', { examples: ['validation_failed'] }),
            message: str('What went wrong, for a person to read.'),
            fields: arrayOf(ref('FieldError'), 'On validation errors: every field at fault.'),
            plan: ref('UpdatePlan'),
            requestId: str('The request id (also the X-Request-Id header); quote it when reporting a problem.'),
          },
          ['code', 'message', 'requestId'],
        ),
      },
      ['error'],
    ),
    description: 'The body of every error answer.',
  },
  FieldError: object({
    field: str('Where the problem is: `name`, `software[2]`, `users[0].name`, `(body)` for the body as a whole.'),
    message: str('What is wrong with it.'),
  }),

  Health: object({ status: { const: 'ok' } }),
  Readiness: object(
    {
      status: { enum: ['ready', 'unavailable'] },
      checks: object({ temporal: { enum: ['ok', 'unreachable'] }, mongodb: { enum: ['ok', 'unreachable'] } }),
      failing: arrayOf({ enum: ['temporal', 'mongodb'] }, 'Present when not ready.'),
    },
    ['status', 'checks'],
  ),
  OpenApiDocument: { type: 'object', required: ['openapi', 'info', 'paths'], description: 'This document.' },

  CodecPayloads: object(
    {
      payloads: {
        ...arrayOf(
          object(
            {
              metadata: { type: 'object', additionalProperties: str('base64', { contentEncoding: 'base64', pattern: BASE64 }) },
              data: str('base64', { contentEncoding: 'base64', pattern: BASE64 }),
            },
            [],
          ),
        ),
        maxItems: 10_000,
      },
    },
    ['payloads'],
    'Temporal payloads in the remote-codec JSON form.',
  ),

  SignupRequest: annotate(fromZod(signupSchema), {
    username: {
      description: 'Case-insensitive (trimmed and lower-cased first): 3–32 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit.',
      drop: ['pattern'],
    },
    password: { description: '10–128 characters after Unicode NFKC normalisation; not one repeated character; must not contain the username.' },
  }),
  LoginRequest: fromZod(loginSchema),
  WithdrawRequest: annotate(fromZod(withdrawSchema), { password: { description: 'The member’s password, re-entered.' } }),
  Member: object({ id: str(undefined, { format: 'uuid' }), username: str(), createdAt: dateTime() }),
  LogoutAllResult: object({ revoked: { type: 'integer', description: 'Sessions revoked, this one included.' } }),
  Me: object({ id: str(undefined, { format: 'uuid' }), username: str(), createdAt: dateTime(), roles: arrayOf(str(), 'Roles stored on the member: `operator` when granted with `npm run operator -- grant`.') }),
  LoginResult: object({
    token: str('The session token: send it as `Authorization: Bearer <token>`. The same token is set as the session cookie.'),
    tokenType: { const: 'Bearer' },
    expiresAt: dateTime(),
    user: ref('Member'),
  }),
  WithdrawResult: object({
    withdrawn: { const: true },
    username: str(),
    removed: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Records removed, by kind.' },
  }),

  CreateCloudAccountRequest: { ...fromZod(createCloudAccountSchema), discriminator: { propertyName: 'kind' } },
  CloudAccount: object(
    {
      id: str(),
      kind: { enum: ['openstack', 'cloudstack'] },
      name: str(),
      scope: { enum: ['operator', 'own'], description: '`operator`: configured by the operator, usable by every member; `own`: registered by the caller.' },
      openstack: object(
        { authUrl: str(), region: str(), projectName: str(), projectDomainName: str(), username: str(), userDomainName: str() },
        ['authUrl', 'projectName', 'projectDomainName', 'username', 'userDomainName'],
      ),
      cloudstack: object({ apiUrl: str(), zoneName: str() }, ['apiUrl']),
      secrets: arrayOf(str(), 'Names of the stored secrets (never their values), e.g. ["password"] or ["apiKey", "secretKey"].'),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['id', 'kind', 'name', 'scope', 'secrets', 'createdAt', 'updatedAt'],
  ),
  CloudAccountList: object({ items: arrayOf(ref('CloudAccount'), 'The operator accounts first, then the caller’s own.') }),
  VerifyResult: {
    oneOf: [
      object(
        {
          ok: { const: true },
          kind: { enum: ['openstack', 'cloudstack'] },
          checkedAt: dateTime(),
          openstack: object(
            {
              project: object({ id: str(), name: str() }, ['id']),
              user: object({ id: str(), name: str() }, ['id']),
              services: arrayOf(str(), 'Service types in the Keystone catalog.'),
            },
            ['services'],
          ),
          cloudstack: object({ zones: arrayOf(str()) }),
        },
        ['ok', 'kind', 'checkedAt'],
      ),
      object(
        {
          ok: { const: false },
          kind: { enum: ['openstack', 'cloudstack'] },
          checkedAt: dateTime(),
          reason: { enum: unionValues<VerifyFailureReason>()(['credentials_rejected', 'unreachable', 'invalid_settings', 'endpoint_not_found', 'zone_not_found', 'cloud_error']) },
          message: str(),
          status: { type: 'integer', description: 'The cloud’s HTTP status, when it answered.' },
        },
        ['ok', 'kind', 'checkedAt', 'reason', 'message'],
      ),
    ],
  },

  Catalog: { ...fromZod(catalogSchema, 'output'), description: 'What a VM can be made of: operating systems, software and sizes.' },
  VmRequirements: { ...vmRequirements, description: 'What a VM is made of. Answers carry the validated form (software always present, SSH keys normalised).' },
  CreateVmRequest: {
    ...vmRequirements,
    properties: { ...vmRequirementProps, accountId: str('The cloud account to create the VM with; default: the operator account of `cloud`.') },
    description: 'VM requirements, plus the cloud account to use.',
  },
  VmPatch: {
    type: 'object',
    properties: Object.fromEntries(MUTABLE_REQUIREMENTS.map((k) => [k, vmRequirementProps[k]])),
    additionalProperties: false,
    minProperties: 1,
    description: 'The requirements to change; name, os and cloud are fixed for the life of the VM.',
  },
  TemplatePreview: object({
    requirements: ref('VmRequirements'),
    heat: object({
      template: { type: 'object', description: 'The Heat (HOT) template.' },
      yaml: str('The same template as YAML text.'),
      parameters: { type: 'object', additionalProperties: { type: 'string' }, description: 'Stack parameters.' },
    }),
    cloudConfig: str('The cloud-init user data.'),
  }),

  Vm: object(
    {
      id: str(),
      name: str(),
      cloud: { enum: ['openstack', 'cloudstack'] },
      accountId: str(),
      state: { enum: unionValues<VmState>()(['creating', 'active', 'updating', 'deleting', 'deleted', 'failed']) },
      requirements: ref('VmRequirements'),
      revision: { type: 'integer', description: 'Increases with every update.' },
      placement: ref('VmPlacement'),
      lastError: str(),
      history: arrayOf(
        object({ at: dateTime(), from: { type: ['string', 'null'] }, to: str(), reason: str(), workflowId: str() }, ['at', 'from', 'to', 'reason']),
        'State changes, oldest first.',
      ),
      workflowIds: arrayOf(str(), 'The VM’s workflows, newest last.'),
      createdAt: dateTime(),
      updatedAt: dateTime(),
    },
    ['id', 'name', 'cloud', 'accountId', 'state', 'requirements', 'revision', 'history', 'workflowIds', 'createdAt', 'updatedAt'],
  ),
  VmPlacement: object(
    {
      cloud: { enum: ['openstack', 'cloudstack'] },
      accountId: str(),
      serverId: str(),
      stackId: str('OpenStack: the Heat stack that owns the server.'),
      stackName: str(),
      status: str(),
      addresses: arrayOf(object({ network: str(), addr: str(), version: { enum: [4, 6] }, type: { enum: ['fixed', 'floating'] } })),
    },
    ['cloud', 'accountId', 'serverId', 'status', 'addresses'],
    'Where the VM runs now.',
  ),
  VmList: object({ vms: arrayOf(ref('Vm'), 'Newest first.') }),
  VmDetail: object({ vm: ref('Vm'), operation: ref('OperationStatus') }, ['vm']),
  UpdatePlan: {
    ...object(
      {
        inPlace: arrayOf(object({ field: str(), effect: str() }, ['field', 'effect']), 'Applied to the running server; its disk stays.'),
        replaced: arrayOf(object({ field: str(), effect: str() }, ['field', 'effect']), 'Applied by replacing the server: data written to its disk is lost.'),
        notes: arrayOf(str()),
      },
      ['inPlace', 'replaced', 'notes'],
    ),
    description: 'What a change of requirements does to the running VM (PATCH /api/v1/vms/{id}; in the 409 confirmation_required error too).',
  },
  VmAccepted: object({
    plan: ref('UpdatePlan'),
    vm: ref('Vm'),
    operation: object({
      workflowId: str(),
      started: { type: 'boolean', description: 'false when an Idempotency-Key replay or a repeated delete joined an operation already started.' },
      status: str('Path of the operation’s status (GET /api/v1/workflows/{id}).'),
      temporalUiUrl: str(undefined, { format: 'uri' }),
    }),
  }),
  OperationStatus: object(
    {
      workflowId: str(),
      status: str('Temporal’s execution status (RUNNING, COMPLETED, FAILED, …), NOT_STARTED, or UNKNOWN.', { examples: ['RUNNING'] }),
      progress: ref('WorkflowProgress'),
      temporalUiUrl: str(undefined, { format: 'uri' }),
    },
    ['workflowId', 'status', 'temporalUiUrl'],
  ),
  WorkflowProgress: object(
    {
      kind: str(),
      status: { enum: unionValues<WorkflowRunStatus>()(['running', 'completed', 'failed', 'compensating']) },
      step: str('The step running now (or the last one when finished).'),
      steps: arrayOf(str()),
      stepsDone: arrayOf(str()),
      lastError: str(),
      detail: str('Free-form detail of the current step.'),
      tasks: arrayOf(
        object(
          {
            name: str(),
            state: { enum: unionValues<TaskProgress['state']>()(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']) },
            requires: arrayOf(str()),
            error: str(),
            startedAt: dateTime(),
            finishedAt: dateTime(),
          },
          ['name', 'state', 'requires'],
        ),
      ),
      updatedAt: dateTime(),
    },
    ['kind', 'status', 'step', 'steps', 'stepsDone', 'updatedAt'],
  ),

  // The zod refine "exactly one of intervalSeconds and cron" has no JSON Schema form of its own.
  // (Each branch names its property's type too, which z.fromJSONSchema needs to enforce `required`.)
  BackupPolicyRequest: {
    ...fromZod(backupPolicySchema(1)),
    oneOf: [
      { type: 'object', properties: { intervalSeconds: { type: 'integer' } }, required: ['intervalSeconds'] },
      { type: 'object', properties: { cron: { type: 'string' } }, required: ['cron'] },
    ],
    description: 'A backup period (exactly one of intervalSeconds and cron, UTC), how many backups to keep, and where standbys go. The shortest period allowed is VMFLOW_BACKUP_MIN_INTERVAL_SECONDS.',
  },
  BackupPolicyPatch: { type: 'object', description: 'Some fields of BackupPolicyRequest; a new period replaces the other kind.', additionalProperties: true },
  BackupPolicy: object(
    {
      intervalSeconds: { type: 'integer' },
      cron: str(),
      retention: { type: 'integer', description: 'The newest N good backups are kept.' },
      targets: object({ baseStandby: { type: 'boolean' }, backupCloudStandby: { type: 'boolean' } }),
      paused: { type: 'boolean' },
      backupAccountId: str('The CloudStack account that holds the backup-cloud standby.'),
      schedule: object({
        scheduleId: str(),
        paused: { type: 'boolean' },
        nextRuns: arrayOf(dateTime()),
        recentRuns: arrayOf(object({ scheduledAt: dateTime(), workflowId: str() })),
        runs: { type: 'integer' },
        skippedOverlaps: { type: 'integer' },
      }),
    },
    ['retention', 'targets', 'paused', 'backupAccountId'],
  ),
  Backup: object(
    {
      id: str(),
      vmId: str(),
      workflowId: str(),
      trigger: { enum: ['schedule', 'manual', 'failback'] },
      status: { enum: ['running', 'succeeded', 'partial', 'failed', 'skipped', 'cancelled'] },
      reason: str('Why a task failed (partial or failed).'),
      startedAt: dateTime(),
      finishedAt: dateTime(),
      image: object({ id: str(), name: str(), size: { type: 'integer' }, checksum: str('MD5, as Glance reports it.'), osHashAlgo: str(), osHashValue: str() }),
      store: object({ size: { type: 'integer' }, sha256: str(), md5: str() }),
      template: object({ id: str(), name: str(), size: { type: 'integer' } }),
      baseStandby: object({ serverId: str(), name: str() }),
      backupCloudStandby: object({ csVmId: str(), name: str() }),
      tasks: arrayOf({ type: 'object' }, 'Each task of the backup graph and its state.'),
      retiredAt: dateTime(),
    },
    ['id', 'vmId', 'workflowId', 'trigger', 'status', 'startedAt', 'tasks'],
  ),
  BackupList: object({ backups: arrayOf(ref('Backup'), 'Newest first.') }),
  WorkflowAccepted: object({
    workflowId: str(),
    started: { type: 'boolean' },
    status: str('Path of the workflow’s status (GET /api/v1/workflows/{id}).'),
    temporalUiUrl: str(undefined, { format: 'uri' }),
  }, ['workflowId', 'status', 'temporalUiUrl']),
  RestoreRequest: { ...object({ backupId: str('Default: the newest backup with an image.', { minLength: 1, maxLength: 100 }) }, []), additionalProperties: false },

  DrSettingsRequest: { ...fromZod(drSettingsSchema), description: 'Protect the VM (enabled, default true) and how failback happens; optionally drills on a schedule.' },
  DrState: object(
    {
      vmId: str(),
      state: { enum: ['Protected', 'Degraded', 'FailingOver', 'FailedOver', 'FailingBack'] },
      target: { enum: ['base-standby', 'backup-cloud'] },
      settings: object({ failbackMode: { enum: ['automatic', 'approval'] }, failbackAfterHealthySeconds: { type: 'integer' } }),
      baseCloudHealthy: { type: 'boolean' },
      baseHealthySince: dateTime(),
      vmHealthy: { type: 'boolean' },
      awaitingApproval: { type: 'boolean' },
      fencePending: object({ cloud: str(), accountId: str(), serverId: str() }),
      lastRpoSeconds: { type: 'number' },
      lastRtoSeconds: { type: 'number' },
      lastError: str(),
      failbackRetry: object({ failures: { type: 'integer' }, nextAttemptAt: dateTime(), gaveUp: { type: 'boolean' } }, ['failures', 'gaveUp']),
      recentEvents: arrayOf(object({ at: dateTime(), kind: str(), message: str() })),
      step: str(),
      updatedAt: dateTime(),
    },
    ['vmId', 'state', 'settings', 'baseCloudHealthy', 'vmHealthy', 'awaitingApproval', 'recentEvents', 'updatedAt'],
  ),
  DrEvent: object(
    {
      id: str(),
      vmId: str(),
      kind: str('disaster.vm, disaster.cloud, failover.started, failover.completed, failover.failed, failback.waiting-approval, failback.started, failback.completed, failback.failed, failback.gave-up, backup.paused, disaster.live-copy, live-copy.recovered, cloud.recovered, fence.completed, drill.completed, drill.failed'),
      message: str(),
      at: dateTime(),
      rpoSeconds: { type: 'number', description: 'Age of the backup the failover used.' },
      rtoSeconds: { type: 'number', description: 'From the first failed check to the switch completing.' },
      details: { type: 'object' },
      delivery: object({ status: { enum: ['pending', 'delivered', 'failed', 'disabled'] }, attempts: { type: 'integer' } }),
    },
    ['id', 'vmId', 'kind', 'message', 'at'],
  ),
  DrView: object(
    {
      vmId: str(),
      protected: { type: 'boolean' },
      settings: object({ failbackMode: { enum: ['automatic', 'approval'] }, failbackAfterHealthySeconds: { type: 'integer' } }),
      state: ref('DrState'),
      lastRpoSeconds: { type: 'number' },
      lastRtoSeconds: { type: 'number' },
      rpoSecondsNow: { type: 'number', description: 'Age of the newest backup with an image: what a disaster now would lose. It grows while backups are paused (the VM runs in the backup cloud).' },
      backupsPaused: str('Why scheduled backups do not run now (absent when they do).'),
      events: arrayOf(ref('DrEvent'), 'Newest first (50 at most).'),
    },
    ['vmId', 'protected', 'events'],
  ),
  DrUnprotected: object({ vmId: str(), protected: { const: false } }, ['vmId', 'protected']),
  DrAccepted: object({ state: ref('DrState') }, ['state']),
  FailoverRequest: {
    ...object({ target: { enum: ['base-standby', 'backup-cloud'], description: 'Default: base-standby when the base cloud is healthy, else backup-cloud.' }, reason: str(undefined, { maxLength: 500 }) }, []),
    additionalProperties: false,
  },
  DrillRequest: { ...object({ target: { enum: ['base-standby', 'backup-cloud'], default: 'backup-cloud' } }, []), additionalProperties: false },
  DrillAccepted: object({ workflowId: str(), status: str(), temporalUiUrl: str(undefined, { format: 'uri' }) }, ['workflowId', 'status', 'temporalUiUrl']),
  DrillList: object({
    drills: arrayOf(
      object(
        { id: str(), workflowId: str(), target: str(), ok: { type: 'boolean' }, bootSeconds: { type: 'number' }, rpoSeconds: { type: 'number' }, backupId: str(), cleanedUp: { type: 'boolean' }, error: str(), startedAt: dateTime(), finishedAt: dateTime() },
        ['id', 'target', 'ok', 'cleanedUp', 'startedAt', 'finishedAt'],
      ),
    ),
  }),
  EventList: object({ events: arrayOf(ref('DrEvent'), 'Newest first.') }),
} satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof SCHEMAS;

// ─── Responses, parameters, headers ─────────────────────────────────────────────────────────────

const HEADER_REFS = {
  location: { Location: { $ref: '#/components/headers/Location' } },
  setCookie: { 'Set-Cookie': { $ref: '#/components/headers/SetCookie' } },
} as const;
const LOCATION = HEADER_REFS.location;

function json(schema: SchemaName, description: string, headers?: Record<string, JsonSchema>): ResponseDoc {
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': { schema: ref(schema) } } };
}
const noContent = (description: string, headers?: Record<string, JsonSchema>): ResponseDoc => ({ description, ...(headers ? { headers } : {}) });

function errorResponse(status: number, description: string, auth: Auth): ResponseDoc {
  return {
    description,
    headers: {
      'X-Request-Id': { $ref: '#/components/headers/XRequestId' },
      ...(status === 401 && auth !== 'public' ? { 'WWW-Authenticate': { $ref: '#/components/headers/WWWAuthenticate' } } : {}),
      ...(status === 429 || status === 503 ? { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } : {}),
    },
    content: { 'application/json': { schema: ref('Error') } },
  };
}

const VM_ID: ParamDoc = { description: 'The VM id.', schema: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' } };
const CLOUD_ACCOUNT_ID: ParamDoc = { description: 'The cloud account id.', schema: { type: 'string', minLength: 1, maxLength: 128 } };
const WORKFLOW_ID: ParamDoc = { description: 'A workflow id, as answered in `operation.workflowId`.', schema: { type: 'string', minLength: 1, maxLength: 300 } };
const IDEMPOTENCY_KEY: ParamDoc = {
  description: 'Repeating a create with the same key answers the same VM (202, `started: false`) instead of making another; the same key with a different body answers 409 idempotency_key_reused.',
  schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' },
  required: false,
};
const X_NAMESPACE: ParamDoc = { description: 'Sent by the Temporal UI; must name the namespace this deployment serves (403 otherwise).', schema: { type: 'string' }, required: false };

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  public: [],
  session: [{ bearerAuth: [] }, { sessionCookie: [] }],
  codec: [{ codecToken: [] }, { bearerAuth: [] }, { sessionCookie: [] }],
};

const SECURITY_SCHEMES = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token POST /api/v1/auth/login answers: `Authorization: Bearer <token>`. Wins over the cookie when both are sent.' },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The httpOnly SameSite=Strict cookie login sets, for the web page. With the cookie, POST, PATCH and DELETE also need `Content-Type: application/json` or an `X-Requested-With` header.',
  },
  codecToken: { type: 'http', scheme: 'bearer', description: 'The operator token VMFLOW_CODEC_TOKEN (codec endpoint only; an operator member’s session works too).' },
};

const HEADERS = {
  XRequestId: { description: 'The request id: the caller’s X-Request-Id when it is 1–64 of [A-Za-z0-9_.-], a new UUID otherwise. Sent on every answer.', schema: { type: 'string' } },
  RetryAfter: { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
  Location: { description: 'Where the resource can be read.', schema: { type: 'string' } },
  WWWAuthenticate: { description: 'The authentication scheme (Bearer).', schema: { type: 'string' } },
  SetCookie: { description: `The \`${SESSION_COOKIE}\` session cookie (httpOnly, SameSite=Strict).`, schema: { type: 'string' } },
};

// ─── Routes ─────────────────────────────────────────────────────────────────────────────────────

export const ROUTES: RouteDoc[] = [
  // Health (api/app.ts)
  { method: 'get', path: '/healthz', operationId: 'health', tag: 'health', auth: 'public', summary: 'Liveness: the process answers', responses: { 200: json('Health', 'alive') } },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'readiness',
    tag: 'health',
    auth: 'public',
    summary: 'Readiness: Temporal and MongoDB reachable',
    responses: { 200: json('Readiness', 'ready'), 503: json('Readiness', 'a dependency is unreachable; `failing` names it') },
  },

  // Temporal remote codec (api/routes/codec.ts)
  ...(['encode', 'decode'] as const).map(
    (op): RouteDoc => ({
      method: 'post',
      path: `/codec/${op}`,
      operationId: `codec${op[0].toUpperCase()}${op.slice(1)}`,
      tag: 'codec',
      auth: 'codec',
      summary: `${op === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (remote codec for the Temporal UI and CLI)`,
      description: 'CORS for the origins in VMFLOW_CODEC_CORS_ORIGINS (preflight included). Body limit 16 MB.',
      headers: { 'X-Namespace': X_NAMESPACE },
      body: 'CodecPayloads',
      responses: { 200: json('CodecPayloads', `the payloads ${op}d, in order`) },
      errors: {
        400: op === 'decode' ? 'validation_failed, or payload_undecodable: a payload does not decrypt with any key' : 'validation_failed: the body names the field',
        401: 'neither the operator token nor a live session',
        403: 'forbidden: the session is not an operator’s, the origin is not allowed, or X-Namespace names another namespace',
      },
    }),
  ),

  // API meta
  { method: 'get', path: '/api/v1/openapi.json', operationId: 'openApiDocument', tag: 'meta', auth: 'public', summary: 'This OpenAPI document', responses: { 200: json('OpenApiDocument', 'the document') } },

  // Accounts and sessions (api/routes/auth.ts)
  {
    method: 'post',
    path: '/api/v1/auth/signup',
    operationId: 'signup',
    tag: 'auth',
    auth: 'public',
    summary: 'Sign up',
    body: 'SignupRequest',
    responses: { 201: json('Member', 'the new member') },
    errors: { 400: 'validation_failed: the username or password breaks the rules, or the username is reserved (fields name which)', 409: 'username_taken' },
  },
  {
    method: 'post',
    path: '/api/v1/auth/login',
    operationId: 'login',
    tag: 'auth',
    auth: 'public',
    summary: 'Log in: a session token, also set as the session cookie',
    body: 'LoginRequest',
    responses: { 200: json('LoginResult', 'a new session', HEADER_REFS.setCookie) },
    errors: { 401: 'invalid_credentials', 429: 'too_many_requests: too many attempts for this username or address' },
  },
  { method: 'post', path: '/api/v1/auth/logout', operationId: 'logout', tag: 'auth', summary: 'Log out: revoke this session and clear the cookie', responses: { 204: noContent('logged out', HEADER_REFS.setCookie) } },
  { method: 'get', path: '/api/v1/auth/me', operationId: 'me', tag: 'auth', summary: 'Who am I', responses: { 200: json('Me', 'the signed-in member') } },
  {
    method: 'post',
    path: '/api/v1/auth/logout-all',
    operationId: 'logoutEverywhere',
    tag: 'auth',
    summary: 'Log out everywhere: revoke every session of the caller, this one included',
    responses: { 200: json('LogoutAllResult', 'how many sessions were revoked; the cookie is cleared') },
  },
  {
    method: 'delete',
    path: '/api/v1/auth/me',
    operationId: 'withdraw',
    tag: 'auth',
    summary: 'Withdraw: delete the member and their data',
    body: 'WithdrawRequest',
    responses: { 200: json('WithdrawResult', 'the member and their records are gone', HEADER_REFS.setCookie) },
    errors: { 403: 'wrong_password', 409: 'member_owns_vms: delete the VMs first', 429: 'too_many_requests: too many wrong passwords' },
  },

  // Cloud accounts (api/routes/cloud-accounts.ts)
  {
    method: 'post',
    path: '/api/v1/cloud-accounts',
    operationId: 'createCloudAccount',
    tag: 'cloud-accounts',
    summary: 'Register a cloud account (secrets are stored encrypted, never answered)',
    body: 'CreateCloudAccountRequest',
    responses: { 201: json('CloudAccount', 'registered', LOCATION) },
    errors: { 400: 'validation_failed, or url_not_allowed: authUrl / apiUrl leads to a loopback, private, link-local or otherwise non-public address (fields name which)' },
  },
  { method: 'get', path: '/api/v1/cloud-accounts', operationId: 'listCloudAccounts', tag: 'cloud-accounts', summary: 'The operator’s and the caller’s cloud accounts', responses: { 200: json('CloudAccountList', 'the accounts the caller may use') } },
  {
    method: 'get',
    path: '/api/v1/cloud-accounts/{id}',
    operationId: 'getCloudAccount',
    tag: 'cloud-accounts',
    summary: 'One cloud account',
    params: { id: CLOUD_ACCOUNT_ID },
    responses: { 200: json('CloudAccount', 'the account') },
    errors: { 400: 'invalid id', 404: 'no such account, or another member’s' },
  },
  {
    method: 'delete',
    path: '/api/v1/cloud-accounts/{id}',
    operationId: 'deleteCloudAccount',
    tag: 'cloud-accounts',
    summary: 'Delete one of the caller’s cloud accounts',
    params: { id: CLOUD_ACCOUNT_ID },
    responses: { 204: noContent('deleted') },
    errors: { 400: 'invalid id', 403: 'forbidden: operator accounts are managed through the configuration', 404: 'no such account, or another member’s' },
  },
  {
    method: 'post',
    path: '/api/v1/cloud-accounts/{id}/verify',
    operationId: 'verifyCloudAccount',
    tag: 'cloud-accounts',
    summary: 'Check the credentials against the cloud',
    params: { id: CLOUD_ACCOUNT_ID },
    responses: { 200: json('VerifyResult', 'what the cloud said (`ok: false` with a reason when it refused)') },
    errors: { 400: 'invalid id, or url_not_allowed: the account’s URL leads to a non-public address; nothing was sent (fields name which)', 404: 'no such account, or another member’s' },
  },

  // Catalog and template preview (api/routes/catalog.ts)
  { method: 'get', path: '/api/v1/catalog', operationId: 'getCatalog', tag: 'catalog', auth: 'public', summary: 'Operating systems, software and sizes to choose from', responses: { 200: json('Catalog', 'the catalog') } },
  {
    method: 'post',
    path: '/api/v1/templates',
    operationId: 'previewTemplates',
    tag: 'catalog',
    summary: 'Preview the Heat template, stack parameters and cloud-init a VM would get',
    body: 'VmRequirements',
    responses: { 200: json('TemplatePreview', 'the rendered templates') },
    errors: { 400: 'validation_failed: fields name every bad requirement, catalog checks included' },
  },

  // VMs and their workflows (api/routes/vms.ts)
  {
    method: 'post',
    path: '/api/v1/vms',
    operationId: 'createVm',
    tag: 'vms',
    summary: 'Create a VM (starts the createVm workflow)',
    headers: { 'Idempotency-Key': IDEMPOTENCY_KEY },
    body: 'CreateVmRequest',
    responses: { 202: json('VmAccepted', 'the VM record and its create workflow', LOCATION) },
    errors: { 400: 'validation_failed: fields name every bad requirement, accountId or the Idempotency-Key header', 409: 'idempotency_key_reused: the key was used for a different request' },
  },
  {
    method: 'get',
    path: '/api/v1/vms',
    operationId: 'listVms',
    tag: 'vms',
    summary: 'The caller’s VMs',
    query: { includeDeleted: { description: '`true` lists deleted VMs too.', schema: { type: 'string', enum: ['true', 'false'], default: 'false' }, required: false } },
    responses: { 200: json('VmList', 'the VMs') },
    errors: { 400: 'validation_failed: includeDeleted is not true or false' },
  },
  {
    method: 'get',
    path: '/api/v1/vms/{id}',
    operationId: 'getVm',
    tag: 'vms',
    summary: 'One VM, with the live progress of its newest workflow',
    params: { id: VM_ID },
    responses: { 200: json('VmDetail', 'the VM') },
    errors: { 400: 'invalid id', 404: 'no such VM, or another member’s' },
  },
  {
    method: 'patch',
    path: '/api/v1/vms/{id}',
    operationId: 'updateVm',
    tag: 'vms',
    summary: 'Change size, software, keys, users or commands (starts the updateVm workflow)',
    params: { id: VM_ID },
    query: { confirm: { description: '`replace`: go ahead with a change that replaces the server (OpenStack: new cloud-init user data). Without it such a change is refused with 409 confirmation_required and its plan.', schema: { type: 'string', enum: ['replace'] }, required: false } },
    body: 'VmPatch',
    responses: { 202: json('VmAccepted', 'the update workflow started; `plan` says what it does', LOCATION) },
    errors: { 400: 'validation_failed: a fixed or unknown field, nothing to change, a bad requirement, or confirm other than replace', 404: 'no such VM, or another member’s', 409: 'vm_busy: the VM is not active or another change runs; vm_failed_over: it runs on a DR standby until failback; confirmation_required: the change replaces the server (error.plan says what changes how)' },
  },
  {
    method: 'delete',
    path: '/api/v1/vms/{id}',
    operationId: 'deleteVm',
    tag: 'vms',
    summary: 'Delete a VM (starts the deleteVm workflow; a running delete is joined)',
    params: { id: VM_ID },
    responses: { 202: json('VmAccepted', 'the delete workflow started or joined', LOCATION) },
    errors: { 400: 'invalid id', 404: 'no such VM, or another member’s', 409: 'vm_deleted, or vm_busy: the VM is being created or updated' },
  },
  // Backups (api/routes/backups.ts)
  { method: 'get', path: '/api/v1/vms/{id}/backup-policy', operationId: 'getBackupPolicy', tag: 'backups', summary: 'The VM’s backup policy and its schedule', params: { id: VM_ID }, responses: { 200: json('BackupPolicy', 'the policy') }, errors: { 400: 'invalid id', 404: 'no such VM or no policy' } },
  { method: 'put', path: '/api/v1/vms/{id}/backup-policy', operationId: 'setBackupPolicy', tag: 'backups', summary: 'Set the backup policy (creates or updates the VM’s Temporal Schedule)', params: { id: VM_ID }, body: 'BackupPolicyRequest', responses: { 200: json('BackupPolicy', 'the policy') }, errors: { 400: 'validation_failed: names the bad field', 404: 'no such VM, or another member’s', 409: 'not_backupable: the VM runs in CloudStack; vm_deleted' } },
  { method: 'patch', path: '/api/v1/vms/{id}/backup-policy', operationId: 'patchBackupPolicy', tag: 'backups', summary: 'Change some fields of the backup policy', params: { id: VM_ID }, body: 'BackupPolicyPatch', responses: { 200: json('BackupPolicy', 'the policy') }, errors: { 400: 'validation_failed: names the bad field', 404: 'no such VM, or another member’s', 409: 'not_backupable; vm_deleted' } },
  { method: 'post', path: '/api/v1/vms/{id}/backup-policy/pause', operationId: 'pauseBackups', tag: 'backups', summary: 'Pause scheduled backups', params: { id: VM_ID }, responses: { 200: json('BackupPolicy', 'the policy') }, errors: { 400: 'validation_failed: no policy yet', 404: 'no such VM, or another member’s', 409: 'not_backupable; vm_deleted' } },
  { method: 'post', path: '/api/v1/vms/{id}/backup-policy/resume', operationId: 'resumeBackups', tag: 'backups', summary: 'Resume scheduled backups', params: { id: VM_ID }, responses: { 200: json('BackupPolicy', 'the policy') }, errors: { 400: 'validation_failed: no policy yet', 404: 'no such VM, or another member’s', 409: 'not_backupable; vm_deleted' } },
  { method: 'post', path: '/api/v1/vms/{id}/backups', operationId: 'runBackup', tag: 'backups', summary: 'Back the VM up now (starts the backupVm workflow)', params: { id: VM_ID }, responses: { 202: json('WorkflowAccepted', 'the backup workflow started', LOCATION) }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s', 409: 'not_backupable; vm_busy: the VM is not active' } },
  { method: 'get', path: '/api/v1/vms/{id}/backups', operationId: 'listBackups', tag: 'backups', summary: 'The VM’s backups with each task’s outcome, sizes and checksums', params: { id: VM_ID }, responses: { 200: json('BackupList', 'the backups') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s' } },
  { method: 'post', path: '/api/v1/vms/{id}/restore', operationId: 'restoreVm', tag: 'backups', summary: 'Rebuild the VM in the base cloud from a backup (starts the restoreVm workflow)', params: { id: VM_ID }, headers: { 'Idempotency-Key': IDEMPOTENCY_KEY }, body: 'RestoreRequest', bodyOptional: true, responses: { 202: json('WorkflowAccepted', 'the restore workflow started or joined', LOCATION) }, errors: { 400: 'validation_failed', 404: 'no such VM or backup', 409: 'no_backup, backup_unusable, not_backupable, vm_busy or vm_failed_over (runs on a DR standby until failback)' } },
  // Disaster recovery (api/routes/dr.ts)
  { method: 'get', path: '/api/v1/vms/{id}/dr', operationId: 'getDr', tag: 'dr', summary: 'DR state, settings, last RPO/RTO and recent events', params: { id: VM_ID }, responses: { 200: json('DrView', 'the DR view') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s' } },
  { method: 'put', path: '/api/v1/vms/{id}/dr', operationId: 'protectVm', tag: 'dr', summary: 'Protect the VM (starts its DR workflow and the monitor of its cloud) or change its settings', params: { id: VM_ID }, body: 'DrSettingsRequest', bodyOptional: true, responses: { 200: json('DrView', 'the DR view') }, errors: { 400: 'validation_failed: names the bad field', 404: 'no such VM, or another member’s', 409: 'not_protectable: a CloudStack VM; vm_deleted' } },
  { method: 'delete', path: '/api/v1/vms/{id}/dr', operationId: 'unprotectVm', tag: 'dr', summary: 'Stop protecting the VM', params: { id: VM_ID }, responses: { 200: json('DrUnprotected', 'no longer protected') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s' } },
  { method: 'post', path: '/api/v1/vms/{id}/dr/failover', operationId: 'failover', tag: 'dr', summary: 'Fail over now (a Temporal update; refused unless Protected or Degraded)', params: { id: VM_ID }, body: 'FailoverRequest', bodyOptional: true, responses: { 202: json('DrAccepted', 'failover accepted; follow GET /vms/{id}/dr') }, errors: { 400: 'validation_failed', 404: 'no such VM, or another member’s', 409: 'dr_refused: the state does not allow it; not_protected', 503: 'dr_unavailable: the DR workflow cannot take commands right now (Retry-After)' } },
  { method: 'post', path: '/api/v1/vms/{id}/dr/failback', operationId: 'failback', tag: 'dr', summary: 'Fail back now (refused unless failed over to the backup cloud with the base cloud healthy)', params: { id: VM_ID }, responses: { 202: json('DrAccepted', 'failback accepted') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s', 409: 'dr_refused; not_protected', 503: 'dr_unavailable: the DR workflow cannot take commands right now (Retry-After)' } },
  { method: 'post', path: '/api/v1/vms/{id}/dr/approve', operationId: 'approveFailback', tag: 'dr', summary: 'Approve a failback that waits for approval', params: { id: VM_ID }, responses: { 202: json('DrAccepted', 'approved') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s', 409: 'dr_refused: nothing waits for approval; not_protected', 503: 'dr_unavailable: the DR workflow cannot take commands right now (Retry-After)' } },
  { method: 'post', path: '/api/v1/vms/{id}/dr/drill', operationId: 'runDrill', tag: 'dr', summary: 'Boot an isolated copy from the latest backup, time it and tear it down (starts the drDrill workflow)', params: { id: VM_ID }, body: 'DrillRequest', bodyOptional: true, responses: { 202: json('DrillAccepted', 'the drill started', LOCATION) }, errors: { 400: 'validation_failed', 404: 'no such VM, or another member’s' } },
  { method: 'get', path: '/api/v1/vms/{id}/dr/drills', operationId: 'listDrills', tag: 'dr', summary: 'Drill reports, newest first', params: { id: VM_ID }, responses: { 200: json('DrillList', 'the reports') }, errors: { 400: 'invalid id', 404: 'no such VM, or another member’s' } },
  {
    method: 'get',
    path: '/api/v1/events',
    operationId: 'listEvents',
    tag: 'dr',
    summary: 'The caller’s disaster, failover, failback and drill events',
    query: {
      vmId: { description: 'Only this VM’s events.', schema: VM_ID.schema, required: false },
      limit: { description: 'At most this many (1–500, default 100).', schema: { type: 'integer', minimum: 1, maximum: 500 }, required: false },
    },
    responses: { 200: json('EventList', 'the events') },
    errors: { 400: 'validation_failed: a bad query parameter' },
  },
  {
    method: 'get',
    path: '/api/v1/workflows/{id}',
    operationId: 'getWorkflow',
    tag: 'workflows',
    summary: 'Status and progress of one of the caller’s workflows',
    params: { id: WORKFLOW_ID },
    responses: { 200: json('OperationStatus', 'the workflow’s status') },
    errors: { 400: 'invalid id', 404: 'no such workflow, or another member’s' },
  },
];

const TAG_DESCRIPTIONS: Record<string, string> = {
  health: 'Liveness and readiness probes (no session).',
  codec: 'Temporal remote codec: encrypted workflow payloads for operators.',
  meta: 'This document.',
  auth: 'Sign-up, sessions and withdrawal.',
  'cloud-accounts': 'Cloud credentials a member registers (OpenStack, CloudStack).',
  catalog: 'What a VM can be made of, and the templates it renders to.',
  vms: 'VM lifecycle: each change runs as a Temporal workflow.',
  workflows: 'Status and progress of VM workflows.',
  backups: 'Backup policies (a Temporal Schedule per VM), backups and restore.',
  dr: 'Disaster recovery: protection, failover, failback, drills and events.',
};

// ─── The document ───────────────────────────────────────────────────────────────────────────────

function operation(r: RouteDoc): JsonSchema {
  const auth = r.auth ?? 'session';
  const inPath = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  for (const name of Object.keys(r.params ?? {})) {
    if (!inPath.includes(name)) throw new Error(`openapi: ${r.operationId} documents path parameter ${name}, which ${r.path} lacks`);
  }
  const parameter = (where: 'path' | 'query' | 'header') => ([name, p]: [string, ParamDoc]) => ({
    name,
    in: where,
    description: p.description,
    required: where === 'path' ? true : (p.required ?? false),
    schema: p.schema,
  });
  const parameters = [
    ...inPath.map((name) => [name, r.params?.[name] ?? { description: name, schema: { type: 'string' } }] as [string, ParamDoc]).map(parameter('path')),
    ...Object.entries(r.query ?? {}).map(parameter('query')),
    ...Object.entries(r.headers ?? {}).map(parameter('header')),
  ];

  // What every route of its kind can answer, unless the route says more precisely.
  const errors: Record<number, string> = {};
  if (r.body) {
    errors[400] = 'validation_failed: the body is not valid JSON or breaks the schema; `fields` names every problem';
    errors[413] = 'payload_too_large';
  }
  if (auth === 'session') errors[401] = 'unauthorized: no live session';
  Object.assign(errors, r.errors);
  const responses: Record<string, ResponseDoc> = {};
  for (const [status, res] of Object.entries(r.responses)) responses[status] = res;
  for (const [status, meaning] of Object.entries(errors)) responses[status] = errorResponse(Number(status), meaning, auth);

  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(r.body ? { requestBody: { required: !r.bodyOptional, content: { 'application/json': { schema: ref(r.body) } } } } : {}),
    responses,
    security: SECURITY[auth],
  };
}

export function buildOpenApiDocument(opts: { serverUrl?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of ROUTES) {
    const item = (paths[r.path] ??= {});
    if (item[r.method]) throw new Error(`openapi: ${r.method.toUpperCase()} ${r.path} is documented twice in ROUTES`);
    item[r.method] = operation(r);
  }
  const tags = [...new Set(ROUTES.map((r) => r.tag))].map((name) => ({ name, ...(TAG_DESCRIPTIONS[name] ? { description: TAG_DESCRIPTIONS[name] } : {}) }));
  // A deep copy: callers (and the route's cache) never share the module's schema objects.
  return structuredClone({
    openapi: '3.1.0',
    info: {
      title: 'vmflow API',
      version: '1',
      description:
        'Durable VM lifecycle, backup and disaster recovery across OpenStack and CloudStack. Sign up and log in under /api/v1/auth, then send the token as `Authorization: Bearer <token>`. ' +
        'Every error answer has the body `{error: {code, message, fields?, requestId}}`; every answer carries X-Request-Id.',
    },
    servers: [{ url: opts.serverUrl ?? '/' }],
    tags,
    paths,
    components: { schemas: SCHEMAS, securitySchemes: SECURITY_SCHEMES, headers: HEADERS },
  });
}

/** GET /api/v1/openapi.json: the document, built on first request. */
export function openApiRoute(): RequestHandler {
  let doc: Record<string, unknown> | undefined;
  return (_req, res) => {
    doc ??= buildOpenApiDocument();
    res.json(doc);
  };
}

// ─── What Express serves ────────────────────────────────────────────────────────────────────────

export interface ServedRoute {
  /** Upper case: GET, POST, …; `ALL` for `.all()` routes (which the document cannot express). */
  method: string;
  /** OpenAPI form: `{name}` for Express's `:name`. */
  path: string;
}

/** The slice of router ≥ 2.3's public API this module uses. */
interface ListableRouter {
  listRoutes?(): Array<{ path: string | RegExp; methods?: string[]; router?: ListableRouter }>;
}

function joinPaths(prefix: string, path: string): string {
  return `${prefix.replace(/\/+$/, '')}${path === '/' ? '' : path}` || '/';
}

/** Express 5 `:name` → OpenAPI `{name}`; refuses path syntax OpenAPI cannot state. */
export function toOpenApiPath(expressPath: string): string {
  if (/[*?(){}]/.test(expressPath)) throw new Error(`route ${expressPath} uses Express wildcard or optional syntax, which OpenAPI paths cannot state; give it plain :params`);
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

/**
 * Every (method, path) the app routes, mounted routers included. Express 5's layers keep no path
 * regexp, so the mount prefixes come from Router#listRoutes() — public API of the `router` package
 * since 2.3 (the lockfile's version) — which gives each layer's path as registered plus the mounted
 * router to recurse into. That beats tagging routers or a table of mounts: a router mounted later is
 * found without anyone remembering to register it. An older router (Express asks for ^2.2) fails
 * loudly here rather than listing nothing. Automatic HEAD (from GET) is left out; plain middleware is
 * not a route.
 */
export function listExpressRoutes(app: Express): ServedRoute[] {
  const out = new Map<string, ServedRoute>();
  const walk = (router: ListableRouter, prefix: string) => {
    if (typeof router.listRoutes !== 'function') throw new Error('listExpressRoutes needs Router#listRoutes (the router package ≥ 2.3)');
    for (const layer of router.listRoutes()) {
      if (typeof layer.path !== 'string') throw new Error(`a route under ${prefix || '/'} is a RegExp (${String(layer.path)}), which OpenAPI paths cannot state`);
      const path = joinPaths(prefix, layer.path);
      if (layer.router) {
        walk(layer.router, path);
        continue;
      }
      const methods = layer.methods ?? [];
      for (const m of methods) {
        if (m === 'HEAD' && methods.includes('GET')) continue;
        const route = { method: m === '*' ? 'ALL' : m, path: toOpenApiPath(path) };
        out.set(`${route.method} ${route.path}`, route);
      }
    }
  };
  walk(app.router as unknown as ListableRouter, '');
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * A zod validator for one of the document's schemas (z.fromJSONSchema, references resolved), so a
 * client or a test can check an answer against what the document promises.
 */
export function documentedSchema(name: SchemaName, doc: Record<string, unknown> = buildOpenApiDocument()): z.ZodType {
  const schemas = (doc.components as { schemas: Record<string, JsonSchema> }).schemas;
  const defs = JSON.parse(JSON.stringify(schemas).replaceAll('"#/components/schemas/', '"#/$defs/')) as Record<string, JsonSchema>;
  return z.fromJSONSchema({ $ref: `#/$defs/${name}`, $defs: defs } as Parameters<typeof z.fromJSONSchema>[0]);
}
