/**
 * Counting cloud HTTP calls with bounded labels: the operation is a route template (OpenStack)
 * or the API command (CloudStack), never a URL with ids, names or query strings in it.
 */
import { cloudCallSpan } from '../tracing';
import { cloudApiDuration, cloudApiRequests } from './registry';

/** Distinct operations kept per cloud; any further one is counted as `other`. */
export const MAX_OPERATIONS = 200;
const MAX_SEGMENTS = 8;

/** Keeps the first `max` distinct values; any later new value is `other`. */
export class BoundedLabel {
  private readonly known = new Set<string>();
  constructor(private readonly max: number) {}
  admit(value: string): string {
    if (this.known.has(value)) return value;
    if (this.known.size >= this.max) return 'other';
    this.known.add(value);
    return value;
  }
}

const seen = { openstack: new BoundedLabel(MAX_OPERATIONS), cloudstack: new BoundedLabel(MAX_OPERATIONS) };

/** A word (`servers`, `os-volumes_boot`, `detail`) or an API version (`v2.1`) is kept; anything else is an id. */
function keepSegment(s: string): boolean {
  return /^[a-z][a-z_-]{0,40}$/i.test(s) || /^v\d+(\.\d+)*$/.test(s);
}

/**
 * `http://h:8000/compute/v2.1/servers/6a1…/action?x=1` → `/compute/v2.1/servers/:id/action`.
 * Names in paths (a stack's `vmflow-<id>`) carry digits and become `:id` too.
 */
export function openstackOperation(url: string): string {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return 'invalid-url';
  }
  const segments = pathname.split('/').filter(Boolean);
  const template = segments.slice(0, MAX_SEGMENTS).map((s) => (keepSegment(decodeURIComponent(s)) ? s : ':id'));
  if (segments.length > MAX_SEGMENTS) template.push('…');
  return `/${template.join('/')}`;
}

/** CloudStack commands are words (`listVirtualMachines`); anything else is `invalid`. */
export function cloudstackOperation(command: string): string {
  return /^[a-zA-Z]{1,64}$/.test(command) ? command : 'invalid';
}

/** A status label: the HTTP code, or what went wrong before one came back. */
export function callStatus(status: number | undefined, err?: unknown): string {
  if (status !== undefined) return String(status);
  const kind = (err as { kind?: string } | undefined)?.kind;
  if (kind === 'Timeout') return 'timeout';
  if (kind === 'Network') return 'network';
  if (kind === 'BadRequest') return 'refused';
  return 'aborted';
}

export function recordCloudCall(cloud: 'openstack' | 'cloudstack', method: string, operation: string, status: string, seconds: number): void {
  const op = seen[cloud].admit(operation);
  cloudApiRequests.inc({ cloud, method, operation: op, status });
  cloudApiDuration.observe({ cloud, operation: op }, seconds);
  // The same call as a span under the activity that made it (a no-op unless tracing is on).
  cloudCallSpan(cloud, method, op, status, seconds);
}
