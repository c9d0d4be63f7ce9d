/**
 * The data converter shared by every Temporal client and worker of vmflow. Keeping it in one place
 * guarantees that what the API encodes the worker can decode (and vice versa).
 *
 * Payloads are encrypted with the keyring (see codec.ts), and failure messages and stack traces
 * are moved into an encoded payload too (failure-converter.ts), so an error text that quotes user
 * input never lands in history as plaintext. Clients given this converter decode both
 * transparently; the Temporal UI decodes through the codec endpoint (api/routes/codec.ts).
 */
import type { DataConverter } from '@temporalio/common';
import type { Keyring } from '../secrets/keyring';
import { EncryptionCodec } from './codec';

/** Module the workflow bundle must be built with (bundleWorkflowCode({ failureConverterPath })). */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export function createDataConverter(keyring: Keyring): DataConverter {
  if (!keyring?.keys?.size) throw new Error('createDataConverter needs the encryption keyring (loadKeyring(config))');
  return {
    payloadCodecs: [new EncryptionCodec(keyring)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}
