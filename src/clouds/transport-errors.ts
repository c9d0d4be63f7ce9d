/**
 * What a failed undici request (no HTTP status at all) says about the remote: which Node / undici
 * error codes mean "no answer in time" and which mean "could not reach it". Shared by the
 * CloudStack client, the OpenStack transport and the image store client so the three agree on the
 * codes; what an unlisted code becomes (Unexpected, Network, BadRequest) stays each caller's choice.
 */

/** Connection refused, reset, unresolvable or unreachable host, socket closed under us. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** undici's connect / headers / body timers and the kernel's connect timeout. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** The first string `code` on the error or its `cause` chain (undici wraps socket errors). */
export function transportErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** 'Timeout' or 'Network' when the error's code says so; undefined for any other failure. */
export function transportErrorKind(err: unknown): 'Timeout' | 'Network' | undefined {
  const code = transportErrorCode(err);
  if (code === undefined) return undefined;
  if (TIMEOUT_CODES.has(code)) return 'Timeout';
  if (NETWORK_CODES.has(code)) return 'Network';
  return undefined;
}
