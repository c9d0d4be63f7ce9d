/**
 * The one application error (practica's AppError): an HTTP status, a stable machine code, a
 * message a person can read, and — for validation errors — the fields at fault.
 */
import { z } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  /** Sent as Retry-After on 429 and 503 answers. */
  readonly retryAfterSeconds?: number;
  /** More the client needs to act on the error (e.g. the plan a confirmation is asked for). */
  readonly details?: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldError[],
    options?: { cause?: unknown; retryAfterSeconds?: number; details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.details = options?.details;
    this.name = 'AppError';
  }

  static badRequest(message: string, fields?: FieldError[]): AppError {
    return new AppError(400, 'validation_failed', message, fields);
  }
  static unauthorized(message = 'authentication required'): AppError {
    return new AppError(401, 'unauthorized', message);
  }
  static forbidden(message = 'forbidden'): AppError {
    return new AppError(403, 'forbidden', message);
  }
  static notFound(what = 'resource'): AppError {
    return new AppError(404, 'not_found', `${what} not found`);
  }
  static conflict(message: string, code = 'conflict'): AppError {
    return new AppError(409, code, message);
  }
  static tooManyRequests(message: string, retryAfterSeconds: number): AppError {
    return new AppError(429, 'too_many_requests', message, undefined, { retryAfterSeconds });
  }
}

/** Zod issue path → `software[2].name` style field names. */
export function fieldName(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(body)';
}

export function fieldErrorsFromZod(err: z.ZodError): FieldError[] {
  return err.issues.map((i) => ({ field: fieldName(i.path), message: i.message }));
}

/** Validates `input` with `schema` or throws a 400 AppError naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where = 'request body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const fields = fieldErrorsFromZod(result.error);
  throw AppError.badRequest(`invalid ${where}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
}
