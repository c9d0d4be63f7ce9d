/**
 * The express application: request ids and logging, JSON parsing, health routes, the /api/v1
 * router, and one error middleware that turns every failure into a JSON error body. User input
 * never causes a 5xx: validation, parsing and size errors are 4xx naming the problem.
 */
import crypto from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import type { Config } from '../src/config';
import { pingDatabase } from '../src/db/connection';
import { AppError } from '../src/errors';
import type { Logger } from '../src/logger';
import { pingTemporal, type TemporalClientHandle } from '../src/temporal/client';

export interface ApiDeps {
  config: Config;
  db: Connection;
  temporal: TemporalClientHandle;
  logger: Logger;
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
  app.set('trust proxy', 'loopback');

  app.use(requestContext(deps.logger));
  app.use(express.json({ limit: '256kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const [temporal, mongodb] = await Promise.all([
      pingTemporal(deps.temporal, deps.config.temporalNamespace),
      pingDatabase(deps.db),
    ]);
    const failing = [!temporal && 'temporal', !mongodb && 'mongodb'].filter(Boolean) as string[];
    res.status(failing.length ? 503 : 200).json({
      status: failing.length ? 'unavailable' : 'ready',
      checks: { temporal: temporal ? 'ok' : 'unreachable', mongodb: mongodb ? 'ok' : 'unreachable' },
      ...(failing.length ? { failing } : {}),
    });
  });

  const v1 = express.Router();
  app.use('/api/v1', v1);

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
  else {
    req.log.error({ err }, 'unhandled error');
    appErr = new AppError(500, 'internal', 'internal error; quote the request id when reporting it');
  }
  if (appErr.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appErr.retryAfterSeconds));
  res.status(appErr.status).json({
    error: { code: appErr.code, message: appErr.message, ...(appErr.fields ? { fields: appErr.fields } : {}), requestId: req.id },
  });
};
