/**
 * The image store's settings from the environment (used by main.ts; the launcher may call it too).
 * Secrets: in production (NODE_ENV=production) a missing IMAGE_STORE_TOKEN or
 * IMAGE_STORE_SIGNING_SECRET is an error naming the variable. Otherwise random development values
 * are generated once and kept in `<dir>/.dev-secrets.json` (mode 0600), so restarts keep signed
 * URLs valid and a local worker can read them; their values are never printed, only the file path.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import type { ImageStoreOptions } from './server';

export class ImageStoreEnvError extends Error {
  constructor(readonly missing: string[]) {
    super(`image store: ${missing.join(' and ')} must be set when NODE_ENV=production`);
    this.name = 'ImageStoreEnvError';
  }
}

export interface ImageStoreEnv {
  options: ImageStoreOptions;
  /** Set when development secrets were generated or reused: the file that holds them. */
  devSecretsFile?: string;
}

export function imageStoreOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ImageStoreEnv {
  const config = loadConfig(env);
  const dir = path.resolve(env.IMAGE_STORE_DIR || path.join(config.dataDir, 'images'));
  const maxBytes = env.IMAGE_STORE_MAX_BYTES ? Number(env.IMAGE_STORE_MAX_BYTES) : undefined;
  if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0)) {
    throw new Error(`IMAGE_STORE_MAX_BYTES=${JSON.stringify(env.IMAGE_STORE_MAX_BYTES)}: must be a positive integer`);
  }
  let serviceToken = env.IMAGE_STORE_TOKEN || '';
  let signingSecret = env.IMAGE_STORE_SIGNING_SECRET || '';
  let devSecretsFile: string | undefined;
  if (!serviceToken || !signingSecret) {
    if (env.NODE_ENV === 'production') {
      throw new ImageStoreEnvError([!serviceToken && 'IMAGE_STORE_TOKEN', !signingSecret && 'IMAGE_STORE_SIGNING_SECRET'].filter((v): v is string => !!v));
    }
    devSecretsFile = path.join(dir, '.dev-secrets.json');
    const dev = readOrCreateDevSecrets(devSecretsFile);
    serviceToken ||= dev.serviceToken;
    signingSecret ||= dev.signingSecret;
  }
  return {
    options: {
      host: env.IMAGE_STORE_HOST || '127.0.0.1',
      port: config.imageStorePort,
      dir,
      serviceToken,
      signingSecret,
      publicUrl: env.IMAGE_STORE_PUBLIC_URL || undefined,
      maxBytes,
    },
    devSecretsFile,
  };
}

function readOrCreateDevSecrets(file: string): { serviceToken: string; signingSecret: string } {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as { serviceToken?: string; signingSecret?: string };
    if (v.serviceToken && v.signingSecret) return { serviceToken: v.serviceToken, signingSecret: v.signingSecret };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secrets = { serviceToken: crypto.randomBytes(24).toString('base64url'), signingSecret: crypto.randomBytes(32).toString('base64url') };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}
