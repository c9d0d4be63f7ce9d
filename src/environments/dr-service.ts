/**
 * Recovery plans of environments behind the REST API. Protecting an environment protects every
 * member through the DR service (its drVm, failback by approval, its guest check), records the
 * protection (the monitor's fan-out reads it to give the environment's cloud verdicts to its
 * workflow) and starts — or updates — the one environmentDr workflow of the environment.
 * Reads come from the records the workflows write (never a workflow query).
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import {
  ENVIRONMENT_DRILL_WORKFLOW,
  ENVIRONMENT_DR_SIGNALS,
  ENVIRONMENT_DR_WORKFLOW,
  environmentDrWorkflowId,
  environmentDrillWorkflowId,
  type EnvironmentDrInput,
  type EnvironmentDrSettings,
  type EnvironmentDrillInput,
} from '../contracts/environment-dr';
import { environmentDrRequestSchema, environmentDrillRequestSchema, type EnvironmentDrView } from '../contracts/api/environment-dr';
import { AppError, parseInput } from '../errors';
import { whileBusy } from '../db/connection';
import type { DrService } from '../dr/service';
import { drProtectionModel, drStateModel } from '../dr/model';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY } from '../vms/search';
import { environmentModel, type EnvironmentRecord } from './model';
import { environmentDrModel, environmentDrillModel, stopEnvironmentPlan, type EnvironmentDrRecord } from './dr-model';
import { recoveryWaves, waveOf } from './waves';

export interface EnvironmentDrServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  dr: DrService;
  /** How often the plan reads its members' DR states while it waits for a wave (the DR health tick). */
  pollSeconds: number;
}

const NOT_FOUND = 'environment';

export class EnvironmentDrService {
  constructor(private readonly d: EnvironmentDrServiceDeps) {}

  /** Protects the environment as a whole (again: new settings reach the running plan). */
  async protect(ownerId: string, envId: string, body: unknown): Promise<EnvironmentDrView> {
    const env = await this.record(ownerId, envId);
    const req = parseInput(environmentDrRequestSchema, body ?? {});
    const names = new Set(env.members.map((m) => m.name));
    const unknown = Object.keys(req.healthChecks ?? {}).filter((n) => !names.has(n));
    if (unknown.length) throw AppError.badRequest(`invalid request body: no member named ${unknown.join(', ')}`, unknown.map((n) => ({ field: `healthChecks.${n}`, message: `no member named "${n}"` })));
    if (env.cloud !== 'openstack') throw AppError.conflict('recovery plans protect environments of the base cloud (OpenStack)', 'not_protectable');
    if (env.state !== 'active') throw AppError.conflict(`the environment is ${env.state}; only an active environment can be protected`, 'environment_not_active');

    const current = await environmentDrModel(this.d.db).findById(envId).lean();
    // Members protected on their own before the environment was: remembered once, given back by unprotect.
    // (A record from before this was kept has none: its members were all protected by the environment.)
    const ownProtection = current ? (current.ownProtection ?? {}) : await this.ownProtectionOf(env.members.map((m) => m.vmId));
    const settings: EnvironmentDrSettings = {
      waitSeconds: req.waitSeconds ?? current?.settings.waitSeconds ?? 0,
      healthChecks: req.healthChecks ?? current?.settings.healthChecks ?? {},
    };
    // Every member by its own drVm; none fails back on its own (the plan approves them in order).
    for (const m of env.members) {
      await this.d.dr.protect(ownerId, m.vmId, {
        failbackMode: 'approval',
        ...(req.failbackAfterHealthySeconds !== undefined ? { failbackAfterHealthySeconds: req.failbackAfterHealthySeconds } : {}),
        ...(settings.healthChecks[m.name] ? { healthCheck: settings.healthChecks[m.name] } : {}),
      });
    }
    await whileBusy(() =>
      environmentDrModel(this.d.db).updateOne(
        { _id: envId },
        { $set: { ownerId, enabled: true, settings, memberVmIds: env.members.map((m) => m.vmId), ownProtection } },
        { upsert: true },
      ),
    );
    const input: EnvironmentDrInput = { envId, ownerId, members: env.members.map((m) => ({ name: m.name, vmId: m.vmId, requires: [...m.requires] })), settings, pollSeconds: this.d.pollSeconds };
    await this.d.temporal.workflow.signalWithStart(ENVIRONMENT_DR_WORKFLOW, {
      workflowId: environmentDrWorkflowId(envId),
      taskQueue: this.d.taskQueue,
      args: [input],
      signal: ENVIRONMENT_DR_SIGNALS.settings,
      signalArgs: [settings],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: VMFLOW_OWNER_KEY, value: ownerId },
        { key: VMFLOW_CLOUD_KEY, value: env.cloud },
      ]),
      memo: { ownerId },
    });
    return this.status(ownerId, envId);
  }

  /**
   * Stops the plan and the members' protection (their records and drVm workflows) — but a member
   * that was protected on its own before the environment was keeps its protection, with its own
   * settings back (failback mode, guest check).
   */
  async unprotect(ownerId: string, envId: string): Promise<{ envId: string; protected: false }> {
    const env = await this.record(ownerId, envId);
    const own = (await environmentDrModel(this.d.db).findById(envId).lean())?.ownProtection ?? {};
    await this.stopPlan(envId);
    for (const m of env.members) {
      try {
        const mine = own[m.vmId];
        if (mine) await this.d.dr.protect(ownerId, m.vmId, { enabled: true, ...mine.settings, ...(mine.healthCheck !== undefined ? { healthCheck: mine.healthCheck } : {}) });
        else await this.d.dr.unprotect(ownerId, m.vmId);
      } catch (err) {
        // A member whose VM record is gone (withdrawn) has nothing left to unprotect.
        if (!(err instanceof AppError && err.status === 404)) throw err;
      }
    }
    return { envId, protected: false };
  }

  private async ownProtectionOf(vmIds: string[]): Promise<NonNullable<EnvironmentDrRecord['ownProtection']>> {
    const found = await drProtectionModel(this.d.db).find({ _id: { $in: vmIds }, enabled: true }).lean();
    return Object.fromEntries(found.map((p) => [p._id, { settings: { failbackMode: p.settings.failbackMode, failbackAfterHealthySeconds: p.settings.failbackAfterHealthySeconds }, healthCheck: p.healthCheck ?? null }]));
  }

  /** The plan's record and workflow go (unprotect); no error when it was never protected. */
  async stopPlan(envId: string): Promise<void> {
    await stopEnvironmentPlan(this.d.db, this.d.temporal, envId);
  }

  async status(ownerId: string, envId: string): Promise<EnvironmentDrView> {
    const env = await this.record(ownerId, envId);
    const rec = await environmentDrModel(this.d.db).findById(envId).lean();
    const waves = recoveryWaves(env.members);
    const at = waveOf(waves);
    const states = new Map((await drStateModel(this.d.db).find({ _id: { $in: env.members.map((m) => m.vmId) } }).lean()).map((d) => [d._id, d.status]));
    const drill = await environmentDrillModel(this.d.db).findOne({ envId }).sort({ startedAt: -1 }).lean();
    const st = rec?.enabled ? rec.status : undefined;
    return {
      envId,
      protected: !!rec?.enabled,
      ...(rec?.enabled ? { settings: { waitSeconds: rec.settings.waitSeconds, healthChecks: rec.settings.healthChecks ?? {} } } : {}),
      plan: { waves },
      ...(st ? { state: st.state, baseCloudHealthy: st.baseCloudHealthy, updatedAt: st.updatedAt } : {}),
      ...(st?.currentWave !== undefined ? { currentWave: st.currentWave } : {}),
      ...(st?.lastError ? { lastError: st.lastError } : {}),
      members: env.members.map((m) => {
        const s = states.get(m.vmId);
        return {
          name: m.name,
          vmId: m.vmId,
          wave: at.get(m.name) ?? 0,
          ...(s ? { drState: s.state, awaitingApproval: !!s.awaitingApproval, ...(s.target ? { target: s.target } : {}) } : {}),
        };
      }),
      ...(st?.lastFailover ? { lastFailover: st.lastFailover } : {}),
      ...(st?.lastFailback ? { lastFailback: st.lastFailback } : {}),
      ...(drill
        ? {
            lastDrill: {
              drillId: drill._id,
              workflowId: drill.workflowId,
              startedAt: drill.startedAt,
              ...(drill.finishedAt ? { finishedAt: drill.finishedAt } : {}),
              ...(typeof drill.ok === 'boolean' ? { ok: drill.ok } : {}),
              ...(drill.error ? { error: drill.error } : {}),
              cleanedUp: !!drill.cleanedUp,
              ...(drill.network ? { network: { name: drill.network.name, networkId: drill.network.networkId } } : {}),
              members: drill.members ?? [],
            },
          }
        : {}),
    };
  }

  /** Starts a drill of the whole environment (one at a time per environment). */
  async drill(ownerId: string, envId: string, body: unknown): Promise<{ drillId: string; workflowId: string }> {
    const env = await this.record(ownerId, envId);
    const req = parseInput(environmentDrillRequestSchema, body ?? {});
    if (env.state !== 'active') throw AppError.conflict(`the environment is ${env.state}; only an active environment can be drilled`, 'environment_not_active');
    const rec = await environmentDrModel(this.d.db).findById(envId).lean();
    const drillId = crypto.randomUUID();
    const workflowId = environmentDrillWorkflowId(envId);
    const input: EnvironmentDrillInput = {
      envId,
      ownerId,
      drillId,
      members: env.members.map((m) => ({ name: m.name, vmId: m.vmId, requires: [...m.requires] })),
      settings: { waitSeconds: req.waitSeconds ?? rec?.settings.waitSeconds ?? 0 },
    };
    try {
      await this.d.temporal.workflow.start(ENVIRONMENT_DRILL_WORKFLOW, {
        workflowId,
        taskQueue: this.d.taskQueue,
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        typedSearchAttributes: new TypedSearchAttributes([
          { key: VMFLOW_OWNER_KEY, value: ownerId },
          { key: VMFLOW_CLOUD_KEY, value: env.cloud },
        ]),
        memo: { ownerId },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw AppError.conflict('a drill of this environment is running', 'drill_running');
      throw err;
    }
    return { drillId, workflowId };
  }

  private async record(ownerId: string, envId: string): Promise<EnvironmentRecord> {
    const env = await environmentModel(this.d.db).findById(envId).lean();
    if (!env || env.ownerId !== ownerId) throw AppError.notFound(NOT_FOUND);
    return env;
  }
}
