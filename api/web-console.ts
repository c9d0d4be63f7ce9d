/**
 * The web console (web/, built by scripts/web.ts into web/dist) served at `/`:
 * - `/assets/*`: the bundle's files, named by content hash, cached for a year (`immutable`);
 * - any other GET a browser makes for a page (Accept: text/html) outside the API: index.html,
 *   never cached, so the router in the page picks the view (SPA fallback);
 * - every answer carries a strict Content-Security-Policy: scripts, styles and requests only
 *   from this origin, no inline script, no framing.
 * It is middleware, not declared routes (the OpenAPI document describes the API only). Paths of
 * the API (/api/, /codec, /healthz, /readyz) are never answered here, and a request that is not a
 * page navigation gets the API's JSON 404 as before. Without a built console it passes everything
 * on (the API works alone; `npm start` builds the console first).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const API_PREFIXES = ['/api/', '/codec', '/healthz', '/readyz'];

/** web/dist beside the sources (tsx), or two levels up from the compiled dist/api/. */
export function defaultWebDir(): string {
  const candidates = [path.resolve(__dirname, '..', 'web', 'dist'), path.resolve(__dirname, '..', '..', 'web', 'dist')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[0];
}

export function webConsole(dir: string = defaultWebDir()): RequestHandler {
  const assets = path.join(dir, 'assets');
  const index = path.join(dir, 'index.html');
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/api' || API_PREFIXES.some((p) => req.path.startsWith(p))) return next();
    const secure = () => {
      res.locals.routeTemplate = '(console)';
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
    };
    if (req.path.startsWith('/assets/')) {
      const rel = req.path.slice('/assets/'.length);
      // Hashed bundle names only: no dot files, no sub-folders, nothing outside assets/.
      if (!/^[\w.-]+$/.test(rel) || rel.startsWith('.') || !fs.existsSync(path.join(assets, rel))) return next();
      secure();
      res.sendFile(rel, { root: assets, maxAge: '365d', immutable: true, dotfiles: 'deny' }, (err) => {
        if (err && !res.headersSent) next(err);
      });
      return;
    }
    // A page navigation: the browser asks for HTML explicitly (curl's */* keeps getting JSON 404s).
    if (!/\btext\/html\b/.test(req.header('accept') ?? '') || !fs.existsSync(index)) return next();
    secure();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: dir, dotfiles: 'deny', lastModified: false, etag: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
}
