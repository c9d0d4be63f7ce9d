/**
 * How the API serves the web console (api/web-console.ts): hashed assets cached for a year,
 * index.html for page navigations anywhere outside the API (SPA fallback) and never cached, the
 * strict CSP on both, and everything else — API paths, non-HTML requests, paths that try to leave
 * the assets folder — left to the API, which answers JSON as before.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Server } from 'node:http';
import { CONSOLE_CSP, webConsole } from '../../api/web-console';

describe('web console serving (api/web-console.ts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-webdist-'));
  let server: Server;
  let base = '';

  before(async () => {
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    fs.writeFileSync(path.join(dir, 'assets', 'index-AbC123.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, '.source-hash'), 'secret-ish\n');
    const app = express();
    app.use(webConsole(dir));
    app.use((req, res) => res.status(404).json({ error: { code: 'not_found', path: req.path } }));
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

  it('when a browser asks for / or any page path, then index.html is answered uncached with the strict CSP', async () => {
    for (const p of ['/', '/vms/123', '/alerts?x=1']) {
      const r = await fetch(base + p, { headers: html });
      assert.equal(r.status, 200, p);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      assert.equal(r.headers.get('cache-control'), 'no-cache');
      assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/, 'no unsafe-inline or unsafe-eval for scripts');
      assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(await r.text(), /id="root"/);
    }
  });

  it('when a hashed asset is asked for, then it is answered with a year-long immutable cache', async () => {
    const r = await fetch(`${base}/assets/index-AbC123.js`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
    assert.match(r.headers.get('content-type') ?? '', /javascript/);
    assert.equal(await r.text(), 'console.log(1)');
  });

  it('when the path is the API, not a page navigation, a missing asset or a dot file, then the API answers (JSON 404 here)', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['/api/v1/nope', html],
      ['/api', html],
      ['/healthz', html],
      ['/readyz', html],
      ['/codec/decode', html],
      ['/vms/123', { accept: '*/*' }],
      ['/vms/123', { accept: 'application/json' }],
      ['/assets/missing.js', html],
      ['/assets/%2e%2e%2findex.html', html],
      ['/assets/.source-hash', html],
    ];
    for (const [p, headers] of cases) {
      const r = await fetch(base + p, { headers });
      assert.equal(r.status, 404, `${p} ${JSON.stringify(headers)}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, p);
    }
    const post = await fetch(`${base}/`, { method: 'POST', headers: html });
    assert.equal(post.status, 404, 'only GET and HEAD are pages');
  });

  it('when no console is built, then every request goes on to the API', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vmflow-webdist-empty-'));
    const app = express();
    app.use(webConsole(empty));
    app.use((_req, res) => res.status(404).json({ error: { code: 'not_found' } }));
    const s = app.listen(0, '127.0.0.1');
    await new Promise<void>((r) => s.once('listening', () => r()));
    try {
      const r = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/`, { headers: html });
      assert.equal(r.status, 404);
    } finally {
      s.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
