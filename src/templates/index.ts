/**
 * Rendering VM requirements into what the clouds take: cloud-init config, a Heat HOT template and
 * stack parameters, CloudStack deployVirtualMachine parameters. Pure and deterministic (no I/O,
 * clock or randomness): safe to import from Temporal workflow code.
 */
export * from './requirements';
export { validateRequirements } from './validate';
export * from './cloudConfig';
export * from './heat';
export * from './cloudstack';
export { CloudSettingsError } from './settingsError';
export { SSH_KEY_TYPES, MIN_RSA_BITS, sshPublicKeyProblem, normalizeSshPublicKey } from './sshKeys';
export { base64Encode, base64Decode, base64EncodeText, utf8Encode } from './encoding';
