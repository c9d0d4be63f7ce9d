/**
 * The one validation the REST edge needs: schema, catalog and user-data size together, answering
 * `{ok: true, value}` or `{ok: false, errors: [{field, message}]}`. Pure.
 */
import type { Catalog } from '../catalog';
import { USER_DATA_FIELD, type UserDataLimitOptions, renderResolvedCloudConfig, userDataProblem } from './cloudConfig';
import { type RequirementsResult, checkRequirements } from './requirements';

export function validateRequirements(input: unknown, catalog: Catalog, options: UserDataLimitOptions = {}): RequirementsResult {
  const checked = checkRequirements(input, catalog);
  if (!checked.ok) return checked;
  const { text } = renderResolvedCloudConfig(checked.resolved);
  const problem = userDataProblem(text, checked.resolved.req.cloud, options);
  if (problem) return { ok: false, errors: [{ field: USER_DATA_FIELD, message: problem }] };
  return { ok: true, value: checked.resolved.req };
}
