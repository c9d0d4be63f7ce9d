/**
 * Prints the README's configuration table from src/config.ts; `--write` replaces the table between
 * the config-table markers in README.md. test/unit/config.test.ts fails when they differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configTableMarkdown } from '../src/config';

export const START = '<!-- config-table:start -->';
export const END = '<!-- config-table:end -->';

export function withTable(readme: string): string {
  const i = readme.indexOf(START);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) throw new Error('README.md lacks the config-table markers');
  return `${readme.slice(0, i + START.length)}\n${configTableMarkdown()}\n${readme.slice(j)}`;
}

if (require.main === module) {
  const readmePath = path.resolve(__dirname, '..', 'README.md');
  if (process.argv.includes('--write')) fs.writeFileSync(readmePath, withTable(fs.readFileSync(readmePath, 'utf8')));
  else process.stdout.write(`${configTableMarkdown()}\n`);
}
