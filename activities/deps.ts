import type { Connection } from 'mongoose';
import type { Logger } from '../src/logger';

/** What activities are built from (samples-typescript's createActivities(deps) factory pattern). */
export interface ActivityDeps {
  db: Connection;
  logger: Logger;
}
