/**
 * The one typed configuration module. Every setting is read from the environment, has a default
 * for the embedded local stack, a doc string, and is validated before anything starts; an invalid
 * value fails with a message that names the variable. The README's configuration table is
 * generated from `CONFIG_SPEC` (see `npm run config:table`) and a test keeps them in step.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { parseAllowList } from './outbound/guard';
import { parseGuestAddressMap } from './dr/guest-checks';

type Spec = {
  env: string;
  doc: string;
  default?: string;
  schema: z.ZodType;
  /** Never echoed in error messages (keys, passwords, tokens). */
  secret?: true;
};

const port = z.coerce.number().int().min(0).max(65535);
const nonEmpty = z.string().min(1);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

function isAddressOrCidr(s: string): boolean {
  if (ipaddr.isValid(s)) return true;
  try {
    ipaddr.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}

/** Declaration order is the order of the README table. */
export const CONFIG_SPEC = {
  logLevel: { env: 'LOG_LEVEL', doc: 'pino log level (trace, debug, info, warn, error, fatal, silent)', default: 'info', schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) },
  dataDir: { env: 'VMFLOW_DATA_DIR', doc: 'Directory for the embedded servers\' state (Temporal SQLite file, FerretDB SQLite files, image store)', default: './data', schema: nonEmpty },
  toolsDir: { env: 'VMFLOW_TOOLS_DIR', doc: 'Per-user cache for the Temporal CLI, FerretDB and compat clients, keyed by version; shared by every clone', default: path.join(os.homedir(), '.cache', 'vmflow', 'tools'), schema: nonEmpty },
  temporalAddress: { env: 'TEMPORAL_ADDRESS', doc: 'host:port of an existing Temporal frontend. When set, no embedded dev server is started', schema: nonEmpty.optional() },
  temporalNamespace: { env: 'TEMPORAL_NAMESPACE', doc: 'Temporal namespace', default: 'default', schema: nonEmpty },
  temporalTaskQueue: { env: 'TEMPORAL_TASK_QUEUE', doc: 'Task queue the worker polls and the API starts workflows on', default: 'vmflow', schema: nonEmpty },
  temporalPort: { env: 'TEMPORAL_PORT', doc: 'gRPC port of the embedded Temporal dev server', default: '7233', schema: port },
  temporalUiPort: { env: 'TEMPORAL_UI_PORT', doc: 'Port of the embedded Temporal Web UI', default: '8233', schema: port },
  temporalUiUrl: { env: 'TEMPORAL_UI_URL', doc: 'Base URL of the Temporal Web UI operators use (default http://127.0.0.1:TEMPORAL_UI_PORT); an operator\'s GET /api/v1/auth/me links into it (the console shows the links). Members\' API answers never link to it: it lists every member\'s workflows', schema: z.url().optional() },
  temporalCliPath: { env: 'TEMPORAL_CLI_PATH', doc: 'Path to a `temporal` CLI binary to use instead of building v1.5.1 into the tools cache', schema: nonEmpty.optional() },
  mongodbUri: { env: 'MONGODB_URI', doc: 'MongoDB connection string. When set, no embedded FerretDB is started', schema: nonEmpty.optional() },
  ferretdbPort: { env: 'FERRETDB_PORT', doc: 'Port of the embedded FerretDB (MongoDB wire protocol)', default: '27017', schema: port },
  mongodbDatabase: { env: 'MONGODB_DATABASE', doc: 'Database name used with the embedded FerretDB', default: 'vmflow', schema: nonEmpty },
  apiHost: { env: 'API_HOST', doc: 'Address the REST API listens on', default: '127.0.0.1', schema: nonEmpty },
  apiPort: { env: 'API_PORT', doc: 'Port of the REST API', default: '3000', schema: port },
  metricsEnabled: { env: 'VMFLOW_METRICS', doc: 'Whether the API and the worker serve Prometheus metrics (each on its own port, see below)', default: 'true', schema: bool },
  metricsHost: { env: 'VMFLOW_METRICS_HOST', doc: 'Address the metrics listeners (API, worker, Temporal SDK) bind to. Keep it private: fleet counts, cloud account ids and (with VMFLOW_METRICS_PER_VM) VM ids are for the operator', default: '127.0.0.1', schema: nonEmpty },
  apiMetricsPort: { env: 'API_METRICS_PORT', doc: 'Port of the API\'s GET /metrics (HTTP latency by route, fleet gauges read from MongoDB and Temporal on scrape)', default: '9464', schema: port },
  workerMetricsPort: { env: 'WORKER_METRICS_PORT', doc: 'Port of the worker\'s GET /metrics (backups, failovers and failbacks, monitor checks, cloud API calls)', default: '9465', schema: port },
  temporalMetricsPort: { env: 'TEMPORAL_METRICS_PORT', doc: 'Port of the Temporal SDK\'s own Prometheus metrics in the worker (task slots, polls, latencies: temporal_*)', default: '9466', schema: port },
  metricsPerVm: { env: 'VMFLOW_METRICS_PER_VM', doc: 'Also export per-VM RPO series (vmflow_vm_rpo_seconds, vmflow_vm_backup_period_seconds with a vm_id label): one series per VM with a backup policy', default: 'false', schema: bool },
  otelEndpoint: { env: 'OTEL_EXPORTER_OTLP_ENDPOINT', doc: 'OTLP/HTTP collector base URL (traces go to <url>/v1/traces). When set (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), the API and the worker export OpenTelemetry traces: API request → workflow → activity → cloud HTTP call. Off when unset', schema: z.url().optional() },
  otelTracesEndpoint: { env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', doc: 'Full OTLP/HTTP traces URL, instead of OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces', schema: z.url().optional() },
  otelExportDelayMs: { env: 'VMFLOW_OTEL_EXPORT_DELAY_MS', doc: 'Longest time a finished span waits before it is exported (batched)', default: '5000', schema: z.coerce.number().int().min(10).max(60_000) },
  openstackSimPort: { env: 'OPENSTACK_SIM_PORT', doc: 'Port of the OpenStack simulator started by `npm start`', default: '8000', schema: port },
  cloudstackSimPort: { env: 'CLOUDSTACK_SIM_PORT', doc: 'Port of the CloudStack simulator started by `npm start`', default: '8080', schema: port },
  imageStorePort: { env: 'IMAGE_STORE_PORT', doc: 'Port of the image store ("the web server" of the seed)', default: '8090', schema: port },
  catalogFile: { env: 'VMFLOW_CATALOG_FILE', doc: 'JSON or YAML file merged over the built-in catalog (operating systems, software, sizes and their per-cloud names)', schema: nonEmpty.optional() },
  openstackNetwork: { env: 'OPENSTACK_NETWORK', doc: 'Neutron network that VM ports (and standbys) are created on', default: 'private', schema: nonEmpty },
  openstackExternalNetwork: { env: 'OPENSTACK_EXTERNAL_NETWORK', doc: 'External (provider) network the router of an environment\'s private network has its gateway on; empty: environments get no router (members reach only each other)', default: 'public', schema: z.string().trim() },
  activityPollIntervalMs: { env: 'VMFLOW_POLL_INTERVAL_MS', doc: 'How often waiting activities poll a cloud (stack status, async jobs, image status), in ms; at most 10000 because waits heartbeat per poll and a 30 s heartbeat timeout spots a dead worker', default: '2000', schema: z.coerce.number().int().min(10).max(10_000) },
  imageStoreUrl: { env: 'IMAGE_STORE_URL', doc: 'Where the worker reaches the image store (default http://127.0.0.1:IMAGE_STORE_PORT)', schema: z.url().optional() },
  imageStorePublicUrl: { env: 'IMAGE_STORE_PUBLIC_URL', doc: 'Base URL the clouds (CloudStack secondary storage, Glance web-download) fetch images from; must be reachable from them', schema: z.url().optional() },
  imageStoreDir: { env: 'IMAGE_STORE_DIR', doc: 'Image store directory (default VMFLOW_DATA_DIR/images)', schema: nonEmpty.optional() },
  imageStoreHost: { env: 'IMAGE_STORE_HOST', doc: 'Address the image store listens on', default: '127.0.0.1', schema: nonEmpty },
  imageStoreToken: { env: 'IMAGE_STORE_TOKEN', doc: 'Bearer token the worker uses to upload to the image store. Required in production; in development generated once into the store directory', schema: nonEmpty.optional(), secret: true },
  imageStoreSigningSecret: { env: 'IMAGE_STORE_SIGNING_SECRET', doc: 'HMAC secret of the image store\'s expiring download URLs. Required in production; generated in development like the token', schema: nonEmpty.optional(), secret: true },
  imageStoreMaxBytes: { env: 'IMAGE_STORE_MAX_BYTES', doc: 'Largest image the store accepts, in bytes (unset: no limit)', schema: z.coerce.number().int().positive().optional() },
  backupMinIntervalSeconds: { env: 'VMFLOW_BACKUP_MIN_INTERVAL_SECONDS', doc: 'Shortest backup period a user may ask for, in seconds', default: '60', schema: z.coerce.number().int().min(1) },
  monitorIntervalSeconds: { env: 'VMFLOW_MONITOR_INTERVAL_SECONDS', doc: 'How often each cloud monitor lists its servers and checks Keystone and Nova, in seconds', default: '30', schema: z.coerce.number().int().min(1).max(3600) },
  monitorFailureThreshold: { env: 'VMFLOW_MONITOR_FAILURE_THRESHOLD', doc: 'Consecutive failed checks before a VM or a cloud counts as down (a shorter blip fails nothing over)', default: '3', schema: z.coerce.number().int().min(1).max(100) },
  monitorSuccessThreshold: { env: 'VMFLOW_MONITOR_SUCCESS_THRESHOLD', doc: 'Consecutive good checks before a VM or a cloud counts as up again', default: '2', schema: z.coerce.number().int().min(1).max(100) },
  drFailbackAfterSeconds: { env: 'VMFLOW_DR_FAILBACK_AFTER_SECONDS', doc: 'Default time the base cloud must stay healthy before a failback starts, in seconds (per VM setting)', default: '300', schema: z.coerce.number().int().min(0).max(7 * 86400) },
  drHealthCheckSeconds: { env: 'VMFLOW_DR_HEALTH_CHECK_SECONDS', doc: 'While a VM runs in the backup cloud, how often its DR workflow checks the base cloud, in seconds', default: '30', schema: z.coerce.number().int().min(1).max(3600) },
  webhookUrl: { env: 'VMFLOW_WEBHOOK_URL', doc: 'Where disaster alerts (failover, failback, drill events) are POSTed as JSON; unset: events are only stored', schema: z.url().optional() },
  webhookSecret: { env: 'VMFLOW_WEBHOOK_SECRET', doc: 'HMAC-SHA256 key for the X-Vmflow-Signature header of alert webhooks', schema: nonEmpty.optional(), secret: true },
  outboundAllow: { env: 'VMFLOW_OUTBOUND_ALLOW', doc: 'Comma-separated exceptions to the guard on member-supplied URLs (cloud accounts\' authUrl/apiUrl, their Keystone catalog, CloudStack extract URLs), which otherwise reach public unicast addresses only: a CIDR or address (`10.20.0.0/16`) allows connecting there; an http(s) URL prefix (`http://127.0.0.1:8000/identity/`) allows requests under that path of that origin and nothing else of it. `npm start` adds its simulators\' API paths', schema: z.string().optional().transform((v, ctx) => {
    try {
      return parseAllowList(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }) },
  guestAddressMap: { env: 'VMFLOW_GUEST_ADDRESS_MAP', doc: 'Where guest health checks connect: `from-cidr=to-cidr[,…]` rewrites a VM address in `from` to the same host bits in `to`; with a map, addresses it does not cover are not checked. Unset (real clouds): the VM\'s own address (floating first). `npm start` sets `10.0.0.0/8=127.0.0.0/8`, where its simulator serves the guests', schema: z.string().optional().superRefine((v, ctx) => {
    try {
      parseGuestAddressMap(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }) },
  startSimulators: { env: 'VMFLOW_START_SIMULATORS', doc: 'Whether `npm start` runs the cloud simulators (turn off when pointing at real clouds)', default: 'true', schema: bool },
  nodeEnv: { env: 'NODE_ENV', doc: '`production` makes missing secrets (VMFLOW_ENCRYPTION_KEYS) a start-up error instead of an embedded default', default: 'development', schema: nonEmpty },
  encryptionKeys: { env: 'VMFLOW_ENCRYPTION_KEYS', doc: 'Keyring for secrets at rest and Temporal payloads: comma-separated `kid:base64(32 bytes)`; the first encrypts, all decrypt (rotation). Unset outside production: a key is generated once into `<VMFLOW_DATA_DIR>/secrets/keys`', schema: z.string().regex(/^\s*[A-Za-z0-9_.-]{1,32}:[A-Za-z0-9+/]{43}=\s*(,\s*[A-Za-z0-9_.-]{1,32}:[A-Za-z0-9+/]{43}=\s*)*$/, 'expected kid:base64(32 bytes)[,kid:base64…]').optional(), secret: true },
  sessionTtlHours: { env: 'SESSION_TTL_HOURS', doc: 'Lifetime of a login session (bearer token and cookie), in hours', default: '12', schema: z.coerce.number().positive().max(24 * 90) },
  sessionCookieSecure: { env: 'SESSION_COOKIE_SECURE', doc: 'Mark the session cookie `Secure` (sent over HTTPS only). Default: true when NODE_ENV=production, else false (the local stack is plain HTTP)', schema: bool.optional() },
  sessionPruneIntervalMinutes: { env: 'SESSION_PRUNE_INTERVAL_MINUTES', doc: 'How often the API deletes expired login sessions, in minutes', default: '15', schema: z.coerce.number().positive().max(24 * 60) },
  loginLimitPerUsername: { env: 'LOGIN_RATE_LIMIT_PER_USERNAME', doc: 'Failed login (and withdraw) attempts allowed per username *from one client address* within the window before 429; the same username from an address that has not failed is not affected', default: '5', schema: z.coerce.number().int().min(1) },
  loginLimitPerAddress: { env: 'LOGIN_RATE_LIMIT_PER_ADDRESS', doc: 'Failed login attempts allowed per client address (any usernames) within the window before 429', default: '20', schema: z.coerce.number().int().min(1) },
  loginLimitWindowSeconds: { env: 'LOGIN_RATE_LIMIT_WINDOW_SECONDS', doc: 'Window of the login rate limits, in seconds (fixed windows; the counters live in the database, shared by every API process)', default: '900', schema: z.coerce.number().int().min(1) },
  trustedProxies: { env: 'VMFLOW_TRUSTED_PROXIES', doc: 'Comma-separated addresses or CIDRs of reverse proxies in front of the API whose `X-Forwarded-For` is believed (the client address is then the last one not in this list). Unset: the header is ignored and the client address is the TCP peer, loopback included', schema: z.string().optional().transform((v, ctx) => {
    const list = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    for (const entry of list) {
      if (!isAddressOrCidr(entry)) ctx.addIssue({ code: 'custom', message: `${entry} is not an IP address or CIDR` });
    }
    return list;
  }) },
  signupLimitPerAddress: { env: 'SIGNUP_RATE_LIMIT_PER_ADDRESS', doc: 'Sign-ups allowed per client address within the sign-up window before 429 (every attempt that passes validation counts)', default: '5', schema: z.coerce.number().int().min(1) },
  signupLimitGlobal: { env: 'SIGNUP_RATE_LIMIT_GLOBAL', doc: 'Sign-ups allowed from all addresses together within the sign-up window before 429 (bounds what many addresses together can cost)', default: '200', schema: z.coerce.number().int().min(1) },
  signupLimitWindowSeconds: { env: 'SIGNUP_RATE_LIMIT_WINDOW_SECONDS', doc: 'Sliding window of the sign-up limits, in seconds', default: '3600', schema: z.coerce.number().int().min(1) },
  passwordHashConcurrency: { env: 'PASSWORD_HASH_CONCURRENCY', doc: 'Password hashes (scrypt, 128 MiB each at the default cost) computed at once per API process; sign-ups may use all but one, and waiting logins go first', default: '2', schema: z.coerce.number().int().min(1).max(64) },
  passwordHashQueue: { env: 'PASSWORD_HASH_QUEUE', doc: 'Logins and sign-ups allowed to wait for a hashing slot per API process; more are answered 503 with Retry-After', default: '100', schema: z.coerce.number().int().min(1).max(100_000) },
  createConcurrency: { env: 'CREATE_CONCURRENCY', doc: 'Creates (POST /vms, POST /environments) admitted at once per API process; the others wait for a slot', default: '8', schema: z.coerce.number().int().min(1).max(1000) },
  createQueue: { env: 'CREATE_QUEUE', doc: 'Creates allowed to wait for a slot per API process; more are answered 503 busy with Retry-After (a burst beyond what the database takes fails fast instead of timing out)', default: '32', schema: z.coerce.number().int().min(0).max(100_000) },
  verifyLimitPerMember: { env: 'VERIFY_RATE_LIMIT_PER_MEMBER', doc: 'Cloud-account verify calls one member may make within the verify window before 429 (each makes the API call a cloud)', default: '20', schema: z.coerce.number().int().min(1) },
  verifyLimitPerAccount: { env: 'VERIFY_RATE_LIMIT_PER_ACCOUNT', doc: 'Verify calls for one cloud account within the verify window before 429', default: '5', schema: z.coerce.number().int().min(1) },
  verifyLimitWindowSeconds: { env: 'VERIFY_RATE_LIMIT_WINDOW_SECONDS', doc: 'Sliding window of the verify limits, in seconds', default: '600', schema: z.coerce.number().int().min(1) },
  quotaVms: { env: 'QUOTA_VMS', doc: 'VMs (not deleted) one member may have; past it, creating one is 409 quota_exceeded', default: '50', schema: z.coerce.number().int().min(1) },
  cloudQuotaCheck: { env: 'VMFLOW_CLOUD_QUOTA_CHECK', doc: 'Before a create, read the cloud\'s own quota (Nova limits, CloudStack resource limits) and refuse with 409 cloud_quota_exceeded a VM that would not fit, standbys included', default: 'true', schema: bool },
  quotaCloudAccounts: { env: 'QUOTA_CLOUD_ACCOUNTS', doc: 'Cloud accounts one member may register', default: '20', schema: z.coerce.number().int().min(1) },
  quotaBackupsInFlight: { env: 'QUOTA_BACKUPS_IN_FLIGHT', doc: 'Backups of one member running at once when another is asked for through the API', default: '10', schema: z.coerce.number().int().min(1) },
  quotaDrillsInFlight: { env: 'QUOTA_DRILLS_IN_FLIGHT', doc: 'Drills of one member running at once when another is asked for through the API', default: '5', schema: z.coerce.number().int().min(1) },
  drillMinIntervalSeconds: { env: 'VMFLOW_DRILL_MIN_INTERVAL_SECONDS', doc: 'Shortest drill schedule period a member may ask for, in seconds', default: '3600', schema: z.coerce.number().int().min(60) },
  quotaBackupRetention: { env: 'QUOTA_BACKUP_RETENTION', doc: 'Most good backups a backup policy may keep (its `retention`)', default: '30', schema: z.coerce.number().int().min(1).max(100) },
  quotaImageStoreBytes: { env: 'QUOTA_IMAGE_STORE_BYTES', doc: 'Bytes of one member\'s unretired backups in the image store past which a manual backup is refused (unset: no limit)', schema: z.coerce.number().int().positive().optional() },
  passwordScryptLog2N: { env: 'PASSWORD_SCRYPT_LOG2N', doc: 'scrypt cost of new password hashes as log2(N) (r=8, p=1; 17 ⇒ 128 MiB and ~0.25 s per hash). Stored hashes keep their own parameters', default: '17', schema: z.coerce.number().int().min(14).max(20) },
  codecToken: { env: 'VMFLOW_CODEC_TOKEN', doc: 'Operator bearer token accepted by the Temporal codec endpoint `/codec/{encode,decode}` (at least 32 characters). Unset: only operator sessions are accepted', schema: z.string().min(32).optional(), secret: true },
  codecCorsOrigins: { env: 'VMFLOW_CODEC_CORS_ORIGINS', doc: 'Comma-separated origins (the Temporal Web UI) allowed to call the codec endpoint from a browser', default: 'http://127.0.0.1:8233,http://localhost:8233', schema: z.string().transform((v) => v.split(',').map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean)) },
  operatorClouds: { env: 'VMFLOW_OPERATOR_CLOUDS', doc: 'Which operator cloud accounts to seed at API start-up: `openstack`, `cloudstack`, both (comma-separated) or `none`', default: 'openstack,cloudstack', schema: z.string().transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s && s !== 'none')).pipe(z.array(z.enum(['openstack', 'cloudstack']))) },
  openstackAuthUrl: { env: 'OPENSTACK_AUTH_URL', doc: 'Operator OpenStack account: Keystone v3 URL', default: 'http://127.0.0.1:8000/identity/v3', schema: z.url() },
  openstackRegion: { env: 'OPENSTACK_REGION', doc: 'Operator OpenStack account: region', default: 'RegionOne', schema: nonEmpty },
  openstackProjectName: { env: 'OPENSTACK_PROJECT_NAME', doc: 'Operator OpenStack account: project name', default: 'demo', schema: nonEmpty },
  openstackProjectDomainName: { env: 'OPENSTACK_PROJECT_DOMAIN_NAME', doc: 'Operator OpenStack account: project domain name', default: 'Default', schema: nonEmpty },
  openstackUsername: { env: 'OPENSTACK_USERNAME', doc: 'Operator OpenStack account: user name', default: 'demo', schema: nonEmpty },
  openstackUserDomainName: { env: 'OPENSTACK_USER_DOMAIN_NAME', doc: 'Operator OpenStack account: user domain name', default: 'Default', schema: nonEmpty },
  openstackPassword: { env: 'OPENSTACK_PASSWORD', doc: 'Operator OpenStack account: password (default: the simulator\'s demo user). Stored encrypted', default: 'demo-secret', schema: nonEmpty, secret: true },
  cloudstackApiUrl: { env: 'CLOUDSTACK_API_URL', doc: 'Operator CloudStack account: API URL', default: 'http://127.0.0.1:8080/client/api', schema: z.url() },
  cloudstackApiKey: { env: 'CLOUDSTACK_API_KEY', doc: 'Operator CloudStack account: API key (default: the simulator\'s demo account). Stored encrypted', default: 'PbA8LbQTT2E28uMDiF18JmPrAk5UtLlaZw49kp4DTmNR2rPSlHBb3h6j7SWS5ZBw5Jy-RvJhFP8PdD1syGg-IQ', schema: nonEmpty, secret: true },
  cloudstackSecretKey: { env: 'CLOUDSTACK_SECRET_KEY', doc: 'Operator CloudStack account: secret key (default: the simulator\'s demo account). Stored encrypted', default: 'zkVU2BBlFi2i5fnKjePvFmvCuyzaotT45Wio_JSr0KRZPgkoxeFs7VwS8E4Fsuv-Fu55Ny5UzROOrVTZXiiIzw', schema: nonEmpty, secret: true },
  cloudstackZone: { env: 'CLOUDSTACK_ZONE', doc: 'Operator CloudStack account: zone name (optional; the only zone when unset)', schema: nonEmpty.optional() },
} satisfies Record<string, Spec>;

type SpecMap = typeof CONFIG_SPEC;
export type Config = Omit<{ [K in keyof SpecMap]: z.output<SpecMap[K]['schema']> }, 'temporalUiUrl' | 'sessionCookieSecure'> & {
  /** SESSION_COOKIE_SECURE, or true when NODE_ENV=production. */
  sessionCookieSecure: boolean;
  /** TEMPORAL_UI_URL, or the embedded UI's address. */
  temporalUiUrl: string;
  /** Where the worker and API connect: TEMPORAL_ADDRESS or the embedded dev server. */
  temporalTarget: string;
  /** Where mongoose connects: MONGODB_URI or the embedded FerretDB. */
  mongodbTarget: string;
  embeddedTemporal: boolean;
  embeddedMongo: boolean;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, Spec][]) {
    const raw = env[spec.env] === '' ? undefined : env[spec.env];
    const result = spec.schema.safeParse(raw ?? spec.default);
    if (result.success) out[key] = result.data;
    else problems.push(`${spec.env}=${spec.secret ? '(secret, not shown)' : JSON.stringify(raw ?? spec.default)}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  // Removed: a role given by username went to whoever signed up with the name first (issue 12).
  if (env.VMFLOW_OPERATORS) problems.push('VMFLOW_OPERATORS is no longer read: roles are stored on the member; grant one with `npm run operator -- grant <username>` and unset the variable');
  if (problems.length) throw new ConfigError(problems);
  const c = out as Omit<Config, 'temporalTarget' | 'mongodbTarget' | 'embeddedTemporal' | 'embeddedMongo' | 'temporalUiUrl' | 'sessionCookieSecure'> & { temporalUiUrl?: string; sessionCookieSecure?: boolean };
  return {
    ...c,
    sessionCookieSecure: c.sessionCookieSecure ?? c.nodeEnv === 'production',
    temporalUiUrl: c.temporalUiUrl ?? `http://127.0.0.1:${c.temporalUiPort}`,
    dataDir: path.resolve(c.dataDir),
    embeddedTemporal: !c.temporalAddress,
    embeddedMongo: !c.mongodbUri,
    temporalTarget: c.temporalAddress ?? `127.0.0.1:${c.temporalPort}`,
    mongodbTarget: c.mongodbUri ?? `mongodb://127.0.0.1:${c.ferretdbPort}/${c.mongodbDatabase}?${EMBEDDED_MONGO_OPTIONS}`,
  };
}

/**
 * Connection-string options every process uses with the embedded FerretDB. FerretDB v1's SQLite
 * backend has a pool of 100 SQLite connections, and an update holds one (the query finding the
 * document) while it waits for a second (the write): 100 updates in flight held all of them and
 * each waited for another — FerretDB answered `ping` and nothing else, for good (seen under 500
 * creates at once with two workers: the goroutine stacks FerretDB prints on SIGQUIT). With
 * each process's driver pool at 12, fewer than 100 operations reach it at once unless nine
 * processes share one FerretDB (API and worker share it in `npm start`; the orchestration bench with four workers
 * has seven). One SQLite writer at a time means a bigger pool would not write faster anyway.
 * A real MongoDB (MONGODB_URI) keeps the driver's default.
 */
export const EMBEDDED_MONGO_OPTIONS = 'maxPoolSize=12';

/** Markdown rows for the README's configuration table. */
export function configTableMarkdown(): string {
  const rows = (Object.values(CONFIG_SPEC) as Spec[]).map((s) => {
    const def = s.default === undefined ? '—' : `\`${s.default.startsWith(os.homedir()) ? s.default.replace(os.homedir(), '~') : s.default}\``;
    return `| \`${s.env}\` | ${def} | ${s.doc} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
