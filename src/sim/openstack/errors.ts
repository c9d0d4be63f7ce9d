/**
 * Errors as each real service writes them. Handlers throw ApiError; the request pipeline renders
 * it in the shape of the service that was called:
 *   Keystone (and keystonemiddleware's 401 on every service): {error:{code,title,message}}
 *   Nova:    {<badRequest|itemNotFound|…>:{code,message}} (+ retryAfter for overLimit)
 *   Glance:  webob's JSON formatter {message, code:"404 Not Found", title}
 *   Heat:    {code,title,explanation,error:{type,message,traceback}}
 *   Neutron: {NeutronError:{type,message,detail}}
 */
import { STATUS_CODES } from 'node:http';
import type { ServiceName } from './model';

export interface ApiErrorOptions {
  /** Exception class name where the service reports one (Heat, Neutron). */
  type?: string;
  /** Seconds; sets the Retry-After header (and Nova's retryAfter) on 413/429/503. */
  retryAfter?: number;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly opts: ApiErrorOptions = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, type?: string) => new ApiError(400, message, { type });
export const forbidden = (message: string, type?: string) => new ApiError(403, message, { type });
export const notFound = (message: string, type?: string) => new ApiError(404, message, { type });
export const conflict = (message: string, type?: string) => new ApiError(409, message, { type });

export const UNAUTHORIZED_MESSAGE = 'The request you have made requires authentication.';
export const unauthorized = (message = UNAUTHORIZED_MESSAGE) => new ApiError(401, message);

/** Nova's fault wrapper names (nova/api/openstack/wsgi.py). Anything else is computeFault. */
const NOVA_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** webob's explanations, which Heat copies into its error body. */
const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401: 'This server could not verify that you are authorized to access the document you requested.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  405: 'The method is not allowed for this resource.',
  409: 'There was a conflict when trying to complete your request.',
  413: 'The request is larger than the server is willing or able to process.',
  429: 'The client is sending too many requests.',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  503: 'The server is currently unavailable. Please try again at a later time.',
};

const HEAT_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  401: 'HTTPUnauthorized',
  403: 'Forbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  409: 'HTTPConflict',
  413: 'HTTPRequestEntityTooLarge',
  429: 'HTTPTooManyRequests',
  500: 'HTTPInternalServerError',
  503: 'HTTPServiceUnavailable',
};

const NEUTRON_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  409: 'Conflict',
  413: 'OverQuota',
  429: 'OverQuota',
  500: 'HTTPInternalServerError',
  503: 'ServiceUnavailable',
};

export function reason(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** The message a service uses when we only know the status (fault injection, outage). */
export function defaultMessage(service: ServiceName, status: number): string {
  if (status === 401) return UNAUTHORIZED_MESSAGE;
  if (status === 429 || status === 413) return 'This request was rate-limited.';
  if (status === 503) return service === 'compute' ? 'Service Unavailable' : 'The server is currently unavailable. Please try again at a later time.';
  if (status >= 500 && service === 'compute') return 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.';
  return EXPLANATIONS[status] ?? reason(status);
}

export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export function renderError(service: ServiceName, err: ApiError, identityUrl: string): RenderedError {
  const { status } = err;
  const headers: Record<string, string> = { ...(err.opts.headers ?? {}) };
  if (err.opts.retryAfter !== undefined) headers['Retry-After'] = String(err.opts.retryAfter);
  const message = err.message || defaultMessage(service, status);
  if (status === 401) {
    // keystonemiddleware answers for every service; Keystone itself uses the same shape.
    headers['WWW-Authenticate'] = `Keystone uri="${identityUrl}"`;
    return { status, headers, body: { error: { code: 401, title: 'Unauthorized', message } } };
  }
  switch (service) {
    case 'identity':
      return { status, headers, body: { error: { code: status, title: reason(status), message } } };
    case 'compute': {
      const name = NOVA_NAMES[status] ?? 'computeFault';
      const inner: Record<string, unknown> = { code: status, message };
      if (name === 'overLimit') inner.retryAfter = String(err.opts.retryAfter ?? 0);
      return { status, headers, body: { [name]: inner } };
    }
    case 'image':
      return { status, headers, body: { message, code: `${status} ${reason(status)}`, title: reason(status) } };
    case 'orchestration':
      return {
        status,
        headers,
        body: {
          code: status,
          title: reason(status),
          explanation: EXPLANATIONS[status] ?? reason(status),
          error: { type: err.opts.type ?? HEAT_TYPES[status] ?? 'HTTPError', message, traceback: null },
        },
      };
    case 'network':
      return { status, headers, body: { NeutronError: { type: err.opts.type ?? NEUTRON_TYPES[status] ?? 'HTTPError', message, detail: '' } } };
  }
}
