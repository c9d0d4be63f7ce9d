/**
 * Structured logging (pino). Redaction is by key name at any depth and in any case, so a password,
 * token, API key, secret or signature never reaches a log line even when a whole request body,
 * config or cloud account is logged by mistake.
 */
import pino, { type Logger } from 'pino';

/**
 * Key names whose values are never logged, at any depth and in any case or spelling
 * (`apiKey`, `APIKEY`, `api_key`, `x-api-key` are one key): compared after lower-casing and
 * dropping `-` and `_`. A key also counts when it *ends* with one of SECRET_SUFFIXES
 * (`imageStoreToken`, `webhookSecret`, `serviceToken`, `signingSecret`, `codecToken`, …).
 */
export const SECRET_KEYS = [
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'token',
  'sessionToken',
  'authToken',
  'tokenHash',
  'serviceToken',
  'imageStoreToken',
  'codecToken',
  'apiKey',
  'secretKey',
  'secret',
  'signingSecret',
  'imageStoreSigningSecret',
  'webhookSecret',
  'signature',
  'x-vmflow-signature',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-auth-token',
  'x-subject-token',
  'adminPass',
  'encryptionKey',
  'encryptionKeys',
  'privateKey',
  'openstackPassword',
  'cloudstackApiKey',
  'cloudstackSecretKey',
];

/** Normalised endings that make any key secret (`…password`, `…secret`, `…token`, `…apikey`, …). */
export const SECRET_SUFFIXES = ['password', 'passwd', 'secret', 'secretkey', 'token', 'apikey', 'signature', 'authorization', 'cookie', 'privatekey', 'encryptionkey', 'encryptionkeys', 'passwordhash', 'tokenhash'];

const CENSOR = '[REDACTED]';
const normaliseKey = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
const SECRET_SET = new Set(SECRET_KEYS.map(normaliseKey));

/** Whether a value under this key is never logged. */
export function isSecretKey(key: string): boolean {
  const k = normaliseKey(key);
  return SECRET_SET.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s));
}

const MAX_DEPTH = 12;

/**
 * A copy of `value` with every secret-keyed value replaced by [REDACTED], at any depth (objects
 * and arrays are walked; an Error keeps its name, message and stack and has its own properties and
 * cause walked). A cycle becomes "[Circular]", depth beyond 12 "[Too deep]".
 */
export function redactSecrets(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Too deep]';
  if (Buffer.isBuffer(value) || value instanceof Date || value instanceof RegExp) return value;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1, seen));
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      // What pino's err serializer would keep (messages are the code's own, not secrets).
      out.type = value.name;
      out.message = value.message;
      out.stack = value.stack;
      if (value.cause !== undefined) out.cause = redactSecrets(value.cause, depth + 1, seen);
    }
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? CENSOR : redactSecrets(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Removes credentials from a URL's query string (CloudStack puts apiKey and signature there). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:apiKey|apikey|signature|temp_url_sig|sig|token)=)[^&]*/gi, '$1[REDACTED]');
}

/** `destination` (tests: the run log file) defaults to stdout. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'vmflow', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    // Every log line and every child's bindings are walked (redactSecrets): pino's own `redact`
    // paths are case-sensitive and depth-bound, which let `imageStoreToken` or a secret four levels
    // down through.
    formatters: {
      log: (obj) => redactSecrets(obj) as Record<string, unknown>,
    },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const root = destination ? pino(options, destination) : pino(options);
  // pino applies a bindings formatter to the root's base only, not to child() bindings: children
  // (and their children, which inherit this method) have their bindings redacted here.
  const child = root.child as unknown as (this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => Logger;
  function redactingChild(this: Logger, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions): Logger {
    return child.call(this, redactSecrets(bindings) as pino.Bindings, childOptions);
  }
  root.child = redactingChild as unknown as Logger['child'];
  return root;
}

/** Process-wide logger; components derive children with `logger.child({ component })`. */
export const logger = createLogger();
export type { Logger };
