/**
 * The HTTP face of the simulator, one port for three things:
 *   /client/api          the CloudStack API (GET query or POST form, response=json), handled in the
 *                        order ApiServlet/ApiServer do: command exists (432) → signature (401) →
 *                        API limit (here: injected faults) → parameters (431) → command;
 *   /download/<token>/…  extractTemplate URLs (the secondary storage VM's job in a real cloud);
 *   /_sim/…              the unsigned fault-injection and inspection API (admin.ts).
 */
import fs from 'node:fs';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { verifySignature } from '../../clouds/cloudstack/signing';
import { sleep } from '../../sleep';
import { handleAdmin } from './admin';
import { ApiError, CS_ERROR_CODE_FOR, UNAUTHORIZED_TEXT } from './api-error';
import { COMMANDS } from './commands';
import { validateParams, type CommandContext } from './commands/types';
import type { CloudStackEngine } from './engine';
import type { Fault } from './faults';
import { readBody, sendJson } from './http-util';

const MAX_FORM_BYTES = 4 * 1024 * 1024;

function sendApiError(res: http.ServerResponse, key: string, err: ApiError): void {
  const body: Record<string, unknown> = { uuidList: [], errorcode: err.errorcode };
  if (err.cserrorcode !== null) body.cserrorcode = err.cserrorcode;
  body.errortext = err.errortext;
  sendJson(res, err.errorcode, { [key]: body }, err.headers);
}

/** Query parameters, then form parameters; the first value of a name wins (getParameterMap()[0]). */
async function readParams(req: http.IncomingMessage, url: URL): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const add = (sp: URLSearchParams) => {
    for (const [k, v] of sp) if (!(k in out)) out[k] = v;
  };
  add(url.searchParams);
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    const body = await readBody(req, MAX_FORM_BYTES);
    if (!type || type.startsWith('application/x-www-form-urlencoded')) add(new URLSearchParams(body));
  }
  return out;
}

export class SimulatorHttp {
  /** Requests held open by a hang fault, answered never; destroyed on stop. */
  private readonly hung = new Set<http.ServerResponse>();

  constructor(private readonly engine: CloudStackEngine) {}

  handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const route = url.pathname.replace(/\/+$/, '');
    let work: Promise<void>;
    if (route === '/client/api') work = this.api(req, res, url);
    else if (url.pathname.startsWith('/download/')) work = this.download(req, res, url);
    else if (route === '/_sim' || url.pathname.startsWith('/_sim/')) work = handleAdmin(this.engine, req, res, url, () => this.releaseHung());
    else work = Promise.resolve(sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` }));
    work.catch((err) => {
      this.engine.log.error({ err, path: url.pathname }, 'simulator request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal simulator error' });
      else res.destroy();
    });
  };

  private async api(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const { engine } = this;
    if (req.method !== 'GET' && req.method !== 'POST') {
      res.writeHead(405, { Allow: 'GET, POST', 'Content-Type': 'text/plain' }).end('method not allowed');
      return;
    }
    if (engine.outage === 'refuse') {
      req.socket.destroy();
      return;
    }
    let raw: Record<string, string>;
    try {
      raw = await readParams(req, url);
    } catch (err) {
      if (err instanceof ApiError) return sendApiError(res, 'errorresponse', err);
      throw err;
    }
    const command = raw.command;
    const key = `${(command ?? 'error').toLowerCase()}response`;
    if (engine.outage === '503') {
      return sendApiError(res, key, new ApiError(503, 'Service Unavailable: the management server is down (simulated outage)', null));
    }
    if (!command) return sendApiError(res, 'errorresponse', new ApiError(400, 'no command specified', null));
    engine.countRequest(command);
    const def = COMMANDS.get(command);
    if (!def) return sendApiError(res, key, new ApiError(432, 'The given command does not exist or it is not available for user', 9999));

    const verdict = verifySignature(raw, (k) => engine.accountByApiKey(k)?.secretKey);
    if (!verdict.ok) {
      engine.log.debug({ command, reason: verdict.reason }, 'rejected API request');
      return sendApiError(res, key, new ApiError(401, UNAUTHORIZED_TEXT, null));
    }
    const account = engine.accountByApiKey(verdict.apiKey)!;

    const fired = engine.faults.fire(command, (kind) =>
      kind === 'asyncJobFail' ? def.isasync : kind === 'downloadFail' ? command === 'registerTemplate' : true,
    );
    const of = (kind: Fault['kind']) => fired.find((f) => f.kind === kind);
    await sleep(engine.timings.apiLatencyMs + Math.max(0, ...fired.map((f) => f.latencyMs ?? 0)));
    if (of('hang')) {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const limited = of('rateLimit');
    if (limited) {
      const secs = Math.ceil(limited.retryAfter ?? 1);
      return sendApiError(
        res,
        key,
        new ApiError(limited.status ?? 429, `The given user has reached his/her account api limit, please retry after ${secs} s`, 4545, {
          'Retry-After': String(secs),
        }),
      );
    }
    const failure = of('error');
    if (failure) {
      const status = failure.status ?? 530;
      return sendApiError(res, key, new ApiError(status, `Simulated failure of ${command} (fault ${failure.id})`, CS_ERROR_CODE_FOR[status] ?? 9999));
    }

    const lower = command.toLowerCase();
    try {
      const jobFault = of('asyncJobFail');
      const downloadFault = of('downloadFail');
      const ctx: CommandContext = {
        engine,
        account,
        command,
        lower,
        params: validateParams(def, lower, raw),
        ...(jobFault
          ? { failJobWith: new ApiError(jobFault.status ?? 530, `Simulated failure of the ${command} job (fault ${jobFault.id})`) }
          : {}),
        ...(downloadFault ? { failDownload: `simulated download failure (fault ${downloadFault.id})` } : {}),
      };
      const result = await def.handle(ctx);
      sendJson(res, 200, { [key]: result });
    } catch (err) {
      if (err instanceof ApiError) return sendApiError(res, key, err);
      engine.log.error({ err, command }, 'simulated command failed');
      return sendApiError(res, key, new ApiError(530, `Internal error executing command: ${(err as Error).message}`, 4250));
    }
  }

  /** Serves an extract URL: 404 when unknown or expired; supports HEAD and a single byte range. */
  private async download(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed');
      return;
    }
    const token = url.pathname.split('/')[2] ?? '';
    const link = this.engine.extractFor(token);
    const file = link ? this.engine.abs(link.file) : undefined;
    if (!link || !file || !fs.existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found or expired');
      return;
    }
    const size = fs.statSync(file).size;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': `attachment; filename="${link.fileName}"`,
      'Accept-Ranges': 'bytes',
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      } else {
        start = Math.max(0, size - Number(range[2]));
      }
      if (start > end || start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    await pipeline(fs.createReadStream(file, { start, end }), res).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    });
  }

  /** Ends requests held by hang faults (their clients see the connection drop). */
  releaseHung(): void {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
  }
}
