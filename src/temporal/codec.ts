/**
 * AES-256-GCM PayloadCodec: every payload (workflow and activity inputs and results, signals,
 * queries, updates, memos, and — with the failure converter's encodeCommonAttributes — failure
 * messages and stack traces) is stored in Temporal history as ciphertext.
 *
 * An encrypted payload has metadata `encoding: binary/encrypted`, `encryption-key-id: <kid>` and
 * `encryption-cipher: AES256-GCM`, and data `iv(12) ‖ ciphertext ‖ tag(16)` of the original
 * payload serialised as: u32 length of a JSON object of its metadata (values base64) ‖ that JSON ‖
 * the original data. The key is HKDF(keyring key, "vmflow/temporal-payload-codec/v1"), so it is
 * never the key used for secrets at rest; the key id in the metadata lets old histories decode
 * after a rotation for as long as the old key stays in the keyring. Payloads that are not
 * `binary/encrypted` decode unchanged (histories written before encryption was turned on).
 *
 * Codecs run outside the workflow sandbox (client and worker main thread), so node:crypto is fine.
 */
import crypto from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { KEY_PURPOSE, purposeKey } from '../secrets/aead';
import type { Keyring } from '../secrets/keyring';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CIPHER = 'encryption-cipher';
const CIPHER = 'AES256-GCM';

const utf8 = (s: string) => new TextEncoder().encode(s);
const fromUtf8 = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

function serialise(p: Payload): Buffer {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) meta[k] = Buffer.from(v).toString('base64');
  const metaJson = Buffer.from(JSON.stringify(meta), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(metaJson.length);
  return Buffer.concat([len, metaJson, Buffer.from(p.data ?? new Uint8Array())]);
}

function deserialise(buf: Buffer): Payload {
  const len = buf.readUInt32BE(0);
  const meta = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as Record<string, string>;
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(buf.subarray(4 + len)) };
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  private key(kid: string): Buffer {
    const key = purposeKey(this.keyring, kid, KEY_PURPOSE.temporalPayloads);
    if (!key) throw new PayloadDecryptionError(`payload encrypted with key id ${kid}, which is not in the keyring (VMFLOW_ENCRYPTION_KEYS)`);
    return key;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const kid = this.keyring.currentKid;
    const key = this.key(kid);
    return payloads.map((p) => {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(serialise(p)), cipher.final()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [METADATA_KEY_ID]: utf8(kid), [METADATA_CIPHER]: utf8(CIPHER) },
        data: new Uint8Array(Buffer.concat([iv, ct, cipher.getAuthTag()])),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (fromUtf8(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const kid = fromUtf8(p.metadata?.[METADATA_KEY_ID]);
      if (!kid) throw new PayloadDecryptionError(`encrypted payload without ${METADATA_KEY_ID} metadata`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < 28) throw new PayloadDecryptionError('encrypted payload is too short');
      try {
        const decipher = crypto.createDecipheriv('aes-256-gcm', this.key(kid), data.subarray(0, 12));
        decipher.setAuthTag(data.subarray(data.length - 16));
        return deserialise(Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]));
      } catch (err) {
        if (err instanceof PayloadDecryptionError) throw err;
        throw new PayloadDecryptionError(`encrypted payload (key ${kid}) failed authentication: tampered or a wrong key`);
      }
    });
  }
}

/** The remote-codec JSON form the Temporal UI and CLI send: metadata values and data in base64. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(j: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(j.metadata ?? {})) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(j.data ?? '', 'base64')) };
}

export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}
