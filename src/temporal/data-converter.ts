/**
 * The data converter shared by every Temporal client and worker of vmflow. Keeping it in one place
 * guarantees that what the API encodes the worker can decode (and vice versa).
 */
import type { DataConverter } from '@temporalio/common';

export function createDataConverter(): DataConverter {
  return {};
}
