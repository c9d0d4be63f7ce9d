/**
 * The typed client: openapi-fetch over the paths of the generated schema.d.ts, so a page cannot
 * call a route or read a field the API does not declare. The session is the API's httpOnly
 * cookie (the page never sees the token); `X-Requested-With` lets the cookie authenticate
 * POST/PATCH/DELETE (api/auth-middleware.ts). Every error answer becomes an ApiError.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Vm = Schemas['Vm'];
export type FieldError = Schemas['FieldError'];

export const api = createClient<paths>({
  baseUrl: '/',
  credentials: 'same-origin',
  headers: { 'X-Requested-With': 'vmflow-console' },
});

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
    readonly requestId?: string,
    /** Retry-After, in seconds (429, 503). */
    readonly retryAfter?: number,
    /** 409 confirmation_required (PATCH /vms/{id}): what the change would do (`error.plan`). */
    readonly plan?: Schemas['UpdatePlan'],
  ) {
    super(message);
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or an ApiError carrying the error body's code, message and fields. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await call;
  } catch (err) {
    throw new ApiError(0, 'network', (err as Error).message);
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = (error ?? {}) as { error?: Partial<Schemas['Error']['error']> };
  const retry = Number(response.headers.get('retry-after'));
  throw new ApiError(
    response.status,
    body.error?.code ?? 'http_' + response.status,
    body.error?.message ?? response.statusText,
    body.error?.fields ?? [],
    body.error?.requestId,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
    body.error?.plan,
  );
}

export function isApiError(err: unknown, status?: number): err is ApiError {
  return err instanceof ApiError && (status === undefined || err.status === status);
}
