/**
 * The system a disaster-recovery suite drives end to end: the shared simulators, an image store on
 * port 0, the API and a worker on the same task queue, with a one-second monitor (three failed
 * checks to fail over, two good ones to recover), one-second DR health ticks and fast polls.
 * Suites that need alerts pass the webhook to deliver them to.
 */
import { startApiAndWorker } from './api-worker';
import type { ImageStoreClient, RunningImageStore } from '../../src/imagestore';
import type { TestApi } from './api';
import { sharedClouds, type TestClouds } from './clouds';
import { startTestImageStore } from './image-store';
import { isolatedPlace } from './stack';
import type { TestWorker } from './temporal';

export interface DrSystem {
  clouds: TestClouds;
  api: TestApi;
  tw: TestWorker;
  store: RunningImageStore;
  /** The worker's client of the store (its service token). */
  storeClient: ImageStoreClient;
  stop(): Promise<void>;
}

/**
 * `isolated`: the system gets a Temporal namespace and a database of its own, for a suite that
 * counts the whole fleet (otherwise the DR workflows earlier suites left on the shared task queue
 * run on this worker and change the counts).
 */
export async function startDrSystem(opts: { alerts?: { webhookUrl: string; webhookSecret: string }; isolated?: boolean } = {}): Promise<DrSystem> {
  const clouds = await sharedClouds();
  const place = opts.isolated ? await isolatedPlace('dr-system') : undefined;
  const images = await startTestImageStore('dr');
  const { api, tw } = await startApiAndWorker({
    env: {
      ...clouds.env,
      VMFLOW_MONITOR_INTERVAL_SECONDS: '1',
      VMFLOW_MONITOR_FAILURE_THRESHOLD: '3',
      VMFLOW_MONITOR_SUCCESS_THRESHOLD: '2',
      VMFLOW_DR_HEALTH_CHECK_SECONDS: '1',
      VMFLOW_BACKUP_MIN_INTERVAL_SECONDS: '1',
    },
    ...(place ? { place } : {}),
    cloudTimeoutMs: 3000,
    deps: {
      imageStore: images.deps,
      ...(opts.alerts ? { alerts: opts.alerts } : {}),
    },
  });
  return {
    clouds,
    api,
    tw,
    store: images.store,
    storeClient: images.client,
    async stop() {
      await tw.stop();
      await api.close();
      await images.stop();
    },
  };
}
