import { type FieldError, describeFieldErrors } from '../catalog';

/**
 * Thrown when the cloud-side settings a renderer is given (network, zone, name→id maps) are
 * unusable. Unlike RequirementsError it is not the user's fault: the API answers it as a server
 * or configuration problem, and an activity fails non-retryably with it.
 */
export class CloudSettingsError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid cloud settings: ${describeFieldErrors(errors)}`);
    this.name = 'CloudSettingsError';
  }
}
