/**
 * Loaded by mocha before anything else: components that log through the process logger (the
 * simulators started by single suites, say) print only errors on the console during tests; the
 * harness's own loggers keep everything at debug level in the run log (see secrets.ts).
 * LOG_LEVEL=info (or debug) shows more.
 */
process.env.LOG_LEVEL ??= 'error';
