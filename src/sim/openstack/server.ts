/**
 * The request pipeline, devstack style on one port:
 *   /_sim/…  admin API (never faulted, never authenticated)
 *   /identity, /compute, /image, /heat-api, /networking  the five services
 * For a service path: count it → outage (503 or destroyed socket) → injected fault (latency,
 * hang, error) → route → keystonemiddleware-style token check → Nova microversion → handler,
 * every error rendered in the called service's own shape.
 */
import crypto from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Cloud } from './cloud';
import { ApiError, defaultMessage, renderError } from './errors';
import { Ctx, type Router } from './http';
import type { ServiceName } from './model';
import { sleep, Stopped } from './util';

export interface ServiceDef {
  name: ServiceName;
  /** Path prefix, e.g. `/compute`. */
  prefix: string;
  router: Router;
  /** Largest JSON body accepted (Nova's limit is 112 KiB). */
  maxBodyBytes: number;
  /** Runs after authentication, before the handler (Nova: microversion negotiation). */
  prepare?: (ctx: Ctx) => void;
  /** Whether `prepare` applies to this service-relative path. */
  prepares?: (path: string) => boolean;
}

export interface PipelineOptions {
  cloud: Cloud;
  services: ServiceDef[];
  admin: Router;
  /** Aborted when the simulator stops: releases hung requests. */
  stopSignal: AbortSignal;
}

function normalizePath(p: string): string {
  const collapsed = p.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/+$/, '') : collapsed;
}

export function createPipeline(opts: PipelineOptions): http.RequestListener {
  const { cloud, services, admin, stopSignal } = opts;
  const log = cloud.log;

  const respondError = (ctx: Ctx, err: unknown) => {
    let apiErr: ApiError;
    if (err instanceof ApiError) apiErr = err;
    else if (err instanceof Stopped) apiErr = new ApiError(503, defaultMessage(ctx.service, 503));
    else {
      log.error({ err, method: ctx.method, path: ctx.url.pathname }, 'simulator handler failed');
      apiErr = new ApiError(500, defaultMessage(ctx.service, 500));
    }
    const r = renderError(ctx.service, apiErr, cloud.urls.identity);
    ctx.send(r.status, r.body, r.headers);
  };

  const handleAdmin = async (req: IncomingMessage, res: ServerResponse, url: URL, path: string) => {
    const ctx = new Ctx(req, res, 'identity', url, cloud.baseUrl, `req-${crypto.randomUUID()}`, 10 * 1024 * 1024);
    try {
      const m = admin.match(req.method ?? 'GET', path);
      if (!m) return ctx.send(404, { error: `no admin route ${req.method} ${path}` });
      if ('allowed' in m) return ctx.send(405, { error: `method not allowed; allowed: ${m.allowed.join(', ')}` }, { Allow: m.allowed.join(', ') });
      ctx.params = m.params;
      await m.route.handler(ctx);
    } catch (err) {
      if (err instanceof ApiError) ctx.send(err.status, { error: err.message });
      else {
        log.error({ err, path }, 'simulator admin handler failed');
        ctx.send(500, { error: (err as Error).message });
      }
    }
  };

  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sim.invalid');
      const fullPath = normalizePath(url.pathname);
      if (fullPath === '/_sim' || fullPath.startsWith('/_sim/')) return handleAdmin(req, res, url, fullPath.slice('/_sim'.length) || '/');

      const svc = services.find((s) => fullPath === s.prefix || fullPath.startsWith(`${s.prefix}/`));
      if (!svc) {
        cloud.store.countRequest('unknown');
        const body = JSON.stringify({ error: { code: 404, title: 'Not Found', message: `The resource could not be found: ${fullPath}` } });
        res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      cloud.store.countRequest(svc.name);
      const method = req.method ?? 'GET';

      if (cloud.faults.outage === 'refuse') {
        cloud.store.stats.faulted++;
        req.socket.destroy();
        return;
      }

      const requestId = `req-${crypto.randomUUID()}`;
      const ctx = new Ctx(req, res, svc.name, url, cloud.baseUrl, requestId, svc.maxBodyBytes);
      ctx.responseHeaders['x-openstack-request-id'] = requestId;
      if (svc.name === 'compute') ctx.responseHeaders['x-compute-request-id'] = requestId;

      if (cloud.faults.outage === '503') {
        cloud.store.stats.faulted++;
        return respondError(ctx, new ApiError(503, defaultMessage(svc.name, 503)));
      }

      const decision = cloud.faults.decide(svc.name, method, fullPath);
      if (decision) {
        // A client that hangs up ends the wait; so does clearing the fault or stopping the sim.
        const gone = new AbortController();
        const onClose = () => gone.abort();
        res.once('close', onClose);
        stopSignal.addEventListener('abort', onClose, { once: true });
        try {
          if (decision.hang) await cloud.faults.waitReleased(decision.faultId, gone.signal);
          if (decision.latencyMs > 0 && !gone.signal.aborted) await sleep(decision.latencyMs, gone.signal).catch(() => undefined);
        } finally {
          res.off('close', onClose);
          stopSignal.removeEventListener('abort', onClose);
        }
        if (gone.signal.aborted || res.destroyed) {
          cloud.store.stats.faulted++;
          if (!res.destroyed) res.destroy();
          return;
        }
        if (decision.status !== undefined) {
          cloud.store.stats.faulted++;
          return respondError(ctx, new ApiError(decision.status, defaultMessage(svc.name, decision.status), { retryAfter: decision.retryAfter }));
        }
      }

      const path = fullPath.slice(svc.prefix.length) || '/';
      try {
        const m = svc.router.match(method, path);
        if (!m) throw new ApiError(404, 'The resource could not be found.');
        if ('allowed' in m) throw new ApiError(405, 'The method is not allowed for this resource.', { headers: { Allow: m.allowed.join(', ') } });
        ctx.params = m.params;
        ctx.routeKey = `${method === 'HEAD' ? 'GET' : method} ${svc.prefix}${m.route.pattern === '/' ? '' : m.route.pattern}`;
        cloud.store.countRoute(ctx.routeKey);
        if (!m.route.public) {
          ctx.auth = cloud.identity.validate(ctx.header('x-auth-token'));
          if (!ctx.auth) throw new ApiError(401, '');
        }
        if (svc.prepare && (!svc.prepares || svc.prepares(path))) svc.prepare(ctx);
        await m.route.handler(ctx);
        if (!res.headersSent && !res.destroyed) throw new Error(`handler for ${ctx.routeKey} did not answer`);
      } catch (err) {
        respondError(ctx, err);
      }
    })().catch((err) => {
      log.error({ err }, 'simulator pipeline failed');
      if (!res.headersSent) {
        res.writeHead(500);
        res.end();
      }
    });
  };
}
