/**
 * Structured logging (pino). Redaction is by key name at any depth we log, so a password, token,
 * API key, secret or signature never reaches a log line even when a whole request body or cloud
 * account is logged by mistake.
 */
import pino, { type Logger } from 'pino';

/** Key names whose values are never logged. Matched case-sensitively as pino paths. */
export const SECRET_KEYS = [
  'password',
  'newPassword',
  'currentPassword',
  'token',
  'sessionToken',
  'authToken',
  'apiKey',
  'apikey',
  'secretKey',
  'secretkey',
  'secret',
  'signature',
  'authorization',
  'cookie',
  'set-cookie',
  'x-auth-token',
  'x-subject-token',
  'adminPass',
  'encryptionKey',
  // Config fields and stored-credential fields (a logged Config or account document stays clean).
  'encryptionKeys',
  'codecToken',
  'openstackPassword',
  'cloudstackApiKey',
  'cloudstackSecretKey',
  'passwordHash',
  'tokenHash',
];

const paths = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith('[') ? '' : '.';
  return [key, `*${dot}${key}`, `*.*${dot}${key}`, `*.*.*${dot}${key}`];
});

/** Removes credentials from a URL's query string (CloudStack puts apiKey and signature there). */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:apiKey|apikey|signature|temp_url_sig|sig|token)=)[^&]*/gi, '$1[REDACTED]');
}

/** `destination` (tests: the run log file) defaults to stdout. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'vmflow', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: { paths, censor: '[REDACTED]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Process-wide logger; components derive children with `logger.child({ component })`. */
export const logger = createLogger();
export type { Logger };
