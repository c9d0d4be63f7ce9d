/**
 * /_sim: the simulator's own control API (JSON, unsigned, not part of CloudStack and never
 * reachable as a /client/api command).
 *   GET    /_sim/state                 counts and lists (SimStateSummary)
 *   POST   /_sim/faults                add a fault (faults.ts) → 201 the fault, with its id
 *   GET    /_sim/faults[/:id]          list faults / one fault
 *   DELETE /_sim/faults[/:id]          remove all faults / one fault → 204
 *   POST   /_sim/outage {mode}         '503': every API request answers 503; 'refuse': the socket is destroyed unanswered
 *   DELETE /_sim/outage                end the outage
 *   POST   /_sim/vms/:id/break {mode}  'error' (state Error), 'stopped' (powered off), 'gone' (vanished without a trace)
 *   POST   /_sim/reset                 back to the seeded cloud; drops faults, outage, hung requests
 *   GET    /_sim/timings, PATCH /_sim/timings  read / change timing knobs (timings.ts)
 */
import type http from 'node:http';
import { z } from 'zod';
import type { CloudStackEngine } from './engine';
import { faultSpecSchema } from './faults';
import { readBody, sendJson } from './http-util';
import { mergeTimings } from './timings';

const outageSchema = z.object({ mode: z.enum(['503', 'refuse']) }).strict();
const breakSchema = z.object({ mode: z.enum(['error', 'stopped', 'gone']) }).strict();

async function jsonBody(req: http.IncomingMessage): Promise<unknown> {
  const text = await readBody(req, 64 * 1024);
  if (!text.trim()) return {};
  return JSON.parse(text);
}

function problem(res: http.ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

export async function handleAdmin(
  engine: CloudStackEngine,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  releaseHung: () => void = () => undefined,
): Promise<void> {
  const parts = url.pathname.split('/').filter(Boolean).slice(1); // drop "_sim"
  const method = req.method ?? 'GET';
  let body: unknown;
  if (method === 'POST' || method === 'PATCH') {
    try {
      body = await jsonBody(req);
    } catch {
      return problem(res, 400, 'body must be JSON');
    }
  }
  const [head, id, action] = parts;

  if ((head === undefined || head === 'state') && method === 'GET') return sendJson(res, 200, engine.summary());

  if (head === 'faults') {
    if (method === 'POST' && !id) {
      const parsed = faultSpecSchema.safeParse(body);
      if (!parsed.success) return problem(res, 400, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      const fault = engine.faults.add(parsed.data);
      engine.log.info({ fault }, 'fault injected');
      return sendJson(res, 201, fault);
    }
    if (method === 'GET' && !id) return sendJson(res, 200, { faults: engine.faults.list() });
    if (method === 'GET' && id) {
      const fault = engine.faults.get(id);
      return fault ? sendJson(res, 200, fault) : problem(res, 404, `no fault ${id}`);
    }
    if (method === 'DELETE' && !id) {
      engine.faults.clear();
      res.writeHead(204).end();
      return;
    }
    if (method === 'DELETE' && id) {
      if (!engine.faults.remove(id)) return problem(res, 404, `no fault ${id}`);
      res.writeHead(204).end();
      return;
    }
  }

  if (head === 'outage' && !id) {
    if (method === 'POST') {
      const parsed = outageSchema.safeParse(body);
      if (!parsed.success) return problem(res, 400, 'mode must be "503" or "refuse"');
      engine.outage = parsed.data.mode;
      engine.log.info({ mode: engine.outage }, 'outage started');
      return sendJson(res, 200, { outage: engine.outage });
    }
    if (method === 'DELETE') {
      engine.outage = null;
      engine.log.info('outage ended');
      return sendJson(res, 200, { outage: null });
    }
  }

  if (head === 'vms' && id && action === 'break' && method === 'POST') {
    const parsed = breakSchema.safeParse(body);
    if (!parsed.success) return problem(res, 400, 'mode must be "error", "stopped" or "gone"');
    const vm = engine.vm(id);
    if (!vm) return problem(res, 404, `no VM ${id}`);
    if (parsed.data.mode === 'gone') engine.removeVm(id);
    else vm.state = parsed.data.mode === 'error' ? 'Error' : 'Stopped';
    engine.markDirty();
    engine.log.info({ vm: id, mode: parsed.data.mode }, 'VM broken on purpose');
    return sendJson(res, 200, { id, state: parsed.data.mode === 'gone' ? 'gone' : vm.state });
  }

  if (head === 'reset' && !id && method === 'POST') {
    releaseHung();
    engine.reset();
    engine.log.debug('simulator reset');
    return sendJson(res, 200, { reset: true });
  }

  if (head === 'timings' && !id) {
    if (method === 'GET') return sendJson(res, 200, engine.timings);
    if (method === 'PATCH') {
      try {
        engine.timings = mergeTimings(engine.timings, body);
      } catch (err) {
        return problem(res, 400, (err as Error).message);
      }
      return sendJson(res, 200, engine.timings);
    }
  }

  return problem(res, 404, `no admin route for ${method} ${url.pathname}`);
}
