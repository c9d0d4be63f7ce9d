import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';

/**
 * Command-line plumbing each benchmark module shares when it is run on its own
 * (`tsx bench/<name>.ts --flag N`): numeric flags and the exit code of the run.
 */

/**
 * The number after `name` in argv, or undefined when the flag is absent. Must be > 0, or >= 0 with
 * `allowZero` (e.g. a count of VMs that may be left out); anything else throws.
 */
export function numberFlag(argv: string[], name: string, opts: { allowZero?: boolean } = {}): number | undefined {
  const i = argv.indexOf(name);
  if (i === -1) return undefined;
  const v = Number(argv[i + 1]);
  if (opts.allowZero) {
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name} needs a number >= 0`);
  } else if (!Number.isFinite(v) || v <= 0) {
    throw new Error(`${name} needs a positive number`);
  }
  return v;
}

/**
 * Runs a benchmark as the main module: exits with `exitCode(result)` (default 0), or 1 after
 * printing a failure. With `name`, the result is also written as JSON to
 * `<VMFLOW_DATA_DIR>/bench/<name>-<time>.json` (npm run bench writes its own latest.json).
 */
export function exitWhenDone<T>(run: Promise<T>, exitCode: (result: T) => number = () => 0, name?: string): void {
  run.then(
    (result) => {
      if (name) {
        const dir = path.join(loadConfig().dataDir, 'bench');
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
        fs.writeFileSync(file, `${JSON.stringify({ bench: name, finishedAt: new Date().toISOString(), host: { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version }, result }, null, 2)}\n`);
        console.log(`JSON written to ${file}`);
      }
      process.exit(exitCode(result));
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
