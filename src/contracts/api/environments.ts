/**
 * Environments (api/routes/environments.ts): several VMs on their own private network, created
 * and destroyed as one graph. A request names its members (each a VM's requirements plus the
 * members it requires) or a preset that expands into members server-side. Pure zod, no I/O.
 */
import { z } from 'zod';
import { cloudSchema, vmNameSchema, vmRequirementsSchema as requirementsSchema } from '../../templates/requirements';
import { ENVIRONMENT_STATES, ON_MEMBER_FAILURE } from '../environment';
import { dateTime, nextCursorField, pageQueryFields, taskProgressSchema } from './common';
import { environmentBackupPolicyRequestSchema } from './environment-backups';
import { vmPlacementSchema } from './vms';

/** Members of one environment at most (each is a VM and counts against the member's VM quota). */
export const ENVIRONMENT_MEMBERS_MAX = 20;
/** Cluster nodes of an `overcloud` preset at most. */
export const OVERCLOUD_NODES_MAX = 10;
export const ENVIRONMENT_PRESETS = ['overcloud', 'web-app-db'] as const;
export type EnvironmentPreset = (typeof ENVIRONMENT_PRESETS)[number];

const VM_STATES = ['creating', 'active', 'updating', 'deleting', 'deleted', 'failed'] as const;

export const environmentIdParam = z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not an environment id').meta({ description: 'The environment id.' });
export const environmentParams = z.object({ id: environmentIdParam });

const { name: _name, cloud: _cloud, ...memberRequirements } = requirementsSchema.shape;

export const environmentMemberRequestSchema = z
  .strictObject({
    name: vmNameSchema.meta({ description: 'The member’s name in the environment; its VM is named `<environment>-<member>`.' }),
    ...memberRequirements,
    requires: z
      .array(z.string('must be a member name'))
      .max(ENVIRONMENT_MEMBERS_MAX, `must list at most ${ENVIRONMENT_MEMBERS_MAX} members`)
      .optional()
      .meta({ description: 'Members that must be created (active) before this one starts.' }),
  })
  .meta({ id: 'EnvironmentMemberRequest', description: 'A VM’s requirements (the environment gives the cloud) and the members it requires.' });
export type EnvironmentMemberRequest = z.infer<typeof environmentMemberRequestSchema>;

export const createEnvironmentRequestSchema = z
  .strictObject({
    name: vmNameSchema,
    cloud: cloudSchema,
    accountId: z.string('must be a string').optional().meta({ description: 'The cloud account to create with; default: the operator account of `cloud`.' }),
    onMemberFailure: z
      .enum(ON_MEMBER_FAILURE, 'must be "rollback" or "keep"')
      .optional()
      .meta({ description: 'A member that fails: `rollback` (default) removes everything the environment made; `keep` keeps the members that were created and the network, and names the failed ones.' }),
    members: z.array(environmentMemberRequestSchema).min(1, 'must list at least one member').max(ENVIRONMENT_MEMBERS_MAX, `must list at most ${ENVIRONMENT_MEMBERS_MAX} members`).optional(),
    preset: z.enum(ENVIRONMENT_PRESETS, 'must be "overcloud" or "web-app-db"').optional().meta({ description: 'Instead of members: `overcloud` (a DevOps post plus `number` cluster nodes) or `web-app-db` (three tiers).' }),
    number: z.number('must be a number').int('must be an integer').min(1, 'must be at least 1').max(OVERCLOUD_NODES_MAX, `must be at most ${OVERCLOUD_NODES_MAX}`).optional().meta({ description: '`overcloud`: how many cluster nodes.' }),
    size: z.string('must be a catalog id (a string)').optional().meta({ description: 'With a preset: the size of every member (default small).' }),
    os: z.string('must be a catalog id (a string)').optional().meta({ description: 'With a preset: the OS of every member (default ubuntu-24.04).' }),
    restoreFrom: z
      .strictObject({
        environmentId: z.string('must be an environment id').min(1, 'must be an environment id'),
        pointId: z.string('must be a group restore point id').min(1, 'must be a group restore point id'),
      })
      .optional()
      .meta({
        description:
          'Instead of members or a preset: the members of an earlier environment of yours (also a destroyed one) as they were at one of its group restore points (GET /environments/{id}/backups; a destroy’s `final` point too). Each member whose backup has a copy in the image store boots from it (imported into Glance); members without one start from their OS image. OpenStack only.',
      }),
    backup: environmentBackupPolicyRequestSchema
      .optional()
      .meta({ description: 'A group backup policy (OpenStack environments): one schedule backs every member up as one group restore point; members run no per-VM schedules of their own (PUT /environments/{id}/backup-policy changes it).' }),
  })
  .meta({ id: 'CreateEnvironmentRequest', description: 'A name, a cloud, and either members, a preset, or an environment to restore (restoreFrom).' });
export type CreateEnvironmentRequest = z.infer<typeof createEnvironmentRequestSchema>;

export const environmentMemberViewSchema = z.strictObject({
  name: z.string(),
  vmId: z.string().meta({ description: 'The member’s VM (GET /api/v1/vms/{id}); it is listed in GET /vms with its environmentId.' }),
  requires: z.array(z.string()),
  state: z.enum(VM_STATES).meta({ description: 'The VM’s state.' }),
  placement: vmPlacementSchema.optional(),
  lastError: z.string().optional(),
});

export const environmentViewSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    cloud: z.enum(['openstack', 'cloudstack']),
    accountId: z.string(),
    preset: z.enum(ENVIRONMENT_PRESETS).optional(),
    restoredFrom: z.strictObject({ environmentId: z.string(), pointId: z.string() }).optional().meta({ description: 'The environment and group restore point it was made from.' }),
    onMemberFailure: z.enum(ON_MEMBER_FAILURE),
    state: z.enum(ENVIRONMENT_STATES).meta({ description: '`partial`: created with `keep` while some members failed (failedMembers names them); `failed`: a member failed and everything was rolled back (or the roll-back itself failed: lastError).' }),
    members: z.array(environmentMemberViewSchema),
    network: z.strictObject({ name: z.string(), networkId: z.string(), stackId: z.string().optional() }).optional().meta({ description: 'The environment’s private network, once made.' }),
    graph: z
      .strictObject({ kind: z.enum(['create', 'rollback', 'destroy']), tasks: z.array(taskProgressSchema) })
      .optional()
      .meta({ description: 'The task graph running now or last, as its workflow recorded it at every step.' }),
    failedMembers: z.array(z.string()),
    lastError: z.string().optional(),
    workflowIds: z.array(z.string()).meta({ description: 'The environment’s workflows, newest last.' }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
  })
  .meta({ id: 'Environment' });
export type EnvironmentView = z.infer<typeof environmentViewSchema>;

export const environmentListSchema = z.strictObject({ environments: z.array(environmentViewSchema).meta({ description: 'Newest first (a page: limit, cursor).' }), ...nextCursorField }).meta({ id: 'EnvironmentList' });
export type EnvironmentList = z.infer<typeof environmentListSchema>;

export const listEnvironmentsQuery = z.object({ ...pageQueryFields });

export const destroyEnvironmentQuery = z.strictObject({
  finalBackup: z
    .enum(['true', 'false'], 'must be "true" or "false"')
    .optional()
    .meta({
      description:
        'Default true: members with a backup policy (the group’s or their own) are backed up once more first, and those copies are kept in the image store (listed as a `final` group restore point); if that backup falls short, nothing is deleted. `false`: the data goes with the members.',
    }),
});

export const environmentAcceptedSchema = z
  .strictObject({
    environment: environmentViewSchema,
    operation: z.strictObject({
      workflowId: z.string(),
      started: z.boolean().meta({ description: 'false when an Idempotency-Key replay or a repeated delete joined an operation already started.' }),
      status: z.string().meta({ description: 'Path of the operation’s status (GET /api/v1/workflows/{id}).' }),
    }),
  })
  .meta({ id: 'EnvironmentAccepted' });
export type EnvironmentAccepted = z.infer<typeof environmentAcceptedSchema>;
