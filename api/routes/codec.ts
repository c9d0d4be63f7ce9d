/**
 * Temporal remote codec endpoint, so the Temporal Web UI and CLI can show decrypted payloads:
 * `POST /codec/decode` and `POST /codec/encode` with `{payloads:[{metadata:{k: base64}, data: base64}]}`
 * (point the UI's codec endpoint, or `--ui-codec-endpoint`, at `<api>/codec`).
 *
 * Who may call it: the operator token (`Authorization: Bearer <VMFLOW_CODEC_TOKEN>`, which the UI
 * sends with "pass access token", or a script), or the session of a member listed in
 * VMFLOW_OPERATORS (bearer, or the session cookie when the UI "includes cross-origin
 * credentials"). No credentials or a bad one → 401; a member who is not an operator → 403.
 * `X-Namespace`, which the UI sends, must name the namespace this deployment serves (403 else).
 * Browsers get CORS for the configured UI origins (VMFLOW_CODEC_CORS_ORIGINS), preflight included.
 */
import crypto from 'node:crypto';
import express, { type RequestHandler } from 'express';
import type { Config } from '../../src/config';
import { codecHeaders, codecPayloadsSchema } from '../../src/contracts/api/codec';
import { AppError, parseInput } from '../../src/errors';
import type { Keyring } from '../../src/secrets/keyring';
import { EncryptionCodec, payloadFromJson, payloadToJson, PayloadDecryptionError } from '../../src/temporal/codec';
import { authenticateRequest, OPERATOR_ROLE, readSessionToken } from '../auth-middleware';
import type { ApiScope } from '../openapi';

/** Where the codec endpoint is mounted; the UI's codec endpoint is `<api base URL>${CODEC_ENDPOINT_PATH}`. */
export const CODEC_ENDPOINT_PATH = '/codec';

const digest = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

function cors(origins: string[]): RequestHandler {
  return (req, res, next) => {
    const origin = req.header('origin');
    res.vary('Origin');
    const allowed = origin !== undefined && origins.includes(origin);
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method !== 'OPTIONS') return next();
    if (!allowed) return next(AppError.forbidden(`origin ${origin ?? '(none)'} may not call the codec endpoint; see VMFLOW_CODEC_CORS_ORIGINS`));
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Namespace');
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  };
}

/** Declares the codec routes in `api`, the scope mounted at CODEC_ENDPOINT_PATH. */
export function codecRoutes(api: ApiScope, o: { config: Config; keyring: Keyring }): void {
  const codec = new EncryptionCodec(o.keyring);
  api.router.use(cors(o.config.codecCorsOrigins));
  // The body (up to 16 MB) is read only after the caller is authorised (see the routes below):
  // a stranger's large or malformed body costs a 401, not a parse.
  const readBody = express.json({ limit: '16mb' });

  const authorise: RequestHandler = async (req, res, next) => {
    const token = readSessionToken(req);
    let ok = tokenMatches(token, o.config.codecToken);
    if (!ok) {
      const user = token ? await authenticateRequest(req) : undefined;
      if (user && !user.roles.includes(OPERATOR_ROLE)) return next(AppError.forbidden('only operators may decode workflow payloads'));
      ok = user !== undefined;
    }
    if (!ok) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="vmflow-codec"');
      return next(AppError.unauthorized('the codec endpoint needs the operator token or an operator session'));
    }
    const namespace = req.header('x-namespace');
    if (namespace !== undefined && namespace !== o.config.temporalNamespace) {
      return next(AppError.forbidden(`namespace ${namespace} is not served by this codec (it serves ${o.config.temporalNamespace})`));
    }
    next();
  };

  for (const op of ['encode', 'decode'] as const) {
    api.route(
      {
        method: 'post',
        path: `/${op}`,
        operationId: `codec${op[0].toUpperCase()}${op.slice(1)}`,
        tag: 'codec',
        auth: 'codec',
        summary: `${op === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (remote codec for the Temporal UI and CLI)`,
        description: 'CORS for the origins in VMFLOW_CODEC_CORS_ORIGINS (preflight included). Body limit 16 MB.',
        headers: codecHeaders,
        body: codecPayloadsSchema,
        responses: { 200: { description: `the payloads ${op}d, in order`, body: codecPayloadsSchema } },
        errors: {
          400: op === 'decode' ? 'validation_failed, or payload_undecodable: a payload does not decrypt with any key' : 'validation_failed: the body names the field',
          401: 'neither the operator token nor a live session',
          403: 'forbidden: the session is not an operator’s, the origin is not allowed, or X-Namespace names another namespace',
        },
      },
      authorise,
      readBody,
      async (req, res) => {
        const { payloads } = parseInput(codecPayloadsSchema, req.body);
        try {
          const out = await codec[op](payloads.map(payloadFromJson));
          res.setHeader('Cache-Control', 'no-store');
          res.json({ payloads: out.map(payloadToJson) });
        } catch (err) {
          if (err instanceof PayloadDecryptionError) throw new AppError(400, 'payload_undecodable', err.message);
          throw err;
        }
      },
    );
  }
}
