/**
 * One TanStack Query hook per resource, over the typed client. Mutations invalidate what they
 * change. Lists and pages poll while something runs, backing off when nothing changes
 * (pollInterval): fast feedback during a create or a backup, little load on an idle page.
 */
import { useMutation, useQuery, useQueryClient, type Query } from '@tanstack/react-query';
import { api, isApiError, unwrap, type Schemas } from './client';

export const keys = {
  me: ['me'] as const,
  catalog: ['catalog'] as const,
  vms: ['vms'] as const,
  vm: (id: string) => ['vm', id] as const,
  backups: (id: string) => ['backups', id] as const,
  dr: (id: string) => ['dr', id] as const,
  drills: (id: string) => ['drills', id] as const,
  events: ['events'] as const,
  accounts: ['cloud-accounts'] as const,
  quotas: ['quotas'] as const,
  environments: ['environments'] as const,
  environment: (id: string) => ['environment', id] as const,
  envPolicy: (id: string) => ['environment-policy', id] as const,
  envBackups: (id: string) => ['environment-backups', id] as const,
  envDr: (id: string) => ['environment-dr', id] as const,
};

const FAST_MS = 1_500;
const MAX_LIST_PAGES = 20;
/** GET /vms answers up to 500 VMs a page. */
const VMS_PAGE = 500;
const SLOW_MS = 30_000;

/**
 * refetchInterval for a query: FAST_MS while `busy(data)`, else doubling from FAST_MS with each
 * answer that did not change (TanStack keeps the same data object when nothing changed), up to SLOW_MS.
 */
export function pollInterval<T>(busy: (data: T) => boolean) {
  const calm = new WeakMap<object, number>();
  return (query: Query<T, Error, T, readonly unknown[]>) => {
    const data = query.state.data;
    if (query.state.error) return SLOW_MS;
    if (data === undefined) return FAST_MS;
    if (busy(data)) return FAST_MS;
    const key = data as unknown as object;
    const n = (calm.get(key) ?? 0) + 1;
    calm.set(key, n);
    return Math.min(SLOW_MS, FAST_MS * 2 ** n);
  };
}

const TRANSITIONAL = new Set(['creating', 'updating', 'deleting']);
export const vmBusy = (vm: { state: string }) => TRANSITIONAL.has(vm.state);

/** Who is signed in (null: nobody) — every page waits for it, so main.tsx asks for it at start. */
export const meQuery = {
  queryKey: keys.me,
  queryFn: async () => {
    try {
      return await unwrap(api.GET('/api/v1/auth/me'));
    } catch (err) {
      if (isApiError(err, 401)) return null; // not signed in
      throw err;
    }
  },
  staleTime: 60_000,
};

export function useMe() {
  return useQuery(meQuery);
}

export function useCatalog() {
  return useQuery({ queryKey: keys.catalog, queryFn: () => unwrap(api.GET('/api/v1/catalog')), staleTime: Infinity });
}

/** DR states in which a failover or failback is under way (the list polls fast meanwhile). */
const DR_MOVING = new Set(['Degraded', 'FailingOver', 'FailingBack']);
export const drMoving = (vm: Schemas['Vm']) => !!vm.dr?.state && DR_MOVING.has(vm.dr.state);

/** The whole VM list (GET /vms), as My VMs shows it; main.tsx asks for it while the page starts. */
export const vmsQuery = {
  queryKey: keys.vms,
  // Fresh for one fast poll: the list asked for at start is not asked for again as the page mounts.
  staleTime: FAST_MS,
  queryFn: async (): Promise<Schemas['VmList']> => {
    // The whole list in one request (the API's largest page: 500), each VM with its DR summary
    // and next backup; more pages only past that, up to MAX_LIST_PAGES.
    const vms: Schemas['Vm'][] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const answer = await unwrap(api.GET('/api/v1/vms', { params: { query: { limit: VMS_PAGE, ...(cursor ? { cursor } : {}) } } }));
      // The age of the newest backup grows with every answer: the page computes it from
      // newestBackupAt, so an unchanged list stays the same data (and polling backs off).
      for (const vm of answer.vms) if (vm.dr) delete vm.dr.rpoSecondsNow;
      vms.push(...answer.vms);
      cursor = answer.nextCursor;
      if (!cursor) break;
    }
    return { vms, ...(cursor ? { nextCursor: cursor } : {}) };
  },
};

export function useVms() {
  return useQuery({
    ...vmsQuery,
    refetchInterval: pollInterval<Schemas['VmList']>((d) => d.vms.some((vm) => vmBusy(vm) || drMoving(vm))),
  });
}

export function useVm(id: string) {
  return useQuery({
    queryKey: keys.vm(id),
    queryFn: () => unwrap(api.GET('/api/v1/vms/{id}', { params: { path: { id } } })),
    refetchInterval: pollInterval<Schemas['VmDetail']>((d) => vmBusy(d.vm) || d.operation?.progress?.status === 'running'),
  });
}

export function useBackups(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.backups(id),
    queryFn: () => unwrap(api.GET('/api/v1/vms/{id}/backups', { params: { path: { id } } })),
    enabled,
    refetchInterval: pollInterval<Schemas['BackupList']>((d) => d.backups.some((b) => b.status === 'running')),
  });
}

export function useDr(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.dr(id),
    queryFn: () => unwrap(api.GET('/api/v1/vms/{id}/dr', { params: { path: { id } } })),
    enabled,
    refetchInterval: pollInterval<Schemas['DrView']>((d) => !!d.state && d.state.state !== 'Protected'),
  });
}

/**
 * The VM's drill reports, newest first (one page: the newest 20). `awaiting`: the workflow id of a
 * drill just started — polled fast until its report is listed.
 */
export function useDrills(id: string, awaiting?: string) {
  return useQuery({
    queryKey: keys.drills(id),
    queryFn: () => unwrap(api.GET('/api/v1/vms/{id}/dr/drills', { params: { path: { id }, query: { limit: 20 } } })),
    refetchInterval: pollInterval<Schemas['DrillList']>((d) => !!awaiting && !d.drills.some((x) => x.workflowId === awaiting)),
  });
}

export function useEvents(enabled = true) {
  return useQuery({
    queryKey: keys.events,
    queryFn: () => unwrap(api.GET('/api/v1/events', { params: { query: { limit: 100 } } })),
    enabled,
    refetchInterval: 15_000,
  });
}

/** The clouds' remaining quota (each read asks the clouds: kept for 30 s). */
export function useQuotas() {
  return useQuery({ queryKey: keys.quotas, queryFn: () => unwrap(api.GET('/api/v1/quotas')), staleTime: 30_000 });
}

export function useCloudAccounts() {
  return useQuery({ queryKey: keys.accounts, queryFn: () => unwrap(api.GET('/api/v1/cloud-accounts')) });
}

/** A mutation that refreshes the given queries when it settles. */
function useRefreshingAction<V, R>(queryKeys: ReadonlyArray<readonly unknown[]>, run: (vars: V) => Promise<R>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSettled: async () => {
      await Promise.all(queryKeys.map((queryKey) => qc.invalidateQueries({ queryKey })));
    },
  });
}

/** A mutation that refreshes the VM's queries (and the list) when it settles. */
export function useVmAction<V, R = unknown>(id: string, run: (vars: V) => Promise<R>) {
  return useRefreshingAction([keys.vm(id), keys.backups(id), keys.dr(id), keys.drills(id), keys.vms], run);
}

/** Environment states in which a graph runs (its page and the list poll fast meanwhile). */
const ENV_MOVING = new Set(['creating', 'destroying']);
export const envBusy = (env: { state: string }) => ENV_MOVING.has(env.state);

/** The member's environments (one page: the newest 100; destroyed ones are not listed). */
export function useEnvironments() {
  return useQuery({
    queryKey: keys.environments,
    queryFn: () => unwrap(api.GET('/api/v1/environments', { params: { query: { limit: 100 } } })),
    refetchInterval: pollInterval<Schemas['EnvironmentList']>((d) => d.environments.some(envBusy)),
  });
}

export function useEnvironment(id: string) {
  return useQuery({
    queryKey: keys.environment(id),
    queryFn: () => unwrap(api.GET('/api/v1/environments/{id}', { params: { path: { id } } })),
    refetchInterval: pollInterval<Schemas['Environment']>((d) => envBusy(d) || !!d.graph?.tasks.some((t) => t.state === 'running')),
  });
}

/** The group backup policy, or null when the environment has none (404). */
export function useEnvironmentPolicy(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.envPolicy(id),
    queryFn: async () => {
      try {
        return await unwrap(api.GET('/api/v1/environments/{id}/backup-policy', { params: { path: { id } } }));
      } catch (err) {
        if (isApiError(err, 404)) return null;
        throw err;
      }
    },
    enabled,
  });
}

/**
 * The group restore points, newest first (one page: the newest 20), polled fast while one is being
 * taken or while `moving` (the environment's graph runs: a destroy's final point appears then).
 */
export function useEnvironmentBackups(id: string, enabled = true, moving = false) {
  return useQuery({
    queryKey: keys.envBackups(id),
    queryFn: () => unwrap(api.GET('/api/v1/environments/{id}/backups', { params: { path: { id }, query: { limit: 20 } } })),
    enabled,
    refetchInterval: pollInterval<Schemas['EnvironmentBackupList']>((d) => moving || d.backups.some((b) => b.status === 'running')),
  });
}

/** The recovery plan: waves, state, members' DR states, the last failover, failback and drill. */
export function useEnvironmentDr(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.envDr(id),
    queryFn: () => unwrap(api.GET('/api/v1/environments/{id}/dr', { params: { path: { id } } })),
    enabled,
    refetchInterval: pollInterval<Schemas['EnvironmentDr']>(
      (d) => (d.protected && (d.state !== 'Protected' || d.members.some((m) => m.drState !== 'Protected'))) || (!!d.lastDrill && !d.lastDrill.finishedAt),
    ),
  });
}

/** A mutation that refreshes the environment's queries (and the lists) when it settles. */
export function useEnvironmentAction<V, R = unknown>(id: string, run: (vars: V) => Promise<R>) {
  return useRefreshingAction([keys.environment(id), keys.envPolicy(id), keys.envBackups(id), keys.envDr(id), keys.environments, keys.vms], run);
}
