/** Removing a VM's drill schedule (`vm-drill:<vmId>`), for deleteVm and withdrawal. */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { drillScheduleId } from '../contracts/dr';

/** Idempotent: true when there was a schedule to delete. */
export async function deleteDrillSchedule(client: Client, vmId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(drillScheduleId(vmId)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
