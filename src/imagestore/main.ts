/**
 * Runs the image store alone: `tsx src/imagestore/main.ts`.
 * Env: IMAGE_STORE_PORT (8090), IMAGE_STORE_HOST (127.0.0.1), IMAGE_STORE_DIR
 * (<VMFLOW_DATA_DIR>/images), IMAGE_STORE_TOKEN, IMAGE_STORE_SIGNING_SECRET,
 * IMAGE_STORE_PUBLIC_URL (what CloudStack/Glance use to reach it), IMAGE_STORE_MAX_BYTES.
 */
import { ConfigError } from '../config';
import { logger } from '../logger';
import { ImageStoreEnvError, imageStoreOptionsFromEnv } from './env';
import { startImageStore } from './server';

async function main(): Promise<void> {
  const log = logger.child({ component: 'imagestore' });
  const { options, devSecretsFile } = imageStoreOptionsFromEnv();
  if (devSecretsFile) {
    log.warn({ file: devSecretsFile }, 'IMAGE_STORE_TOKEN / IMAGE_STORE_SIGNING_SECRET not set: using generated development secrets kept in this file (set both in production)');
  }
  // startImageStore derives its own `component: imagestore` child from the root logger.
  const store = await startImageStore({ ...options, logger });
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'image store shutting down');
    await store.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  if (err instanceof ConfigError || err instanceof ImageStoreEnvError) console.error(err.message);
  else logger.fatal({ err }, 'image store failed to start');
  process.exit(1);
});
