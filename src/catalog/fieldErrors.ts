/**
 * Errors that name the field at fault, in the notation a person reads in an API answer or a
 * config file: `software[2]`, `users[0].sshPublicKeys[1]`, `sizes[1].ramMiB`. Pure (no I/O) so that
 * workflow code may import it.
 */
import type { z } from 'zod';

export interface FieldError {
  /** Dotted path with array indices in brackets; empty string for the whole document. */
  field: string;
  message: string;
}

/** `['users', 0, 'sshPublicKeys', 1]` → `users[0].sshPublicKeys[1]`. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Zod issues as field errors; `prefix` places a nested document inside its parent. */
export function zodFieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.flatMap((issue) => {
    // One error per unknown key, so each names its own field (a typo is then easy to spot).
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: formatPath([...issue.path, key], prefix), message: 'is not a known field' }));
    }
    const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    return [{ field: formatPath(issue.path, prefix), message: missing ? `is required (${issue.message.replace(/^Invalid input: /, '').replace(/, received undefined$/, '')})` : issue.message }];
  });
}

/** One line per error, for exception messages and logs. */
export function describeFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
}
