/**
 * An image store for a suite (src/imagestore): its own directory and secrets (registered so they
 * never reach a log unredacted), the client a test reads it with, and the worker's dependency on it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActivityDeps } from '../../activities';
import { ImageStoreClient, startImageStore, type RunningImageStore } from '../../src/imagestore';
import { registerTestSecret, testLogger } from './secrets';

export interface TestImageStore {
  store: RunningImageStore;
  client: ImageStoreClient;
  /** The worker's `imageStore` dependency. */
  deps: NonNullable<ActivityDeps['imageStore']>;
  stop(): Promise<void>;
}

export async function startTestImageStore(name: string): Promise<TestImageStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vmflow-${name}-store-`));
  const token = crypto.randomBytes(24).toString('base64url');
  const signingSecret = crypto.randomBytes(32).toString('base64url');
  for (const s of [token, signingSecret]) registerTestSecret(s);
  const store = await startImageStore({ dir, serviceToken: token, signingSecret, logger: testLogger('imagestore') });
  const client = new ImageStoreClient({ baseUrl: store.url, serviceToken: token });
  return {
    store,
    client,
    deps: { client, publicBaseUrl: store.url, signingSecret },
    async stop() {
      await store.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
