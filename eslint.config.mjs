// @ts-check
/**
 * ESLint, type-aware (typescript-eslint with the project's tsconfig.json). Besides the
 * recommended rules it makes the mistakes that Temporal code hides until production errors:
 * - a promise nobody awaits (no-floating-promises) or an async function where a callback's result
 *   is ignored (no-misused-promises);
 * - a switch over a union that forgets a member (switch-exhaustiveness-check);
 * - in workflows/, anything that is not deterministic sandbox code: Node built-ins and modules
 *   that do I/O (the override of temporalio/samples-typescript). Type-only imports stay allowed.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'console', 'constants', 'crypto',
  'dgram', 'diagnostics_channel', 'dns', 'domain', 'events', 'fs', 'fs/promises', 'http', 'http2',
  'https', 'inspector', 'module', 'net', 'os', 'path', 'perf_hooks', 'process', 'punycode',
  'querystring', 'readline', 'repl', 'stream', 'string_decoder', 'timers', 'timers/promises',
  'tls', 'trace_events', 'tty', 'url', 'util', 'v8', 'vm', 'wasi', 'worker_threads', 'zlib',
];
const IO_MODULES = ['undici', 'mongoose', 'express', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'web/dist/', 'data/', 'coverage/', '**/*.js', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `any` is used on purpose where JSON is inspected field by field (tests, bench) and for
      // generic variance (TaskSpec<any>); strict TypeScript already guards the rest.
      '@typescript-eslint/no-explicit-any': 'off',
      // `_name` marks a binding kept on purpose: a property split off with a rest pattern, or
      // express's four-argument error handler.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...NODE_BUILTINS, ...IO_MODULES].map((name) => ({
            name,
            message: 'workflow code runs in the deterministic sandbox: no Node built-ins or I/O modules (activities do I/O)',
            allowTypeImports: true,
          })),
          patterns: [
            {
              group: ['node:*'],
              message: 'workflow code runs in the deterministic sandbox: no Node built-ins',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
