/**
 * Proves an account's credentials work without revealing them: OpenStack → a fresh Keystone
 * password authentication (not a cached token); CloudStack → a signed listZones (and, when the
 * account names a zone, that the zone is there). The answer carries what the cloud said about
 * the account — project, zone names — and on failure a reason and a fixed message; the cloud's
 * response body is not echoed, so a verify call cannot be used to read arbitrary URLs' content.
 * A member's account goes through the outbound guard (src/outbound): a URL it refuses is a 400
 * naming the field, and nothing is sent.
 */
import { CloudApiError } from '../clouds/errors';
import { AppError } from '../errors';
import { outboundRefusal, type OutboundGuard, type OutboundRefusedError } from '../outbound/guard';
import { authenticate } from '../clouds/openstack/identity';
import type { CloudAccountResolver } from './resolver';
import type { CloudKind } from './types';
import type { VerifyFailureReason, VerifyResult } from '../contracts/api/cloud-accounts';

export type { VerifyFailureReason, VerifyResult };

const MESSAGES: Record<VerifyFailureReason, string> = {
  credentials_rejected: 'the cloud rejected the credentials',
  unreachable: 'the cloud endpoint did not answer',
  invalid_settings: 'the cloud refused the request as invalid (check the domain, project and URL)',
  endpoint_not_found: 'the URL does not lead to the cloud API',
  zone_not_found: 'the credentials work, but the configured zone does not exist',
  cloud_error: 'the cloud answered with an error',
};

function failure(kind: CloudKind, reason: VerifyFailureReason, status?: number): VerifyResult {
  return { ok: false, kind, checkedAt: new Date().toISOString(), reason, message: MESSAGES[reason], ...(status !== undefined ? { status } : {}) };
}

function reasonFor(err: CloudApiError): VerifyFailureReason {
  switch (err.kind) {
    case 'Unauthorized':
    case 'Forbidden':
      return 'credentials_rejected';
    case 'Network':
    case 'Timeout':
      return 'unreachable';
    case 'BadRequest':
      return 'invalid_settings';
    case 'NotFound':
      return 'endpoint_not_found';
    default:
      return 'cloud_error';
  }
}

export async function verifyCloudAccount(resolver: CloudAccountResolver, accountId: string, kind: CloudKind, opts: { timeoutMs?: number } = {}): Promise<VerifyResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  try {
    if (kind === 'openstack') {
      const { credentials, dispatcher } = await resolver.openstackAuth(accountId);
      const tok = await authenticate(credentials, { timeoutMs, ...(dispatcher ? { dispatcher } : {}) });
      return {
        ok: true,
        kind,
        checkedAt: new Date().toISOString(),
        openstack: {
          ...(tok.project ? { project: { id: tok.project.id, name: tok.project.name } } : {}),
          ...(tok.user ? { user: { id: tok.user.id, name: tok.user.name } } : {}),
          services: [...new Set(tok.catalog.map((c) => c.type))].sort(),
        },
      };
    }
    const settings = await resolver.cloudstackSettings(accountId);
    const client = await resolver.cloudstack(accountId);
    const zones = (await client.listZones({}, { timeoutMs })).map((z) => z.name);
    if (settings.zoneName && !zones.includes(settings.zoneName)) return failure(kind, 'zone_not_found');
    return { ok: true, kind, checkedAt: new Date().toISOString(), cloudstack: { zones } };
  } catch (err) {
    const refused = outboundRefusal(err);
    if (refused) throw urlNotAllowed(kind === 'openstack' ? 'authUrl' : 'apiUrl', refused);
    if (err instanceof CloudApiError) return failure(kind, reasonFor(err), err.status);
    throw err;
  }
}

/** 400 naming the field whose URL the outbound guard refuses (at registration, or at verify for an older record). */
export function urlNotAllowed(field: string, refused: OutboundRefusedError): AppError {
  const message = `${field} is not allowed: ${refused.reason}. Member cloud accounts may only reach public addresses (or what the operator's VMFLOW_OUTBOUND_ALLOW lists)`;
  return new AppError(400, 'url_not_allowed', message, [{ field, message }]);
}

/**
 * Refuses, before anything is stored, a member's account whose URL the guard would refuse now
 * (scheme, an IP literal's range, what the host name resolves to). The connection checks again.
 */
export async function assertAccountUrlAllowed(guard: OutboundGuard, input: { kind: CloudKind; authUrl?: string; apiUrl?: string }): Promise<void> {
  const field = input.kind === 'openstack' ? 'authUrl' : 'apiUrl';
  const url = input.kind === 'openstack' ? input.authUrl : input.apiUrl;
  if (url === undefined) return;
  try {
    await guard.checkUrlResolved(url);
  } catch (err) {
    const refused = outboundRefusal(err);
    if (refused) throw urlNotAllowed(field, refused);
    throw err;
  }
}
