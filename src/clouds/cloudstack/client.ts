/**
 * CloudStack API client on undici. Every call is signed (signatureVersion 3 with an expiry by
 * default), sent as GET or — for long parameter sets such as user data — as a POST form, and
 * bounded by a timeout. Errors are CloudApiError with kinds mapped from CloudStack's error codes;
 * async commands return their job reference and waitForJob polls queryAsyncJobResult.
 * Credentials never reach a log line or an error message (URLs go through redactUrl).
 */
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { outboundRefusal } from '../../outbound/guard';
import { CloudApiError, kindForHttpStatus, parseRetryAfter, type CloudErrorKind } from '../errors';
import { transportErrorCode, transportErrorKind } from '../transport-errors';
import { callStatus, cloudstackOperation, recordCloudCall } from '../../metrics/cloud-calls';
import { logger as rootLogger, redactUrl, type Logger } from '../../logger';
import { sleep } from '../../sleep';
import { encodeParams, signedParams } from './signing';
import type {
  AsyncJobRef,
  CreateTemplateParams,
  CsAccount,
  CsApi,
  CsAsyncJob,
  CreateNetworkParams,
  CsNetwork,
  EnsureNetworkParams,
  CsNetworkOffering,
  CsOsType,
  CsParams,
  CsResourceLimit,
  CsServiceOffering,
  CsSnapshot,
  CsTemplate,
  CsVirtualMachine,
  CsVolume,
  CsZone,
  DeployVirtualMachineParams,
  ListParams,
  RegisterTemplateParams,
  TemplateFilter,
} from './types';

export * from './types';

export interface CloudStackClientOptions {
  /** e.g. http://127.0.0.1:8080/client/api */
  apiUrl: string;
  apiKey: string;
  secretKey: string;
  /** Per-call limit for the whole exchange (headers and body). Default 30 s. */
  timeoutMs?: number;
  /** waitForJob's polling interval. Default 2 s (what cmk and cs use). */
  pollIntervalMs?: number;
  dispatcher?: Dispatcher;
  /** Lifetime of a signed request (signatureVersion 3). 0 sends unversioned signatures. Default 600 s. */
  expiresInSeconds?: number;
  /** Requests whose encoded parameters exceed this many bytes are POSTed. Default 2048. */
  postThresholdBytes?: number;
  logger?: Logger;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Force a method; by default GET, or POST for large parameter sets. */
  method?: 'GET' | 'POST';
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called after every poll with the job as the server reported it (heartbeat here). */
  onProgress?: (job: CsAsyncJob) => void;
  /** Give up after this long with a Timeout error. Default 1 hour. */
  timeoutMs?: number;
  pollIntervalMs?: number;
}

/** CloudStack error codes (ApiErrorCode) to error kinds. */
export function kindForCloudStackCode(code: number): CloudErrorKind {
  switch (code) {
    case 400:
    case 430: // malformed parameter
    case 431: // parameter error
    case 432: // unsupported action / unknown command
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 429:
      return 'RateLimited';
    case 531: // account error: permission denied
      return 'Forbidden';
    case 532: // account resource limit
      return 'QuotaExceeded';
    case 536: // resource in use
      return 'Conflict';
    case 530: // internal error
    case 533: // insufficient capacity
    case 534: // resource unavailable
    case 535: // resource allocation error
      return 'Unavailable';
    default:
      return kindForHttpStatus(code);
  }
}

/** Job failure codes worth retrying: the cloud lacked capacity or a resource was unavailable. */
const RETRYABLE_JOB_CODES = new Set([533, 534]);

/**
 * An async job that ended with jobstatus 2. Kind AsyncJobFailed; retryable only when the job's
 * errorcode says capacity (533) or a resource (534) was unavailable.
 */
export class CloudStackJobError extends CloudApiError {
  readonly jobId: string;
  readonly jobErrorCode: number;
  readonly jobErrorText: string;

  constructor(init: { jobId: string; command: string; url: string; errorcode: number; errortext: string; body: string }) {
    super({
      kind: 'AsyncJobFailed',
      method: 'GET',
      url: init.url,
      status: init.errorcode,
      body: init.body,
      message: `CloudStack job ${init.jobId} (${init.command}) failed with ${init.errorcode}: ${init.errortext}`,
    });
    this.name = 'CloudStackJobError';
    this.jobId = init.jobId;
    this.jobErrorCode = init.errorcode;
    this.jobErrorText = init.errortext;
  }

  override get retryable(): boolean {
    return RETRYABLE_JOB_CODES.has(this.jobErrorCode);
  }
}

function stringify(params: CsParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}

/**
 * One call's cancellation: the caller's signal or our timeout, whichever comes first. Combined
 * with AbortSignal.any, which adds no listener to the caller's (possibly long-lived) signal.
 */
function callSignal(timeoutMs: number, outer?: AbortSignal) {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  return {
    signal: outer ? AbortSignal.any([outer, deadline.signal]) : deadline.signal,
    timedOut: () => deadline.signal.aborted,
    done() {
      clearTimeout(timer);
    },
  };
}

export class CloudStackClient {
  private readonly apiUrl: string;
  private readonly credentials: { apiKey: string; secretKey: string };
  private readonly timeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly dispatcher?: Dispatcher;
  private readonly expiresInSeconds: number;
  private readonly postThreshold: number;
  private readonly log: Logger;

  constructor(opts: CloudStackClientOptions) {
    this.apiUrl = opts.apiUrl.replace(/\?+$/, '');
    this.credentials = { apiKey: opts.apiKey, secretKey: opts.secretKey };
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2_000;
    this.dispatcher = opts.dispatcher;
    this.expiresInSeconds = opts.expiresInSeconds ?? 600;
    this.postThreshold = opts.postThresholdBytes ?? 2048;
    this.log = (opts.logger ?? rootLogger).child({ component: 'cloudstack-client' });
  }

  /**
   * Sends one signed command and returns the object under `<command>response` (for a list, the
   * `{count, <item>: [...]}` object, possibly `{}`). Throws CloudApiError.
   */
  async request<T = Record<string, unknown>>(command: string, params: CsParams = {}, opts: CallOptions = {}): Promise<T> {
    const signed = signedParams({ command, ...stringify(params) }, this.credentials, { expiresInSeconds: this.expiresInSeconds });
    const encoded = encodeParams(signed);
    const method = opts.method ?? (encoded.length > this.postThreshold || params.userdata !== undefined ? 'POST' : 'GET');
    const url = method === 'GET' ? `${this.apiUrl}?${encoded}` : this.apiUrl;
    const where = method === 'GET' ? redactUrl(url) : `${this.apiUrl}?command=${command}`;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const call = callSignal(timeoutMs, opts.signal);
    const started = Date.now();
    let status: number;
    let text: string;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const res = await request(url, {
        method,
        dispatcher: this.dispatcher,
        signal: call.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } : { accept: 'application/json' },
        body: method === 'POST' ? encoded : undefined,
      });
      status = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (err) {
      const failure = this.transportError(err, method, where, command, call.timedOut(), timeoutMs, opts.signal);
      recordCloudCall('cloudstack', method, cloudstackOperation(command), callStatus(undefined, failure), (Date.now() - started) / 1000);
      throw failure;
    } finally {
      call.done();
    }
    recordCloudCall('cloudstack', method, cloudstackOperation(command), String(status), (Date.now() - started) / 1000);
    this.log.debug({ command, method, status, ms: Date.now() - started }, 'cloudstack call');

    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    const key = `${command.toLowerCase()}response`;
    const inner = (parsed?.[key] ?? Object.entries(parsed ?? {}).find(([k]) => k.endsWith('response'))?.[1]) as
      | Record<string, unknown>
      | undefined;
    const code = typeof inner?.errorcode === 'number' ? inner.errorcode : undefined;
    if (status !== 200 || code !== undefined || inner === undefined) {
      const effective = code ?? status;
      const kind: CloudErrorKind = inner === undefined && status === 200 ? 'Unexpected' : kindForCloudStackCode(effective);
      // CloudStack's own errortext is quoted (one line, 300 characters at most); the raw body never is.
      // eslint-disable-next-line no-control-regex
      const errortext = typeof inner?.errortext === 'string' ? inner.errortext.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 300) : undefined;
      throw new CloudApiError({
        kind,
        method,
        url: where,
        status,
        expected: [200],
        body: text,
        retryAfterMs: kind === 'RateLimited' ? parseRetryAfter(headers['retry-after']) : undefined,
        message: errortext
          ? `CloudStack ${command} failed with ${effective}${typeof inner?.cserrorcode === 'number' ? ` (cserrorcode ${inner.cserrorcode})` : ''}: ${errortext}`
          : undefined,
      });
    }
    return inner as T;
  }

  private transportError(
    err: unknown,
    method: string,
    url: string,
    command: string,
    timedOut: boolean,
    timeoutMs: number,
    outer?: AbortSignal,
  ): unknown {
    // The caller cancelled (e.g. Temporal activity cancellation): let its reason through untouched.
    if (outer?.aborted && !timedOut) return outer.reason;
    const refused = outboundRefusal(err);
    // A member's URL the outbound guard refused: no retry can make it allowed.
    if (refused) return new CloudApiError({ kind: 'BadRequest', method, url, cause: refused, message: `CloudStack ${command}: ${refused.message}` });
    const code = transportErrorCode(err);
    const transportKind = transportErrorKind(err);
    if (timedOut || transportKind === 'Timeout') {
      return new CloudApiError({ kind: 'Timeout', method, url, cause: err, message: `CloudStack ${command}: no answer within ${timeoutMs} ms` });
    }
    const kind: CloudErrorKind = transportKind ?? 'Unexpected';
    return new CloudApiError({
      kind,
      method,
      url,
      cause: err,
      message: `CloudStack ${command}: ${(err as Error)?.message ?? String(err)}${code ? ` (${code})` : ''}`,
    });
  }

  /** A list command's items; `{}` (nothing found) is []. */
  async list<T>(command: string, itemKey: string, params: CsParams = {}, opts: CallOptions = {}): Promise<T[]> {
    const res = await this.request<Record<string, unknown>>(command, params, opts);
    const items = res[itemKey];
    return Array.isArray(items) ? (items as T[]) : [];
  }

  /** Every page of a list command, pagesize at a time, at most maxPages pages. */
  async listAll<T>(command: string, itemKey: string, params: CsParams = {}, opts: CallOptions & { pagesize?: number; maxPages?: number } = {}): Promise<T[]> {
    const pagesize = opts.pagesize ?? 500;
    const out: T[] = [];
    for (let page = 1; page <= (opts.maxPages ?? 100); page++) {
      const res = await this.request<Record<string, unknown>>(command, { ...params, page, pagesize }, opts);
      const items = Array.isArray(res[itemKey]) ? (res[itemKey] as T[]) : [];
      out.push(...items);
      const count = typeof res.count === 'number' ? res.count : 0;
      if (items.length < pagesize || out.length >= count) break;
    }
    return out;
  }

  /**
   * Polls queryAsyncJobResult until the job ends. Returns jobresult on success; throws
   * CloudStackJobError on failure and a Timeout CloudApiError when timeoutMs passes. Transient
   * errors while polling (rate limits, outages, timeouts) are ridden out until the deadline.
   */
  async waitForJob<R = Record<string, unknown>>(jobid: string, opts: WaitOptions = {}): Promise<R> {
    const interval = opts.pollIntervalMs ?? this.pollIntervalMs;
    const timeoutMs = opts.timeoutMs ?? 3_600_000;
    const deadline = Date.now() + timeoutMs;
    const maxPolls = Math.ceil(timeoutMs / Math.max(1, interval)) + 10;
    let lastError: unknown;
    for (let poll = 0; poll < maxPolls; poll++) {
      let job: CsAsyncJob | undefined;
      let wait = interval;
      try {
        job = await this.queryAsyncJobResult(jobid, { signal: opts.signal, timeoutMs: Math.min(this.timeoutMs, Math.max(1, deadline - Date.now())) });
      } catch (err) {
        if (!(err instanceof CloudApiError) || !err.retryable || err.kind === 'Conflict') throw err;
        lastError = err;
        wait = Math.max(interval, err.retryAfterMs ?? 0);
      }
      if (job) {
        opts.onProgress?.(job);
        if (job.jobstatus === 1) return job.jobresult as R;
        if (job.jobstatus === 2) {
          const r = (job.jobresult ?? {}) as { errorcode?: number; errortext?: string };
          throw new CloudStackJobError({
            jobId: jobid,
            command: job.cmd,
            url: `${this.apiUrl}?command=queryAsyncJobResult&jobid=${jobid}`,
            errorcode: typeof r.errorcode === 'number' ? r.errorcode : job.jobresultcode || 530,
            errortext: r.errortext ?? 'async job failed',
            body: JSON.stringify(job),
          });
        }
      }
      if (Date.now() + wait > deadline) break;
      await sleep(wait, opts.signal);
    }
    throw new CloudApiError({
      kind: 'Timeout',
      method: 'GET',
      url: `${this.apiUrl}?command=queryAsyncJobResult&jobid=${jobid}`,
      cause: lastError,
      message: `CloudStack job ${jobid} did not finish within ${timeoutMs} ms`,
    });
  }

  /**
   * Opens an extractTemplate URL for streaming (not a signed API call). The caller must consume
   * or destroy `body`. Non-200 answers throw CloudApiError; the timeout covers the headers only.
   */
  async openDownload(url: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ body: Readable; contentLength?: number }> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const call = callSignal(timeoutMs, opts.signal);
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.dispatcher, signal: call.signal, headersTimeout: timeoutMs });
      if (res.statusCode !== 200) {
        const body = await res.body.text().catch(() => '');
        throw new CloudApiError({ kind: kindForHttpStatus(res.statusCode), method: 'GET', url, status: res.statusCode, expected: [200], body });
      }
      const length = Number(res.headers['content-length']);
      return { body: res.body, contentLength: Number.isFinite(length) ? length : undefined };
    } catch (err) {
      if (err instanceof CloudApiError) throw err;
      throw this.transportError(err, 'GET', url, 'download', call.timedOut(), timeoutMs, opts.signal);
    } finally {
      // Only the wait for headers is bounded; the body may take as long as the transfer takes.
      call.done();
    }
  }

  // ---- typed helpers ----------------------------------------------------------------------

  listApis(params: { name?: string } = {}, opts?: CallOptions): Promise<CsApi[]> {
    return this.list<CsApi>('listApis', 'api', { listall: true, ...params }, opts);
  }

  listZones(params: ListParams = {}, opts?: CallOptions): Promise<CsZone[]> {
    return this.list<CsZone>('listZones', 'zone', params, opts);
  }

  /** The caller's resource limits (max -1 = unlimited); `resourcetype` 0 instances, 8 CPU, 9 memory. */
  listResourceLimits(params: { resourcetype?: number } = {}, opts?: CallOptions): Promise<CsResourceLimit[]> {
    return this.list<CsResourceLimit>('listResourceLimits', 'resourcelimit', params, opts);
  }

  /** The caller's own account, with its counts (vmtotal, cputotal, memorytotal). */
  async ownAccount(opts?: CallOptions): Promise<CsAccount | undefined> {
    return (await this.list<CsAccount>('listAccounts', 'account', {}, opts))[0];
  }

  listServiceOfferings(params: ListParams = {}, opts?: CallOptions): Promise<CsServiceOffering[]> {
    return this.list<CsServiceOffering>('listServiceOfferings', 'serviceoffering', params, opts);
  }

  listOsTypes(params: ListParams & { description?: string } = {}, opts?: CallOptions): Promise<CsOsType[]> {
    return this.list<CsOsType>('listOsTypes', 'ostype', params, opts);
  }

  listNetworks(params: ListParams & { zoneid?: string } = {}, opts?: CallOptions): Promise<CsNetwork[]> {
    return this.list<CsNetwork>('listNetworks', 'network', params, opts);
  }

  listNetworkOfferings(params: ListParams & { guestiptype?: 'Isolated' | 'Shared' | 'L2'; zoneid?: string; state?: string; isdefault?: boolean; name?: string } = {}, opts?: CallOptions): Promise<CsNetworkOffering[]> {
    return this.list<CsNetworkOffering>('listNetworkOfferings', 'networkoffering', params, opts);
  }

  /** Synchronous: answers the new network (state Allocated until a VM is deployed on it). Not idempotent: see ensureNetwork. */
  async createNetwork(params: CreateNetworkParams, opts?: CallOptions): Promise<CsNetwork> {
    const res = await this.request<{ network?: CsNetwork }>('createNetwork', params, opts);
    if (!res.network) throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: `${this.apiUrl}?command=createNetwork`, message: 'createNetwork answered no network' });
    return res.network;
  }

  /** Async: the job's result is {success}; it fails (530) while VMs that are not expunged are on the network. */
  deleteNetwork(id: string, params: { forced?: boolean } = {}, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('deleteNetwork', { id, ...params }, opts);
  }

  /** The caller's networks in `zoneid` named exactly `name` (listNetworks matches by keyword), oldest first. */
  async networksNamed(name: string, zoneid: string, opts?: CallOptions): Promise<CsNetwork[]> {
    const found = await this.listNetworks({ keyword: name, zoneid }, opts);
    return found.filter((n) => n.name === name && n.zoneid === zoneid).sort((a, b) => String(a.created ?? '').localeCompare(String(b.created ?? '')) || a.id.localeCompare(b.id));
  }

  /**
   * An isolated network named `name`, made so a retry is safe: an existing one of that name in
   * the zone is returned instead of creating a second (CloudStack allows duplicate names, so the
   * name must be unique per owner — a workflow id). Without `networkofferingid` the zone's default
   * enabled Isolated offering is used.
   */
  async ensureNetwork(params: EnsureNetworkParams, opts?: CallOptions): Promise<CsNetwork> {
    const existing = (await this.networksNamed(params.name, params.zoneid, opts))[0];
    if (existing) return existing;
    let offeringId = params.networkofferingid;
    if (!offeringId) {
      const offerings = (await this.listNetworkOfferings({ guestiptype: 'Isolated', zoneid: params.zoneid, state: 'Enabled' }, opts)).filter((o) => !o.forvpc);
      const chosen = offerings.find((o) => o.isdefault) ?? offerings[0];
      if (!chosen) throw new CloudApiError({ kind: 'NotFound', method: 'GET', url: `${this.apiUrl}?command=listNetworkOfferings`, message: `no enabled Isolated network offering in zone ${params.zoneid}` });
      offeringId = chosen.id;
    }
    return this.createNetwork({ ...params, networkofferingid: offeringId }, opts);
  }

  /**
   * Deletes every network of the caller named `name` in the zone and waits for each job. Safe to
   * repeat (what is gone is skipped); a network that still has VMs fails with AsyncJobFailed 530.
   * Returns how many it deleted.
   */
  async removeNetwork(name: string, zoneid: string, wait: WaitOptions = {}): Promise<number> {
    const call = { signal: wait.signal };
    let deleted = 0;
    for (const network of await this.networksNamed(name, zoneid, call)) {
      let job: AsyncJobRef;
      try {
        job = await this.deleteNetwork(network.id, {}, call);
      } catch (err) {
        // Gone since we listed it (another attempt deleted it): CloudStack names the id invalid (431).
        const stillThere = (await this.networksNamed(name, zoneid, call)).some((n) => n.id === network.id);
        if (err instanceof CloudApiError && err.status === 431 && !stillThere) continue;
        throw err;
      }
      await this.waitForJob(job.jobid, wait);
      deleted++;
    }
    return deleted;
  }

  listTemplates(params: ListParams & { templatefilter: TemplateFilter; name?: string; zoneid?: string }, opts?: CallOptions): Promise<CsTemplate[]> {
    return this.list<CsTemplate>('listTemplates', 'template', params, opts);
  }

  /** Synchronous: answers the new template (not ready yet); poll listTemplates until isready. */
  async registerTemplate(params: RegisterTemplateParams, opts?: CallOptions): Promise<CsTemplate> {
    const [t] = await this.list<CsTemplate>('registerTemplate', 'template', params, opts);
    if (!t) throw new CloudApiError({ kind: 'Unexpected', method: 'GET', url: `${this.apiUrl}?command=registerTemplate`, message: 'registerTemplate answered no template' });
    return t;
  }

  deleteTemplate(id: string, params: { zoneid?: string; forced?: boolean } = {}, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('deleteTemplate', { id, ...params }, opts);
  }

  /** Answers {id, jobid}; the job's result is {virtualmachine}. */
  deployVirtualMachine(params: DeployVirtualMachineParams, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('deployVirtualMachine', params, opts);
  }

  startVirtualMachine(id: string, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('startVirtualMachine', { id }, opts);
  }

  stopVirtualMachine(id: string, params: { forced?: boolean } = {}, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('stopVirtualMachine', { id, ...params }, opts);
  }

  rebootVirtualMachine(id: string, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('rebootVirtualMachine', { id }, opts);
  }

  destroyVirtualMachine(id: string, params: { expunge?: boolean } = {}, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('destroyVirtualMachine', { id, ...params }, opts);
  }

  /** Note: `name` is a substring match on CloudStack; compare names exactly on the result. */
  listVirtualMachines(params: ListParams & { name?: string; state?: string; zoneid?: string } = {}, opts?: CallOptions): Promise<CsVirtualMachine[]> {
    return this.list<CsVirtualMachine>('listVirtualMachines', 'virtualmachine', params, opts);
  }

  /** The VM, or undefined when the caller cannot see it (expunged, or Destroyed for users). */
  async getVirtualMachine(id: string, opts?: CallOptions): Promise<CsVirtualMachine | undefined> {
    return (await this.listVirtualMachines({ id }, opts))[0];
  }

  /** Synchronous; the VM must be Stopped. */
  async changeServiceForVirtualMachine(id: string, serviceofferingid: string, opts?: CallOptions): Promise<CsVirtualMachine> {
    return (await this.request<{ virtualmachine: CsVirtualMachine }>('changeServiceForVirtualMachine', { id, serviceofferingid }, opts)).virtualmachine;
  }

  /** Synchronous; new user data applies at the next start. POSTed when userdata is given. */
  async updateVirtualMachine(params: { id: string; displayname?: string; userdata?: string }, opts?: CallOptions): Promise<CsVirtualMachine> {
    return (await this.request<{ virtualmachine: CsVirtualMachine }>('updateVirtualMachine', params, opts)).virtualmachine;
  }

  listVolumes(params: ListParams & { virtualmachineid?: string; type?: 'ROOT' | 'DATADISK' } = {}, opts?: CallOptions): Promise<CsVolume[]> {
    return this.list<CsVolume>('listVolumes', 'volume', params, opts);
  }

  /** Answers {id, jobid}; the job's result is {snapshot}. */
  createSnapshot(params: { volumeid: string; name?: string }, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('createSnapshot', params, opts);
  }

  listSnapshots(params: ListParams & { volumeid?: string; name?: string } = {}, opts?: CallOptions): Promise<CsSnapshot[]> {
    return this.list<CsSnapshot>('listSnapshots', 'snapshot', params, opts);
  }

  deleteSnapshot(id: string, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('deleteSnapshot', { id }, opts);
  }

  /** From a stopped VM's volume or a snapshot. Answers {id, jobid}; the job's result is {template}. */
  createTemplate(params: CreateTemplateParams, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('createTemplate', params, opts);
  }

  /** The job's result is {template: {url, state: "DOWNLOAD_URL_CREATED", …}}. */
  extractTemplate(params: { id: string; mode?: 'HTTP_DOWNLOAD'; zoneid?: string }, opts?: CallOptions): Promise<AsyncJobRef> {
    return this.request<AsyncJobRef>('extractTemplate', { mode: 'HTTP_DOWNLOAD', ...params }, opts);
  }

  queryAsyncJobResult(jobid: string, opts?: CallOptions): Promise<CsAsyncJob> {
    return this.request<CsAsyncJob>('queryAsyncJobResult', { jobid }, opts);
  }

  listAsyncJobs(params: ListParams = {}, opts?: CallOptions): Promise<CsAsyncJob[]> {
    return this.list<CsAsyncJob>('listAsyncJobs', 'asyncjobs', params, opts);
  }
}
