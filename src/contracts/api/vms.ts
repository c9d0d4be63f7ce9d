/**
 * VMs and their workflows (api/routes/vms.ts): requirements in, the VM record and its operation
 * out. VmService returns these types, so a field the contract lacks is a compile error there.
 * Pure zod, no I/O.
 */
import { z } from 'zod';
import { guestHealthCheckSchema } from '../../dr/guest-checks';
import { vmRequirementsSchema as requirementsSchema } from '../../templates/requirements';
import type { VmPlacement } from '../vm';
import { assertSameType, dateTime, operationStatusSchema, updatePlanSchema, nextCursorField, pageQueryFieldsUpTo } from './common';

const CLOUDS = ['openstack', 'cloudstack'] as const;
const VM_STATES = ['creating', 'active', 'updating', 'deleting', 'deleted', 'failed'] as const;

export const vmRequirementsSchema = requirementsSchema.meta({
  id: 'VmRequirements',
  description: 'What a VM is made of. Answers carry the validated form (software always present, SSH keys normalised).',
});

/** Fields a PATCH may change; name, os and cloud are fixed for the life of the VM. */
export const MUTABLE_REQUIREMENTS = ['size', 'software', 'sshPublicKeys', 'users', 'runcmd', 'packagesUpdate'] as const;

/** The VM id in `/vms/:id`. */
export const vmIdParam = z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not a VM id').meta({ description: 'The VM id.' });
export const vmParams = z.object({ id: vmIdParam });

export const idempotencyKeyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .meta({
      description:
        'Repeating the request with the same key answers what the first one started (202, `started: false`) instead of starting another; the same key with a different body answers 409 idempotency_key_reused.',
    }),
});

/**
 * A member's whole list fits one page of the largest size (the console's My VMs reads it in one
 * round trip instead of five; QUOTA_VMS is usually well below it).
 */
export const VMS_PAGE_MAX = 500;

export const listVmsQuery = z.object({
  includeDeleted: z.enum(['true', 'false'], { error: 'true or false' }).optional().meta({ description: '`true` lists deleted VMs too.', default: 'false' }),
  ...pageQueryFieldsUpTo(VMS_PAGE_MAX),
});

export const updateVmQuery = z.object({
  confirm: z
    .literal('replace', { error: 'must be replace' })
    .optional()
    .meta({ description: '`replace`: go ahead with a change that replaces the server (OpenStack: new cloud-init user data). Without it such a change is refused with 409 confirmation_required and its plan.' }),
});

/**
 * POST /vms `dr`: protect the VM from its creation (the settings of PUT …/dr). The DR workflow
 * starts with the create; the cloud monitor watches the VM once it is active.
 */
export const createVmDrSchema = z
  .strictObject({
    failbackMode: z.enum(['automatic', 'approval']).optional(),
    failbackAfterHealthySeconds: z.number().int().min(0).max(7 * 86400).optional(),
  })
  .meta({ id: 'CreateVmDr', description: 'Protect the VM from its creation (as PUT /vms/{id}/dr would); OpenStack VMs only. Its standbys come from its backups: give a backup policy too.' });
export type CreateVmDr = z.infer<typeof createVmDrSchema>;

/** POST /vms: the requirements, the account, and optionally a backup policy (for the document: the route validates each part with its own schema). */
export function createVmRequestSchema(backupPolicy?: z.ZodType, withHealthCheck = false) {
  return z
    .strictObject({
      ...requirementsSchema.shape,
      accountId: z.string().optional().meta({ description: 'The cloud account to create the VM with; default: the operator account of `cloud`.' }),
      ...(backupPolicy ? { backup: backupPolicy.optional() } : {}),
      ...(withHealthCheck ? { healthCheck: guestHealthCheckSchema.optional().meta({ description: 'OpenStack VMs: a check of the service inside the VM, used once the VM is protected (PUT …/dr, or `dr` here).' }) } : {}),
      ...(withHealthCheck ? { dr: createVmDrSchema.optional() } : {}),
    })
    .meta({ id: 'CreateVmRequest', description: 'VM requirements, plus the cloud account to use and, for an OpenStack VM, the backup policy to set once it is created and a guest health check.' });
}

const { software, size, sshPublicKeys, users, runcmd, packagesUpdate } = requirementsSchema.shape;
// Without software's default: a PATCH that leaves it out keeps the VM's software.
const mutable = { size, software: software.unwrap(), sshPublicKeys, users, runcmd, packagesUpdate } satisfies Record<(typeof MUTABLE_REQUIREMENTS)[number], z.ZodType>;
export const vmPatchSchema = z
  .strictObject(mutable)
  .partial()
  .meta({ id: 'VmPatch', minProperties: 1, description: 'The requirements to change; name, os and cloud are fixed for the life of the VM.' });

export const vmPlacementSchema = z
  .strictObject({
    cloud: z.enum(CLOUDS),
    accountId: z.string(),
    serverId: z.string(),
    stackId: z.string().optional().meta({ description: 'OpenStack: the Heat stack that owns the server.' }),
    stackName: z.string().optional(),
    status: z.string(),
    addresses: z.array(z.strictObject({ network: z.string(), addr: z.string(), version: z.union([z.literal(4), z.literal(6)]), type: z.enum(['fixed', 'floating']) })),
  })
  .meta({ id: 'VmPlacement', description: 'Where the VM runs now.' });
assertSameType<z.infer<typeof vmPlacementSchema>, VmPlacement>();

export const vmDrSummarySchema = z
  .strictObject({
    protected: z.boolean(),
    state: z.enum(['Protected', 'Degraded', 'FailingOver', 'FailedOver', 'FailingBack']).optional().meta({ description: 'The DR state the DR workflow last recorded (absent until it recorded one).' }),
    since: dateTime().optional().meta({ description: 'When the DR state last changed.' }),
    target: z.enum(['base-standby', 'backup-cloud']).optional().meta({ description: 'FailedOver: where the VM runs now.' }),
    lastRpoSeconds: z.number().optional(),
    lastRtoSeconds: z.number().optional(),
    rpoSecondsNow: z.number().optional().meta({ description: 'Age of the newest backup with an image: what a disaster now would lose (absent with no such backup).' }),
    newestBackupAt: dateTime().optional().meta({ description: 'When that backup started (rpoSecondsNow is its age at the time of the answer).' }),
  })
  .meta({ id: 'VmDrSummary', description: 'The VM’s disaster recovery at a glance (GET …/dr has the whole view).' });
export type VmDrSummary = z.infer<typeof vmDrSummarySchema>;

export const vmViewSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    cloud: z.enum(CLOUDS),
    accountId: z.string(),
    state: z.enum(VM_STATES),
    requirements: vmRequirementsSchema,
    revision: z.number().int().meta({ description: 'Increases with every update.' }),
    environmentId: z.string().optional().meta({ description: 'The environment the VM is a member of (GET /api/v1/environments/{id}).' }),
    placement: vmPlacementSchema.optional(),
    lastError: z.string().optional(),
    history: z
      .array(z.strictObject({ at: dateTime(), from: z.enum(VM_STATES).nullable(), to: z.enum(VM_STATES), reason: z.string(), workflowId: z.string().optional() }))
      .meta({ description: 'State changes, oldest first.' }),
    workflowIds: z.array(z.string()).meta({ description: 'The VM’s workflows, newest last.' }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
    dr: vmDrSummarySchema.optional().meta({ description: 'In GET /vms only: DR state and the age of the newest backup (absent for deleted VMs and in other answers; GET /vms/{id}/dr has the whole DR view).' }),
    nextBackupAt: dateTime()
      .optional()
      .meta({ description: 'In GET /vms only: when the backup schedule fires next (nominal time; the run comes up to nextBackupJitterSeconds later). Absent without a backup policy, while it is paused, or while the VM runs in the backup cloud.' }),
    nextBackupJitterSeconds: z.number().int().optional().meta({ description: 'The schedule’s jitter: the next backup starts between nextBackupAt and this many seconds later.' }),
  })
  .meta({ id: 'Vm' });
export type VmView = z.infer<typeof vmViewSchema>;

export const vmListSchema = z.strictObject({ vms: z.array(vmViewSchema).meta({ description: 'Newest first (a page: limit, cursor).' }), ...nextCursorField }).meta({ id: 'VmList' });

export const vmDetailSchema = z.strictObject({ vm: vmViewSchema, operation: operationStatusSchema.optional() }).meta({ id: 'VmDetail' });
export type VmDetail = z.infer<typeof vmDetailSchema>;

export const vmAcceptedSchema = z
  .strictObject({
    plan: updatePlanSchema.optional(),
    vm: vmViewSchema,
    operation: z.strictObject({
      workflowId: z.string(),
      started: z.boolean().meta({ description: 'false when an Idempotency-Key replay or a repeated delete joined an operation already started.' }),
      status: z.string().meta({ description: 'Path of the operation’s status (GET /api/v1/workflows/{id}).' }),
    }),
  })
  .meta({ id: 'VmAccepted' });
export type VmAccepted = z.infer<typeof vmAcceptedSchema>;
