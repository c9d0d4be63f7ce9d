/**
 * A deliberately small HTTP layer on node:http: each service registers routes relative to its
 * prefix, handlers get a Ctx with the parsed URL, params, caller and reply helpers. node:http
 * rather than express because the simulator needs raw control over sockets (outage "refuse",
 * hung requests), streamed uploads and downloads, and exact status codes and headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './errors';
import type { AuthContext, ServiceName } from './model';

export type Handler = (ctx: Ctx) => Promise<void> | void;

export interface RouteOptions {
  /** Reachable without X-Auth-Token (version documents, token issue). */
  public?: boolean;
}

interface Route {
  method: string;
  pattern: string;
  segments: string[];
  handler: Handler;
  public: boolean;
}

export type RouteMatch = { route: Route; params: Record<string, string> };

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler, opts: RouteOptions = {}): this {
    this.routes.push({ method, pattern, segments: splitPath(pattern), handler, public: opts.public ?? false });
    return this;
  }
  get(p: string, h: Handler, o?: RouteOptions) {
    return this.add('GET', p, h, o);
  }
  post(p: string, h: Handler, o?: RouteOptions) {
    return this.add('POST', p, h, o);
  }
  put(p: string, h: Handler, o?: RouteOptions) {
    return this.add('PUT', p, h, o);
  }
  patch(p: string, h: Handler, o?: RouteOptions) {
    return this.add('PATCH', p, h, o);
  }
  delete(p: string, h: Handler, o?: RouteOptions) {
    return this.add('DELETE', p, h, o);
  }

  /** The first route (registration order) whose pattern fits; `allowed` when only the method is wrong. */
  match(method: string, path: string): RouteMatch | { allowed: string[] } | undefined {
    const segs = splitPath(path);
    const effective = method === 'HEAD' ? 'GET' : method;
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segs);
      if (!params) continue;
      if (route.method === effective) return { route, params };
      allowed.add(route.method);
    }
    return allowed.size ? { allowed: [...allowed] } : undefined;
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s.length > 0);
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(actual[i]);
      } catch {
        return undefined;
      }
    } else if (p !== actual[i]) return undefined;
  }
  return params;
}

export class Ctx {
  params: Record<string, string> = {};
  auth?: AuthContext;
  /** Compute microversion negotiated for this request, e.g. [2, 79]. */
  microversion: [number, number] = [2, 1];
  /** Headers every answer to this request carries (request ids, microversion echo). */
  readonly responseHeaders: Record<string, string> = {};
  routeKey = '';

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly service: ServiceName,
    readonly url: URL,
    /** Public base URL of the simulator, without trailing slash. */
    readonly base: string,
    readonly requestId: string,
    private readonly maxBodyBytes: number,
  ) {}

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get query(): URLSearchParams {
    return this.url.searchParams;
  }

  /** The caller; handlers behind auth can rely on it. */
  get who(): AuthContext {
    if (!this.auth) throw new ApiError(401, '');
    return this.auth;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  /** Whether the negotiated compute microversion is at least 2.`minor`. */
  atLeast(minor: number): boolean {
    return this.microversion[0] > 2 || (this.microversion[0] === 2 && this.microversion[1] >= minor);
  }

  /** Reads and parses a JSON body; undefined when empty. Too large → 413, malformed → 400. */
  async json(): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of this.req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.maxBodyBytes) throw new ApiError(413, 'Request is too large.');
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      // The client went away mid-body; whatever we answer will not be read.
      throw new ApiError(400, 'The request body could not be read.');
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, 'Malformed request body');
    }
  }

  send(status: number, body?: unknown, headers: Record<string, string> = {}): void {
    if (this.res.headersSent || this.res.destroyed) return;
    const all: Record<string, string> = { ...this.responseHeaders, ...headers };
    if (body === undefined) {
      if (status !== 204 && status !== 304) all['Content-Length'] = '0';
      this.res.writeHead(status, all);
      this.res.end();
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    all['Content-Type'] ??= 'application/json';
    all['Content-Length'] = String(Buffer.byteLength(text));
    this.res.writeHead(status, all);
    this.res.end(text);
  }

  /** Streams `body` with backpressure; a client that goes away ends the stream quietly. */
  async sendStream(status: number, headers: Record<string, string>, body: Readable): Promise<void> {
    if (this.res.headersSent || this.res.destroyed) {
      body.destroy();
      return;
    }
    this.res.writeHead(status, { ...this.responseHeaders, ...headers });
    if (this.method === 'HEAD') {
      body.destroy();
      this.res.end();
      return;
    }
    try {
      await pipeline(body, this.res);
    } catch {
      // The client closed the connection mid-download; nothing to answer any more.
    }
  }
}
