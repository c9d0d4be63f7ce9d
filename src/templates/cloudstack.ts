/**
 * The CloudStack `deployVirtualMachine` parameters for a VM: the catalog's template and
 * service-offering *names* resolved to ids through maps the caller built by listing them on the
 * cloud (listTemplates / listServiceOfferings), and the same cloud-config as on OpenStack, base64
 * encoded as `userdata`. Pure and deterministic, so workflow code may render it.
 */
import { z } from 'zod';
import { type Catalog, zodFieldErrors } from '../catalog';
import { USER_DATA_FIELD, buildCloudConfig, cloudConfigText, userDataProblem } from './cloudConfig';
import { base64EncodeText } from './encoding';
import { CloudSettingsError } from './settingsError';
import { RequirementsError, resolveRequirements } from './requirements';

const nonEmpty = z.string().trim().min(1, 'must not be empty');

export const cloudStackDeploySettingsSchema = z.strictObject({
  zoneId: nonEmpty,
  networkIds: z.array(nonEmpty).max(16).optional(),
  /** Template name → id, as listed in the zone; looked up with the catalog's template name. */
  templateIdByName: z.record(z.string(), nonEmpty).optional(),
  /** Service-offering name → id; looked up with the catalog's offering name. */
  offeringIdByName: z.record(z.string(), nonEmpty).optional(),
  /** A template id that wins over the catalog (e.g. one registered from a backup image URL). */
  templateId: nonEmpty.optional(),
  /** A service-offering id that wins over the catalog. */
  serviceOfferingId: nonEmpty.optional(),
  keypair: nonEmpty.optional(),
  /** false deploys the VM Stopped (the standby backup VM of UC-008); default true. */
  startVm: z.boolean().optional(),
  /**
   * false leaves out `userdata`, e.g. for a VM restored from an image of an already configured
   * machine; default true.
   */
  includeUserData: z.boolean().optional(),
  /** The cloud's `vm.userdata.max.length` (base64 bytes); default 32768. */
  userDataMaxBytes: z.number().int().min(1).optional(),
});
export type CloudStackDeploySettings = z.input<typeof cloudStackDeploySettingsSchema>;

/** deployVirtualMachine request parameters; CloudStack takes every value as a string. */
export interface CloudStackDeployParams {
  name: string;
  displayname: string;
  templateid: string;
  serviceofferingid: string;
  zoneid: string;
  /** base64 of the `#cloud-config` text (send by POST: GET limits it to 4 KB). */
  userdata?: string;
  startvm: 'true' | 'false';
  keypair?: string;
  /** Comma-separated network ids. */
  networkids?: string;
}

/**
 * Throws RequirementsError for requirements the catalog refuses or whose user data is over the
 * limit, CloudSettingsError for bad settings or a template/offering name missing from the maps.
 */
export function renderCloudStackDeploy(req: unknown, catalog: Catalog, settings: CloudStackDeploySettings): CloudStackDeployParams {
  const resolved = resolveRequirements(req, catalog);
  const parsed = cloudStackDeploySettingsSchema.safeParse(settings);
  if (!parsed.success) throw new CloudSettingsError(zodFieldErrors(parsed.error, 'settings'));
  const s = parsed.data;
  const { req: r, os, size } = resolved;

  const templateName = os.images.cloudstack.templateName;
  const offeringName = size.cloudstack.serviceOfferingName;
  const templateId = s.templateId ?? lookup(s.templateIdByName, templateName);
  const offeringId = s.serviceOfferingId ?? lookup(s.offeringIdByName, offeringName);
  const missing = [
    ...(templateId ? [] : [{ field: 'settings.templateIdByName', message: `has no template named "${templateName}" (the catalog's CloudStack template for ${os.id}); register it or map the name in the catalog` }]),
    ...(offeringId ? [] : [{ field: 'settings.offeringIdByName', message: `has no service offering named "${offeringName}" (the catalog's offering for size ${size.id}); create it or map the name in the catalog` }]),
  ];
  if (missing.length) throw new CloudSettingsError(missing);

  const params: CloudStackDeployParams = {
    name: r.name,
    displayname: r.name,
    templateid: templateId!,
    serviceofferingid: offeringId!,
    zoneid: s.zoneId,
    startvm: s.startVm === false ? 'false' : 'true',
  };
  if (s.includeUserData !== false) {
    const text = cloudConfigText(buildCloudConfig(resolved));
    const problem = userDataProblem(text, 'cloudstack', { cloudstackMaxBytes: s.userDataMaxBytes });
    if (problem) throw new RequirementsError([{ field: USER_DATA_FIELD, message: problem }]);
    params.userdata = base64EncodeText(text);
  }
  if (s.keypair) params.keypair = s.keypair;
  if (s.networkIds?.length) params.networkids = s.networkIds.join(',');
  return params;
}

/** Own-property lookup, so a name like "constructor" never hits Object.prototype. */
function lookup(map: Record<string, string> | undefined, name: string): string | undefined {
  return map && Object.prototype.hasOwnProperty.call(map, name) ? map[name] : undefined;
}
