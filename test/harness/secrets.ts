/**
 * Test secrets and the run log. Every logger the harness builds (API, worker) writes to one run
 * log at debug level; tests register every password, token, API key and key they use with
 * `registerTestSecret`, and the root hook (hooks.ts) fails the run when any of them appears in
 * that log or in the embedded servers' logs — "the logs of a full test run contain no secret".
 * VMFLOW_KEEP_TEST_LOG=1 keeps the run log after a clean run (its path is printed).
 *
 * The run has one keyring (`testKeyring()`), shared by every test API, worker and client, so what
 * one encrypts the others decrypt, as in a deployment.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLogger, type Logger } from '../../src/logger';
import { formatKeyring, keyringOf, type Keyring } from '../../src/secrets/keyring';

const secrets = new Set<string>();

/** Remembers values that must never be logged. Values shorter than 6 characters are ignored (too likely to occur by chance). */
export function registerTestSecret(...values: Array<string | undefined>): void {
  for (const v of values) if (v && v.length >= 6) secrets.add(v);
}

export function registeredTestSecrets(): string[] {
  return [...secrets];
}

let runLog: { file: string; stream: pino.DestinationStream & { flushSync(): void } } | undefined;

export function runLogFile(): string {
  runLog ??= (() => {
    const file = path.join(os.tmpdir(), `vmflow-test-run-${process.pid}-${crypto.randomBytes(3).toString('hex')}.log`);
    return { file, stream: pino.destination({ dest: file, sync: true }) };
  })();
  return runLog.file;
}

/**
 * A logger for harness components: debug level into the run log, plus stdout at LOG_LEVEL when a
 * developer sets it.
 */
export function testLogger(name = 'vmflow-test'): Logger {
  runLogFile();
  const toFile = { level: 'debug' as const, stream: runLog!.stream };
  const level = process.env.LOG_LEVEL;
  if (!level || level === 'silent') return createLogger('debug', name, toFile.stream);
  return createLogger('debug', name, pino.multistream([toFile, { level: level as pino.Level, stream: process.stdout }]));
}

let keyring: Keyring | undefined;

/** The run's keyring: a current key and an older one (so decryption under rotation is exercised). */
export function testKeyring(): Keyring {
  if (!keyring) {
    keyring = keyringOf({ kid: 'test-current', key: crypto.randomBytes(32) }, { kid: 'test-previous', key: crypto.randomBytes(32) });
    for (const k of keyring.keys.values()) registerTestSecret(k.toString('base64'));
  }
  return keyring;
}

/** The run keyring as VMFLOW_ENCRYPTION_KEYS would carry it (for child processes). */
export function testKeyringEnv(): string {
  return formatKeyring(testKeyring());
}

export interface SecretLeak {
  file: string;
  secretPreview: string;
  line: number;
}

const scannedDirs = new Set<string>();

/** A directory whose `*.log` files (the embedded servers' logs) the end-of-run check scans too. */
export function scanLogsIn(dir: string): void {
  scannedDirs.add(dir);
}

/** The run log and every `*.log` in the registered directories (one level deep). */
export function logFilesToScan(): string[] {
  const files = runLog ? [runLog.file] : [];
  for (const dir of scannedDirs) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) if (name.endsWith('.log')) files.push(path.join(dir, name));
  }
  return files;
}

/** Finds registered secrets in the given log files (plain and JSON-escaped forms). */
export function findSecretLeaks(files: string[]): SecretLeak[] {
  runLog?.stream.flushSync();
  const leaks: SecretLeak[] = [];
  const list = registeredTestSecrets();
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    for (const s of list) {
      const forms = new Set([s, JSON.stringify(s).slice(1, -1)]);
      const idx = lines.findIndex((l) => [...forms].some((f) => l.includes(f)));
      if (idx >= 0) leaks.push({ file, line: idx + 1, secretPreview: `${s.slice(0, 3)}…(${s.length} chars)` });
    }
  }
  return leaks;
}

/** Throws, naming file and line (never the secret), when a registered secret was logged. */
export function assertNoSecretsInLogs(): void {
  const files = logFilesToScan();
  const leaks = findSecretLeaks(files);
  if (leaks.length) {
    throw new Error(
      `test secrets found in logs (run log kept at ${runLog?.file}):\n  ${leaks.map((l) => `${l.file}:${l.line} contains ${l.secretPreview}`).join('\n  ')}`,
    );
  }
  if (process.env.VMFLOW_KEEP_TEST_LOG && runLog) process.stderr.write(`run log kept at ${runLog.file}\n`);
  else removeRunLog();
}

/** Removes the run log (after a clean check); kept when a leak was found, for reading. */
export function removeRunLog(): void {
  if (!runLog) return;
  fs.rmSync(runLog.file, { force: true });
  runLog = undefined;
}
