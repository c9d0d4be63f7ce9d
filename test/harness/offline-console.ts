/**
 * The web console without the system behind it: the API app built without connections serves
 * web/dist, and every /api/v1 answer the console asks for is given by the browser itself
 * (playwright's routing), from a list of made-up VMs shaped as GET /vms answers them. For what
 * needs many VMs and nothing else — the My VMs budget (bench/console.ts) and the virtual list's
 * browser test (test/integration/web-vms-list.test.ts).
 */
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { offlineApp } from '../../scripts/web';

/** VM number `i` as GET /vms answers it: every tenth one creating, every third one protected. */
export function fakeVm(i: number) {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    id: `vm-${String(i).padStart(4, '0')}`,
    name: `vm${i}`,
    cloud: 'openstack',
    accountId: 'operator-openstack',
    state: i % 10 === 0 ? 'creating' : 'active',
    requirements: { name: `vm${i}`, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' },
    revision: 1,
    placement: { cloud: 'openstack', accountId: 'operator-openstack', serverId: `srv-${i}`, status: 'ACTIVE', addresses: [{ network: 'private', addr: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`, version: 4, type: 'fixed' }] },
    history: [{ at, from: null, to: 'active', reason: 'created' }],
    workflowIds: [`vm-create:vm-${i}`],
    createdAt: at,
    updatedAt: at,
    dr: { protected: i % 3 === 0, ...(i % 3 === 0 ? { state: 'Protected', since: at } : {}), rpoSecondsNow: 600, newestBackupAt: at },
    nextBackupAt: new Date(Date.UTC(2026, 0, 1, 1, 0, 0)).toISOString(),
    nextBackupJitterSeconds: 300,
  };
}

export interface OfflineConsole {
  url: string;
  close(): Promise<void>;
}

/** The API app (no connections) serving web/dist on 127.0.0.1, port 0. Build web/dist first. */
export async function startOfflineConsole(): Promise<OfflineConsole> {
  const server = offlineApp().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Answers the console's /api/v1 requests in `context`: a signed-in member, no events, and `vms`
 * paged as the API pages them (`limit`, a `cursor` that is the next offset). Anything else: 404.
 */
export async function answerAsApi(context: BrowserContext, vms: readonly unknown[]): Promise<void> {
  await context.route('**/api/v1/**', async (route) => {
    const u = new URL(route.request().url());
    const json = (body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    if (u.pathname === '/api/v1/auth/me') return json({ id: '00000000-0000-4000-8000-000000000000', username: 'offline', createdAt: '2026-01-01T00:00:00.000Z', roles: [] });
    if (u.pathname === '/api/v1/events') return json({ events: [] });
    if (u.pathname === '/api/v1/vms') {
      const start = Number(u.searchParams.get('cursor') ?? 0);
      const limit = Number(u.searchParams.get('limit') ?? 50);
      const page = vms.slice(start, start + limit);
      return json({ vms: page, ...(start + limit < vms.length ? { nextCursor: String(start + limit) } : {}) });
    }
    return route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"offline console","requestId":"offline"}}' });
  });
}
