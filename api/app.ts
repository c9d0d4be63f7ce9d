/**
 * The express application: request ids and logging, JSON parsing, health routes, the /api/v1
 * router, and one error middleware that turns every failure into a JSON error body. User input
 * never causes a 5xx: validation, parsing and size errors are 4xx naming the problem.
 */
import crypto from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import { sessionModel, userModel } from '../src/accounts/model';
import { AccountService } from '../src/accounts/service';
import { cloudAccountModel } from '../src/cloud-accounts/model';
import { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { CloudAccountStore } from '../src/cloud-accounts/store';
import type { Config } from '../src/config';
import { isDatabaseBusy, pingDatabase } from '../src/db/connection';
import { AppError } from '../src/errors';
import type { Logger } from '../src/logger';
import type { Keyring } from '../src/secrets/keyring';
import { pingTemporal, type TemporalClientHandle } from '../src/temporal/client';
import { sessionGate, type AuthLocals } from './auth-middleware';
import { authRoutes } from './routes/auth';
import { cloudAccountsRoutes } from './routes/cloud-accounts';
import { CODEC_ENDPOINT_PATH, codecRoutes } from './routes/codec';
import { catalogRoutes } from './routes/catalog';
import { ApiContract, openApiHandler } from './openapi';
import { DEPENDENCIES, healthSchema, openApiDocumentSchema, readinessSchema } from '../src/contracts/api/meta';
import { vmRoutes } from './routes/vms';
import { environmentRoutes } from './routes/environments';
import { environmentBackupRoutes } from './routes/environment-backups';
import { EnvironmentBackupService } from '../src/environments/backup-service';
import { EnvironmentService } from '../src/environments/service';
import { ENVIRONMENT_MEMBER_DATA } from '../src/environments/member-data';
import { environmentDrRoutes } from './routes/environment-dr';
import { EnvironmentDrService } from '../src/environments/dr-service';
import { backupRoutes } from './routes/backups';
import { drRoutes } from './routes/dr';
import { DrService } from '../src/dr/service';
import { BackupService } from '../src/backups/service';
import { loadCatalog } from '../src/catalog/load';
import { OPERATOR_ACCOUNT_IDS } from '../src/cloud-accounts/types';
import { OutboundGuard } from '../src/outbound/guard';
import { AdmissionGate } from '../src/limits/admission';
import { ensureThrottleIndexes, Throttle } from '../src/limits/throttle';
import { ensureQuotaSlotIndexes } from '../src/vms/quota-slots';
import type { MemberQuotas } from '../src/limits/quotas';
import { VmService } from '../src/vms/service';
import { CloudQuotas } from '../src/vms/cloud-quota';
import { quotaRoutes } from './routes/quotas';
import { registerMemberDataCleanups } from '../src/accounts/member-data';
import { VM_MEMBER_DATA } from '../src/vms/member-data';
import { BACKUP_MEMBER_DATA } from '../src/backups/member-data';
import { DR_MEMBER_DATA } from '../src/dr/member-data';
import { WEBHOOK_MEMBER_DATA } from '../src/webhooks/member-data';
import { WebhookService } from '../src/webhooks/service';
import { webhookRoutes } from './routes/webhooks';
import { httpMetrics } from '../src/metrics/http';
import { httpServerSpans } from '../src/tracing';
import { webConsole } from './web-console';

export interface ApiDeps {
  config: Config;
  db: Connection;
  temporal: TemporalClientHandle;
  logger: Logger;
  /** Encryption keyring (loadKeyring(config)): cloud secrets at rest and Temporal payloads. */
  keyring: Keyring;
  /**
   * Prefix of the rate-limit counters' keys. Every API process of a deployment must use the same
   * one (they share the counters); tests give each API instance its own so suites stay apart.
   */
  limiterNamespace?: string;
  /** The built web console (default: web/dist, see api/web-console.ts). */
  webDir?: string;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
    }
  }
}

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-For is believed only from the configured proxies (none by default): otherwise any
  // client could name its own address and walk around the per-address limits.
  app.set('trust proxy', deps.config.trustedProxies.length ? deps.config.trustedProxies : false);

  // What withdrawal removes, area by area (each area's module says what it stores of a member).
  // DR first: its drill-schedule cleanup reads the member's VM ids before the VM records go.
  for (const area of [DR_MEMBER_DATA, VM_MEMBER_DATA, ENVIRONMENT_MEMBER_DATA, BACKUP_MEMBER_DATA, WEBHOOK_MEMBER_DATA]) registerMemberDataCleanups(area);
  const accounts = new AccountService({
    db: deps.db,
    temporal: deps.temporal.client,
    log: deps.logger.child({ component: 'accounts' }),
    scrypt: { log2N: deps.config.passwordScryptLog2N, r: 8, p: 1 },
    sessionTtlMs: deps.config.sessionTtlHours * 3600_000,
    loginLimits: {
      perUsername: deps.config.loginLimitPerUsername,
      perAddress: deps.config.loginLimitPerAddress,
      windowMs: deps.config.loginLimitWindowSeconds * 1000,
    },
    signupLimits: { perAddress: deps.config.signupLimitPerAddress, global: deps.config.signupLimitGlobal, windowSeconds: deps.config.signupLimitWindowSeconds },
    hashing: { concurrency: deps.config.passwordHashConcurrency, maxQueued: deps.config.passwordHashQueue },
    limiterNamespace: deps.limiterNamespace,
  });
  app.locals.auth = { accounts } satisfies AuthLocals;
  const cloudAccounts = new CloudAccountStore(deps.db, deps.keyring);
  const quotas: MemberQuotas = {
    vms: deps.config.quotaVms,
    cloudAccounts: deps.config.quotaCloudAccounts,
    backupsInFlight: deps.config.quotaBackupsInFlight,
    drillsInFlight: deps.config.quotaDrillsInFlight,
    drillMinIntervalSeconds: deps.config.drillMinIntervalSeconds,
    backupRetention: deps.config.quotaBackupRetention,
    imageStoreBytes: deps.config.quotaImageStoreBytes,
  };
  const outbound = new OutboundGuard({ allow: deps.config.outboundAllow });
  const resolver = new CloudAccountResolver({ db: deps.db, keyring: deps.keyring, logger: deps.logger, outbound });
  // Loaded once and validated at start-up: a bad override file stops the API with the field named.
  const catalog = loadCatalog({ file: deps.config.catalogFile });
  const cloudQuotas = new CloudQuotas({ resolver, catalog: () => catalog });
  const vms = new VmService({
    db: deps.db,
    temporal: deps.temporal.client,
    taskQueue: deps.config.temporalTaskQueue,
    namespace: deps.config.temporalNamespace,
    catalog: () => catalog,
    findAccount: async (id, userId) => {
      const a = await cloudAccounts.findVisible(id, userId);
      return a ? { id: a._id, kind: a.kind } : undefined;
    },
    operatorAccountId: (cloud) => OPERATOR_ACCOUNT_IDS[cloud],
    maxVmsPerMember: quotas.vms,
    ...(deps.config.cloudQuotaCheck ? { cloudQuotas } : {}),
    createGate: new AdmissionGate('VMs', deps.config.createConcurrency, deps.config.createQueue),
  });

  // Every route is declared with its contract (api/openapi.ts): mounted and documented at once.
  const contract = new ApiContract();
  app.locals.contract = contract;
  const root = contract.scope(app);

  app.use(requestContext(deps.logger));
  app.use(httpMetrics());
  app.use(httpServerSpans());
  // Before the JSON parser: codec bodies (whole histories' payloads) get their own, larger limit.
  codecRoutes(root.scope(CODEC_ENDPOINT_PATH), deps);
  app.use(express.json({ limit: '256kb' }));

  root.route(
    { method: 'get', path: '/healthz', operationId: 'health', tag: 'health', auth: 'public', summary: 'Liveness: the process answers', responses: { 200: { description: 'alive', body: healthSchema } } },
    (_req, res) => {
      res.json({ status: 'ok' });
    },
  );

  root.route(
    {
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      tag: 'health',
      auth: 'public',
      summary: 'Readiness: Temporal and MongoDB reachable',
      responses: { 200: { description: 'ready', body: readinessSchema }, 503: { description: 'a dependency is unreachable; `failing` names it', body: readinessSchema } },
    },
    async (_req, res) => {
      const [temporal, mongodb] = await Promise.all([
        pingTemporal(deps.temporal, deps.config.temporalNamespace),
        pingDatabase(deps.db),
      ]);
      const failing = DEPENDENCIES.filter((d) => !{ temporal, mongodb }[d]);
      res.status(failing.length ? 503 : 200).json({
        status: failing.length ? 'unavailable' : 'ready',
        checks: { temporal: temporal ? 'ok' : 'unreachable', mongodb: mongodb ? 'ok' : 'unreachable' },
        ...(failing.length ? { failing } : {}),
      });
    },
  );

  const v1 = root.scope('/api/v1');
  // Every /api/v1 route needs a session except PUBLIC_API_ROUTES (auth-middleware.ts).
  v1.router.use(sessionGate);
  v1.route(
    { method: 'get', path: '/openapi.json', operationId: 'openApiDocument', tag: 'meta', auth: 'public', summary: 'This OpenAPI document', responses: { 200: { description: 'the document', body: openApiDocumentSchema } } },
    openApiHandler(contract),
  );
  authRoutes(v1.scope('/auth'), accounts, deps.config);
  const verifyWindow = deps.config.verifyLimitWindowSeconds;
  cloudAccountsRoutes(v1.scope('/cloud-accounts'), cloudAccounts, resolver, {
    maxPerMember: quotas.cloudAccounts,
    verify: {
      perMember: new Throttle(deps.db, { name: 'verify-member', points: deps.config.verifyLimitPerMember, windowSeconds: verifyWindow }, deps.limiterNamespace),
      perAccount: new Throttle(deps.db, { name: 'verify-account', points: deps.config.verifyLimitPerAccount, windowSeconds: verifyWindow }, deps.limiterNamespace),
    },
  });
  catalogRoutes(v1, () => catalog, vms, deps.config.openstackNetwork);
  const backups = new BackupService({
    db: deps.db,
    temporal: deps.temporal.client,
    taskQueue: deps.config.temporalTaskQueue,
    vms,
    minIntervalSeconds: deps.config.backupMinIntervalSeconds,
    quotas,
    defaultBackupAccountId: OPERATOR_ACCOUNT_IDS.cloudstack,
    findAccount: async (id, userId) => {
      const a = await cloudAccounts.findVisible(id, userId);
      return a ? { id: a._id, kind: a.kind } : undefined;
    },
  });
  const dr = new DrService({
    db: deps.db,
    temporal: deps.temporal.client,
    taskQueue: deps.config.temporalTaskQueue,
    vms,
    monitor: { intervalSeconds: deps.config.monitorIntervalSeconds, failureThreshold: deps.config.monitorFailureThreshold, successThreshold: deps.config.monitorSuccessThreshold },
    defaults: { failbackMode: 'automatic', failbackAfterHealthySeconds: deps.config.drFailbackAfterSeconds },
    healthCheckSeconds: deps.config.drHealthCheckSeconds,
    quotas,
  });
  vmRoutes(v1, vms, backups, dr);
  const environmentGroups = new EnvironmentBackupService({
    db: deps.db,
    temporal: deps.temporal.client,
    taskQueue: deps.config.temporalTaskQueue,
    backups,
    findAccount: async (id, userId) => {
      const a = await cloudAccounts.findVisible(id, userId);
      return a ? { id: a._id, kind: a.kind } : undefined;
    },
  });
  const environmentPlans = new EnvironmentDrService({ db: deps.db, temporal: deps.temporal.client, taskQueue: deps.config.temporalTaskQueue, dr, pollSeconds: deps.config.drHealthCheckSeconds });
  environmentRoutes(
    v1,
    new EnvironmentService({
      db: deps.db,
      temporal: deps.temporal.client,
      taskQueue: deps.config.temporalTaskQueue,
      vms,
      findAccount: async (id, userId) => {
        const a = await cloudAccounts.findVisible(id, userId);
        return a ? { id: a._id, kind: a.kind } : undefined;
      },
      operatorAccountId: (cloud) => OPERATOR_ACCOUNT_IDS[cloud],
      groups: environmentGroups,
    }),
  );
  environmentBackupRoutes(v1, environmentGroups);
  environmentDrRoutes(v1, environmentPlans);
  quotaRoutes(v1, cloudQuotas, async (id, userId) => {
    const a = await cloudAccounts.findVisible(id, userId);
    return a ? { id: a._id, kind: a.kind } : undefined;
  });
  backupRoutes(v1, backups);
  drRoutes(v1, dr);
  webhookRoutes(v1.scope('/webhooks'), new WebhookService({ db: deps.db, keyring: deps.keyring, outbound }));
  // The web console at / (api/web-console.ts): after every API route, before the JSON 404.
  app.use(webConsole(deps.webDir));

  app.use((req, _res, next) => next(AppError.notFound(`route ${req.method} ${req.path}`)));
  app.use(errorHandler);
  return app;
}

function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.header('x-request-id');
    req.id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
    req.log = logger.child({ reqId: req.id });
    res.setHeader('x-request-id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      req.log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms) }, 'request');
    });
    next();
  };
}

const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let appErr: AppError;
  if (err instanceof AppError) appErr = err;
  else if (err?.type === 'entity.parse.failed') appErr = AppError.badRequest('request body is not valid JSON', [{ field: '(body)', message: 'malformed JSON' }]);
  else if (err?.type === 'entity.too.large') appErr = new AppError(413, 'payload_too_large', 'request body is too large');
  else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) appErr = new AppError(err.status, 'bad_request', String(err.message ?? 'bad request'));
  else if (isDatabaseBusy(err)) {
    // The embedded database refused a write under a burst (src/db/connection.ts): nothing the
    // member sent is at fault, and the same request succeeds when tried again.
    req.log.warn({ err }, 'database busy');
    appErr = new AppError(503, 'database_busy', 'the database is busy; try again', undefined, { retryAfterSeconds: 1 });
  }
  else {
    req.log.error({ err }, 'unhandled error');
    appErr = new AppError(500, 'internal', 'internal error; quote the request id when reporting it');
  }
  if (appErr.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appErr.retryAfterSeconds));
  res.status(appErr.status).json({
    error: { code: appErr.code, message: appErr.message, ...(appErr.fields ? { fields: appErr.fields } : {}), ...(appErr.details ?? {}), requestId: req.id },
  });
};

/**
 * Start-up work before the API listens: the unique indexes sign-up relies on, the operator cloud
 * accounts from the configuration, and secrets re-encrypted after a key rotation.
 */
export async function prepareApi(deps: ApiDeps): Promise<void> {
  const log = deps.logger.child({ component: 'api-startup' });
  await Promise.all([userModel(deps.db).init(), sessionModel(deps.db).init(), cloudAccountModel(deps.db).init(), ensureThrottleIndexes(deps.db), ensureQuotaSlotIndexes(deps.db)]);
  const store = new CloudAccountStore(deps.db, deps.keyring);
  await store.seedOperatorAccounts(deps.config, log);
  await store.reencryptStale(log);
}
