/** The bare baseline's activities (bench/bare/workflows.ts): vmflow's own cloud clients, called directly. */
import { Context } from '@temporalio/activity';
import type { Connection } from 'mongoose';
import { loadCatalog } from '../../src/catalog/load';
import { createOpenStackClient, OpenStackSession, TokenCache, type OpenStackCredentials } from '../../src/clouds/openstack';
import { sleep } from '../../src/sleep';
import { renderHeatTemplate, stackParameters, type VmRequirements } from '../../src/templates';

export function createBareActivities(o: { db: Connection; credentials: OpenStackCredentials; pollMs: number }) {
  const os = createOpenStackClient(new OpenStackSession(o.credentials, { tokenCache: new TokenCache() }));
  const catalog = loadCatalog();
  return {
    async bareRender(input: { id: string; requirements: Record<string, unknown> }) {
      const req = input.requirements as unknown as VmRequirements;
      const settings = { network: 'private', metadata: { bare_id: input.id } };
      return { template: renderHeatTemplate(req, catalog, settings).template as unknown as Record<string, unknown>, parameters: { ...stackParameters(req, catalog, settings) } };
    },
    async bareCreateStack(input: { stackName: string; template: Record<string, unknown>; parameters: Record<string, unknown> }) {
      const existing = await os.orchestration.findStack(input.stackName);
      if (existing) return { stackId: existing.id };
      const ref = await os.orchestration.createStack({ stack_name: input.stackName, template: input.template, parameters: input.parameters, disable_rollback: true, timeout_mins: 60 });
      return { stackId: ref.id };
    },
    async bareAwaitStack(input: { stackName: string; stackId: string }) {
      for (;;) {
        const stack = await os.orchestration.getStack(input.stackName, input.stackId);
        Context.current().heartbeat();
        if (stack.stack_status === 'CREATE_COMPLETE') return;
        if (stack.stack_status.endsWith('FAILED')) throw new Error(`stack ${stack.stack_status}`);
        await sleep(o.pollMs);
      }
    },
    async bareReadServer(input: { stackName: string; stackId: string }) {
      const outputs = await os.orchestration.getStackOutputs(input.stackName, input.stackId);
      const serverId = String(outputs.find((x) => x.output_key === 'server_id')?.output_value);
      const server = await os.compute.getServer(serverId);
      return { serverId, status: server.status };
    },
    async bareRecord(input: { id: string; serverId: string }) {
      await o.db.collection('bare_vms').updateOne({ _id: input.id } as never, { $set: { serverId: input.serverId, state: 'active', at: new Date() } }, { upsert: true });
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
