/**
 * Checking OpenSSH public keys (`authorized_keys` lines: `<type> <base64 blob> [comment]`). The blob
 * is decoded and must start with the same key type (RFC 4253 §6.6 wire format), so a truncated or
 * pasted-wrong key is refused at the API instead of silently locking the user out of the VM.
 */
import { base64Decode } from './encoding';

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

/** OpenSSH's own minimum for RSA keys since 8.8 is 1024; 2048 is the common floor today. */
export const MIN_RSA_BITS = 2048;
/** A 16384-bit RSA key is about 2.8 kB of base64; anything far longer is not a key. */
export const MAX_SSH_KEY_LENGTH = 8192;

const ED25519_BLOB_LENGTH = 4 + 'ssh-ed25519'.length + 4 + 32;

/** Reads the SSH wire-format strings of a key blob; undefined when they run past the end. */
function readStrings(blob: Uint8Array): Uint8Array[] | undefined {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const len = ((blob[at]! << 24) >>> 0) + (blob[at + 1]! << 16) + (blob[at + 2]! << 8) + blob[at + 3]!;
    at += 4;
    if (at + len > blob.length) return undefined;
    parts.push(blob.subarray(at, at + len));
    at += len;
  }
  return parts;
}

function ascii(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function mpintBits(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

/** Returns why `line` is not an acceptable public key, or undefined when it is. */
export function sshPublicKeyProblem(line: string): string | undefined {
  if (line.length > MAX_SSH_KEY_LENGTH) return `is too long to be an SSH public key (${line.length} characters)`;
  if (/[\r\n\0]/.test(line)) return 'must be a single line';
  const fields = line.trim().split(/\s+/);
  if (fields.length < 2 || !fields[0] || !fields[1]) {
    return 'is not an OpenSSH public key: expected "<type> <base64> [comment]", e.g. the contents of ~/.ssh/id_ed25519.pub';
  }
  const [type, data] = fields as [string, string];
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    if (/^-----BEGIN/.test(line)) return 'looks like a PEM private or public key; give the OpenSSH public key (the .pub file)';
    return `has unsupported key type "${type.slice(0, 40)}"; use one of ${SSH_KEY_TYPES.join(', ')}`;
  }
  const blob = base64Decode(data);
  if (!blob) return 'has a key body that is not valid base64';
  const parts = readStrings(blob);
  if (!parts || parts.length === 0) return 'has a truncated or corrupt key body';
  const embedded = ascii(parts[0]!);
  if (embedded !== type) return `says "${type}" but its key body is a "${embedded.slice(0, 40)}" key`;
  if (type === 'ssh-ed25519' && blob.length !== ED25519_BLOB_LENGTH) return 'has an ed25519 key body of the wrong length';
  if (type === 'ssh-rsa') {
    if (parts.length !== 3) return 'has a corrupt RSA key body';
    const bits = mpintBits(parts[2]!);
    if (bits < MIN_RSA_BITS) return `is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`;
  }
  return undefined;
}

/** The key in canonical form: single spaces, no surrounding blanks. */
export function normalizeSshPublicKey(line: string): string {
  return line.trim().split(/\s+/).join(' ');
}
