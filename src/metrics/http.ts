/**
 * REST API request latency by method, route template and status. The route is the template
 * Express matched (`/api/v1/vms/:id`), never the path a client sent: unknown paths are one
 * `unmatched` series, so a scanner cannot grow the label set.
 */
import type { Request, RequestHandler, Response } from 'express';
import { httpRequestDuration } from './registry';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The template ApiScope.route put on the response, else Express's own match, else `unmatched`. */
export function routeTemplate(req: Request, res: Response): string {
  const declared = (res.locals as { routeTemplate?: unknown }).routeTemplate;
  if (typeof declared === 'string') return declared;
  const route = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof route !== 'string') return 'unmatched';
  return `${req.baseUrl}${route === '/' && req.baseUrl ? '' : route}` || '/';
}

export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      httpRequestDuration.observe({ method: METHODS.has(req.method) ? req.method : 'OTHER', route: routeTemplate(req, res), status: String(res.statusCode) }, seconds);
    });
    next();
  };
}
