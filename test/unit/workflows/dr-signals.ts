/** drVm's signals and updates as a client sends them (names from the DR contract). */
import { defineSignal } from '@temporalio/workflow';
import { DR_SIGNALS, type CloudHealthSignal, type DrLeftoverSignal, type VmHealthSignal } from '../../../src/contracts/dr';

export { approveFailbackUpdate, failbackUpdate, failoverUpdate } from '../../../src/contracts/dr';
export const cloudHealthSignal = defineSignal<[CloudHealthSignal]>(DR_SIGNALS.cloudHealth);
export const vmHealthSignal = defineSignal<[VmHealthSignal]>(DR_SIGNALS.vmHealth);
export const leftoverSignal = defineSignal<[DrLeftoverSignal]>(DR_SIGNALS.leftover);
