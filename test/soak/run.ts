/**
 * npm run soak -- --minutes M --seed S [--vms N] [--no-kills] [--settle SECONDS]
 *
 * Boots its own stack on free loopback ports, steps through a seeded random sequence of faults and
 * commands for M minutes, settles (bounded), checks invariants and leaks, prints a summary and
 * exits 0 (no violation), 1 (violations) or 2 (the soak itself could not run). SIGINT/SIGTERM
 * stop it early; every child process is killed on the way out.
 */
import { runSoak } from './soak';
import { killOwnChildren } from './system';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

function num(argv: string[], name: string, def: number, check: (n: number) => boolean): number {
  const raw = flag(argv, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) {
    console.error(`${name}: invalid value ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('npm run soak -- --minutes M --seed S [--vms N] [--no-kills] [--settle SECONDS] [--switch-grace SECONDS] [--down-budget SECONDS]');
  process.exit(0);
}
const known = ['--minutes', '--seed', '--vms', '--no-kills', '--settle', '--switch-grace', '--down-budget'];
for (const a of argv) {
  if (a.startsWith('--') && !known.includes(a.split('=')[0])) {
    console.error(`unknown flag ${a} (known: ${known.join(' ')})`);
    process.exit(2);
  }
}

// Whatever happens, no child process outlives the soak.
process.on('exit', killOwnChildren);
const controller = new AbortController();
let interrupted = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    console.error(`\n${sig}: stopping the soak (again to exit at once)`);
    controller.abort();
  });
}

const seed = num(argv, '--seed', Math.floor(Math.random() * 2 ** 31), (n) => Number.isInteger(n) && n >= 0);
runSoak({
  minutes: num(argv, '--minutes', 5, (n) => n > 0 && n <= 24 * 60),
  seed,
  vms: num(argv, '--vms', 4, (n) => Number.isInteger(n) && n >= 1 && n <= 50),
  kills: !argv.includes('--no-kills'),
  settleSeconds: num(argv, '--settle', 180, (n) => n >= 10 && n <= 3600),
  switchGraceSeconds: num(argv, '--switch-grace', 60, (n) => n > 0),
  downBudgetSeconds: num(argv, '--down-budget', 120, (n) => n > 0),
  signal: controller.signal,
}).then(
  (r) => process.exit(controller.signal.aborted ? 130 : r.violations.length ? 1 : 0),
  (err) => {
    console.error(`soak could not run (seed ${seed}): ${(err as Error).stack ?? err}`);
    process.exit(2);
  },
);
