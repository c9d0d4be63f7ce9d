/**
 * Vite builds the console into web/dist (ignored by git; scripts/web.ts runs it). No framework
 * plugin: Vite's own transform (Oxc) compiles TSX with React's automatic runtime, which is all a
 * production build needs (the React plugin adds fast refresh for a dev server, not used here).
 * Hashed file names under /assets let the API cache them for a year (api/web-console.ts).
 */
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // Every browser the console targets has modulepreload; the polyfill would be dead code.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rollupOptions: {
      // React Query marks its modules "use client" (for server components); a browser bundle has no use for it.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
