/**
 * The failure converter of every vmflow client and worker, loaded by path (the SDK bundles it into
 * the workflow sandbox too): error messages and stack traces travel as an encoded payload, which
 * the payload codec then encrypts, so an error text never sits in history as plaintext.
 * Imports only @temporalio/common: it runs inside the deterministic workflow sandbox.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
