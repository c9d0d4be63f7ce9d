/**
 * Where scripts/setup.sh puts the embedded servers' binaries. Versions come from
 * scripts/tools.env so the shell installer and this module can never disagree.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..');

function toolVersions(): Record<string, string> {
  const text = fs.readFileSync(path.join(repoRoot, 'scripts', 'tools.env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split('=', 2) as [string, string]),
  );
}

export function temporalCliPath(toolsDir: string, override?: string): string {
  return override ?? path.join(toolsDir, `temporal-${toolVersions().TEMPORAL_CLI_VERSION}`, 'temporal');
}

export function ferretDbPath(toolsDir: string): string {
  const dir = path.join(repoRoot, 'scripts', 'ferretdb');
  // Same key as setup.sh: version plus the first 12 hex digits of sha256(main.go + go.mod + go.sum).
  const hash = crypto
    .createHash('sha256')
    .update(Buffer.concat(['main.go', 'go.mod', 'go.sum'].map((f) => fs.readFileSync(path.join(dir, f)))))
    .digest('hex')
    .slice(0, 12);
  return path.join(toolsDir, `ferretdb-${toolVersions().FERRETDB_VERSION}-${hash}`, 'ferretdb');
}

export function assertExecutable(file: string, what: string): void {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`${what} not found at ${file}; run 'bash scripts/setup.sh' (npm start and npm test do) or set the override described in the README`);
  }
}

/** Temporal's time-skipping test server wrapper (`setup.sh --test`): keyed like setup.sh, by version and the launcher's source. */
export function timeSkippingServerPath(toolsDir: string): string {
  const dir = path.join(repoRoot, 'test', 'harness', 'time-skipping');
  const hash = crypto
    .createHash('sha256')
    .update(Buffer.concat(['LoopbackTestServer.java', 'pom.xml'].map((f) => fs.readFileSync(path.join(dir, f)))))
    .digest('hex')
    .slice(0, 12);
  return path.join(toolsDir, `temporal-test-server-${toolVersions().TEMPORAL_TEST_SERVER_VERSION}-${hash}`, 'test-server');
}
