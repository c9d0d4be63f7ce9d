/**
 * The web console's two budgets (issue 14), measured, not tested:
 * - shipped JavaScript under 300 KB gzipped: every .js file of web/dist/assets, gzipped at level 9
 *   (what a server with compression would send), plus the CSS for information;
 * - My VMs with 500 VMs renders in under 1 s: headless Chromium opens the console (served by the
 *   API app, built without connections) with every /api/v1 answer given by the browser itself
 *   (the pages the console asks for: one of 500 since GET /vms pages by up to 500, each VM with
 *   its DR summary and next backup as the API answers them), and the time is read in the page
 *   from navigation start until the table has 500 rows; then until the DR cells of the rows in
 *   view are filled (they come with the list: no request per row any more).
 *
 *   npx tsx bench/console.ts [--vms 500]
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { ensureWebBuilt, offlineApp, WEB_DIST } from '../scripts/web';
import { launchBrowser } from '../test/harness/browser';

export const JS_BUDGET_BYTES = 300 * 1024;
export const RENDER_BUDGET_MS = 1000;

export interface ConsoleBenchResult {
  js: { files: number; rawBytes: number; gzipBytes: number; budgetBytes: number; withinBudget: boolean };
  css: { rawBytes: number; gzipBytes: number };
  render: { vms: number; scriptLoadedMs: number; listFetchedMs: number; rowsMs: number; /** Until the DR cells of the rows in view are filled (rows further down read theirs when scrolled to). */
    drCellsMs: number; budgetMs: number; withinBudget: boolean };
}

export function bundleSizes(dir = path.join(WEB_DIST, 'assets')): { js: ConsoleBenchResult['js']; css: ConsoleBenchResult['css'] } {
  const files = fs.readdirSync(dir);
  const sum = (ext: string) =>
    files
      .filter((f) => f.endsWith(ext))
      .map((f) => fs.readFileSync(path.join(dir, f)))
      .reduce((acc, buf) => ({ n: acc.n + 1, raw: acc.raw + buf.length, gz: acc.gz + zlib.gzipSync(buf, { level: 9 }).length }), { n: 0, raw: 0, gz: 0 });
  const js = sum('.js');
  const css = sum('.css');
  return {
    js: { files: js.n, rawBytes: js.raw, gzipBytes: js.gz, budgetBytes: JS_BUDGET_BYTES, withinBudget: js.gz <= JS_BUDGET_BYTES },
    css: { rawBytes: css.raw, gzipBytes: css.gz },
  };
}

function fakeVm(i: number) {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    id: `vm-${String(i).padStart(4, '0')}`,
    name: `vm${i}`,
    cloud: 'openstack',
    accountId: 'operator-openstack',
    state: i % 10 === 0 ? 'creating' : 'active',
    requirements: { name: `vm${i}`, os: 'ubuntu-24.04', software: ['vim'], size: 'small', cloud: 'openstack' },
    revision: 1,
    placement: { cloud: 'openstack', accountId: 'operator-openstack', serverId: `srv-${i}`, status: 'ACTIVE', addresses: [{ network: 'private', addr: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`, version: 4, type: 'fixed' }] },
    history: [{ at, from: null, to: 'active', reason: 'created' }],
    workflowIds: [`vm-create:vm-${i}`],
    createdAt: at,
    updatedAt: at,
    dr: { protected: i % 3 === 0, ...(i % 3 === 0 ? { state: 'Protected', since: at } : {}), rpoSecondsNow: 600, newestBackupAt: at },
    nextBackupAt: new Date(Date.UTC(2026, 0, 1, 1, 0, 0)).toISOString(),
    nextBackupJitterSeconds: 300,
  };
}

export async function measureRender(vmCount: number): Promise<ConsoleBenchResult['render']> {
  const app = offlineApp();
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const vms = Array.from({ length: vmCount }, (_, i) => fakeVm(i));
    await context.route('**/api/v1/**', async (route) => {
      const u = new URL(route.request().url());
      const json = (body: unknown) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
      if (u.pathname === '/api/v1/auth/me') return json({ id: '00000000-0000-4000-8000-000000000000', username: 'bench', createdAt: '2026-01-01T00:00:00.000Z', roles: [] });
      if (u.pathname === '/api/v1/events') return json({ events: [] });
      if (u.pathname === '/api/v1/vms') {
        const start = Number(u.searchParams.get('cursor') ?? 0);
        const limit = Number(u.searchParams.get('limit') ?? 50);
        const page = vms.slice(start, start + limit);
        return json({ vms: page, ...(start + limit < vms.length ? { nextCursor: String(start + limit) } : {}) });
      }
      const dr = /^\/api\/v1\/vms\/([^/]+)\/dr$/.exec(u.pathname);
      if (dr) return json({ vmId: dr[1], protected: false, rpoSecondsNow: 600, events: [] });
      return route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"not_found","message":"bench","requestId":"bench"}}' });
    });
    const page = await context.newPage();
    await page.goto(`${url}/`);
    // Predicates are functions, not strings: the page's CSP forbids the eval a string would need.
    // (The root tsconfig has no DOM types: the page's globals are reached through `any`.)
    await page.waitForFunction((n: number) => (globalThis as any).document.querySelectorAll('main tbody tr').length >= n, vmCount, { timeout: 60_000, polling: 'raf' });
    const rowsMs = (await page.evaluate('performance.now()')) as number;
    // Where the time went: the bundle loaded and ran, the list's pages arrived, then React rendered.
    const marks = (await page.evaluate(`(() => {
      const r = performance.getEntriesByType('resource');
      const end = (re) => Math.max(0, ...r.filter((e) => re.test(e.name)).map((e) => e.responseEnd));
      return { scriptMs: end(/\\/assets\\/.*\\.js$/), listMs: end(/\\/api\\/v1\\/vms\\?/) };
    })()`)) as { scriptMs: number; listMs: number };
    await page.waitForFunction(
      () => {
        const g = globalThis as any;
        const inView = [...g.document.querySelectorAll('main tbody tr')].filter((tr: any) => tr.getBoundingClientRect().top < g.innerHeight);
        return inView.length > 0 && !inView.some((tr: any) => tr.textContent.includes('…'));
      },
      undefined,
      { timeout: 60_000, polling: 'raf' },
    );
    const drCellsMs = (await page.evaluate('performance.now()')) as number;
    return { vms: vmCount, scriptLoadedMs: Math.round(marks.scriptMs), listFetchedMs: Math.round(marks.listMs), rowsMs: Math.round(rowsMs), drCellsMs: Math.round(drCellsMs), budgetMs: RENDER_BUDGET_MS, withinBudget: rowsMs <= RENDER_BUDGET_MS };
  } finally {
    await browser.close();
    server.close();
  }
}

export async function runConsoleBench(opts: { vms?: number } = {}): Promise<ConsoleBenchResult> {
  await ensureWebBuilt();
  const sizes = bundleSizes();
  const render = await measureRender(opts.vms ?? 500);
  return { ...sizes, render };
}

if (require.main === module) {
  const i = process.argv.indexOf('--vms');
  const vms = i > 0 ? Number(process.argv[i + 1]) : 500;
  runConsoleBench({ vms }).then(
    (r) => {
      const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
      console.log(`shipped JavaScript: ${r.js.files} file(s), ${kb(r.js.rawBytes)} raw, ${kb(r.js.gzipBytes)} gzipped (budget ${kb(r.js.budgetBytes)}: ${r.js.withinBudget ? 'within' : 'OVER'})`);
      console.log(`CSS: ${kb(r.css.rawBytes)} raw, ${kb(r.css.gzipBytes)} gzipped`);
      console.log(`My VMs with ${r.render.vms} VMs: ${r.render.rowsMs} ms to every row (budget ${r.render.budgetMs} ms: ${r.render.withinBudget ? 'within' : 'OVER'}; script loaded at ${r.render.scriptLoadedMs} ms, list fetched at ${r.render.listFetchedMs} ms), ${r.render.drCellsMs} ms to the DR cells of the rows in view`);
      console.log(JSON.stringify(r));
      process.exit(0);
    },
    (err: unknown) => {
      console.error((err as Error).stack ?? String(err));
      process.exit(1);
    },
  );
}
