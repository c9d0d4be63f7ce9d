/**
 * Rebuilds a VM's backup catalog after vmflow's database lost it (issue 16, item 6):
 *
 *   npm run catalog -- rebuild <vmId>
 *
 * Reads the catalog entries kept beside the VM's images in the image store (IMAGE_STORE_URL and
 * its token, as the worker has them), checks each backup's Glance image in the base cloud, and
 * writes back the records the database (MONGODB_URI, or a running `npm start`'s FerretDB) lacks.
 * Prints what it restored, found present and skipped. Exit code 0, or 1 on an error, 2 on usage.
 */
import { CloudApiError } from '../src/clouds/errors';
import { rebuildBackupCatalog } from '../src/backups/catalog-store';
import { CloudAccountResolver } from '../src/cloud-accounts/resolver';
import { ConfigError, loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connection';
import { ImageStoreClient, imageStoreOptionsFromEnv } from '../src/imagestore';
import { logger } from '../src/logger';
import { OutboundGuard } from '../src/outbound/guard';
import { loadKeyring } from '../src/secrets/keyring';

const USAGE = 'usage: npm run catalog -- rebuild <vmId>';

export async function main(argv: string[], out: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const [command, vmId] = argv;
  if (command !== 'rebuild' || !vmId) {
    out(USAGE);
    return 2;
  }
  const config = loadConfig();
  const log = logger.child({ component: 'catalog' });
  const keyring = loadKeyring(config, log);
  const db = await connectDatabase(config.mongodbTarget);
  try {
    const storeUrl = config.imageStoreUrl ?? `http://127.0.0.1:${config.imageStorePort}`;
    const store = new ImageStoreClient({ baseUrl: storeUrl, serviceToken: imageStoreOptionsFromEnv().options.serviceToken });
    const clouds = new CloudAccountResolver({ db, keyring, logger: log, outbound: new OutboundGuard({ allow: config.outboundAllow }) });
    const result = await rebuildBackupCatalog({ db, store, vmId, imageExists: imageExistsVia(clouds) });
    out(`restored ${result.restored.length}: ${result.restored.join(', ') || '-'}`);
    out(`present  ${result.present.length}: ${result.present.join(', ') || '-'}`);
    for (const s of result.skipped) out(`skipped  ${s.key}: ${s.reason}`);
    return 0;
  } finally {
    await db.close();
  }
}

/** Whether the base cloud still has the image (404 → no; any other failure is an error). */
export function imageExistsVia(clouds: CloudAccountResolver): (accountId: string, imageId: string) => Promise<boolean> {
  return async (accountId, imageId) => {
    const os = await clouds.openstack(accountId);
    try {
      const image = await os.image.getImage(imageId);
      return image.status !== 'deleted' && image.status !== 'killed';
    } catch (err) {
      if (err instanceof CloudApiError && err.status === 404) return false;
      throw err;
    }
  };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ConfigError) console.error(err.message);
      else console.error(`catalog rebuild failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
