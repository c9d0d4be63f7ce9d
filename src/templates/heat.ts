/**
 * The Heat (HOT) template for a VM, shaped after the seed's template: an OS::Nova::Server on an
 * OS::Neutron::Port, booted with an OS::Heat::CloudConfig whose `cloud_config.packages` lists the
 * requested software, plus an OS::Nova::KeyPair when public keys are given. Pure and
 * deterministic: the same input gives a byte-identical template, so workflow code may render it.
 */
import { z } from 'zod';
import { type Catalog, zodFieldErrors } from '../catalog';
import { USER_DATA_FIELD, buildCloudConfig, cloudConfigText, userDataProblem } from './cloudConfig';
import { CloudSettingsError } from './settingsError';
import { toYaml } from './yamlText';
import { RequirementsError, type ResolvedRequirements, resolveRequirements } from './requirements';

/** The newest template version CLOUD_APIS.md lists (Wallaby); its functions cover all we use. */
export const HEAT_TEMPLATE_VERSION = '2021-04-16';

/** Metadata keys set on every server vmflow creates; how vmflow recognises its own VMs. */
export const VMFLOW_METADATA = {
  managed: 'vmflow.managed',
  name: 'vmflow.name',
  os: 'vmflow.os',
  size: 'vmflow.size',
} as const;

const nonEmpty = z.string().trim().min(1, 'must not be empty').max(255, 'must be at most 255 characters');

export const heatCloudSettingsSchema = z.strictObject({
  /** Neutron network (name or id) the port is created on. */
  network: nonEmpty,
  /** An existing Nova key pair, used when the request carries no public keys. */
  keyName: nonEmpty.optional(),
  /** Glance image (name or id) instead of the catalog's image name for the OS. */
  imageOverride: nonEmpty.optional(),
  /** Nova flavor (name or id) instead of the catalog's flavor name for the size. */
  flavorOverride: nonEmpty.optional(),
  securityGroups: z.array(nonEmpty).max(20).optional(),
  /** Extra server metadata (e.g. owner, workflow id); vmflow's own keys cannot be overridden. */
  metadata: z.record(nonEmpty, z.string().max(255, 'must be at most 255 characters')).optional(),
});
export type HeatCloudSettings = z.input<typeof heatCloudSettingsSchema>;

export interface HotParameter {
  type: 'string';
  label: string;
  description: string;
  default: string;
}
export interface HotResource {
  type: string;
  properties: Record<string, unknown>;
}
export interface HotOutput {
  description: string;
  value: unknown;
}
export interface HotTemplate {
  heat_template_version: string;
  description: string;
  parameters: Record<string, HotParameter>;
  resources: Record<string, HotResource>;
  outputs: Record<string, HotOutput>;
}

export interface RenderedHeatTemplate {
  template: HotTemplate;
  /** The template as YAML, ready for `POST /v1/{tenant}/stacks {template}`. */
  text: string;
  /** Values for the stack's `parameters` (the same as the template's defaults). */
  parameters: Record<string, string>;
}

/** Logical resource names in the template; outputs and callers refer to them. */
export const HEAT_RESOURCES = { keyPair: 'key_pair', port: 'port', cloudConfig: 'cloud_config', server: 'server' } as const;

function parseSettings(settings: unknown): z.output<typeof heatCloudSettingsSchema> {
  const parsed = heatCloudSettingsSchema.safeParse(settings);
  if (!parsed.success) throw new CloudSettingsError(zodFieldErrors(parsed.error, 'settings'));
  return parsed.data;
}

function parameterValues(resolved: ResolvedRequirements, settings: z.output<typeof heatCloudSettingsSchema>): Record<string, string> {
  const values: Record<string, string> = {
    image: settings.imageOverride ?? resolved.os.images.openstack.imageName,
    flavor: settings.flavorOverride ?? resolved.size.openstack.flavorName,
    network: settings.network,
  };
  if (!resolved.req.sshPublicKeys?.length && settings.keyName) values.key_name = settings.keyName;
  return values;
}

/**
 * Renders the HOT template. Throws RequirementsError for requirements the catalog refuses or
 * whose user data exceeds Nova's limit, CloudSettingsError for bad settings.
 */
export function renderHeatTemplate(req: unknown, catalog: Catalog, settings: HeatCloudSettings): RenderedHeatTemplate {
  const resolved = resolveRequirements(req, catalog);
  const cloudSettings = parseSettings(settings);
  const cloudConfig = buildCloudConfig(resolved);
  const problem = userDataProblem(cloudConfigText(cloudConfig), 'openstack');
  if (problem) throw new RequirementsError([{ field: USER_DATA_FIELD, message: problem }]);

  const { req: r, os, size } = resolved;
  const values = parameterValues(resolved, cloudSettings);
  const R = HEAT_RESOURCES;

  const parameters: Record<string, HotParameter> = {
    image: { type: 'string', label: 'Image', description: `Glance image for ${os.displayName}`, default: values.image! },
    flavor: { type: 'string', label: 'Flavor', description: `Nova flavor for size ${size.id} (${size.vcpus} vCPU, ${size.ramMiB} MiB RAM, ${size.diskGiB} GiB disk)`, default: values.flavor! },
    network: { type: 'string', label: 'Network', description: 'Neutron network for the server port', default: values.network! },
  };
  if (values.key_name) parameters.key_name = { type: 'string', label: 'Key pair', description: 'Existing Nova key pair for the default user', default: values.key_name };

  const resources: Record<string, HotResource> = {};
  let keyName: unknown;
  const firstKey = r.sshPublicKeys?.[0];
  if (firstKey) {
    // Nova injects one key pair; every key (this one included) is also in the cloud-config.
    resources[R.keyPair] = {
      type: 'OS::Nova::KeyPair',
      properties: { name: { list_join: ['-', [{ get_param: 'OS::stack_name' }, 'key']] }, public_key: firstKey },
    };
    keyName = { get_resource: R.keyPair };
  } else if (values.key_name) {
    keyName = { get_param: 'key_name' };
  }

  resources[R.port] = {
    type: 'OS::Neutron::Port',
    properties: {
      network: { get_param: 'network' },
      ...(cloudSettings.securityGroups?.length ? { security_groups: [...cloudSettings.securityGroups] } : {}),
    },
  };
  resources[R.cloudConfig] = { type: 'OS::Heat::CloudConfig', properties: { cloud_config: cloudConfig } };
  resources[R.server] = {
    type: 'OS::Nova::Server',
    properties: {
      name: r.name,
      image: { get_param: 'image' },
      flavor: { get_param: 'flavor' },
      ...(keyName ? { key_name: keyName } : {}),
      networks: [{ port: { get_resource: R.port } }],
      user_data_format: 'SOFTWARE_CONFIG',
      user_data: { get_resource: R.cloudConfig },
      metadata: {
        ...(cloudSettings.metadata ?? {}),
        [VMFLOW_METADATA.managed]: 'true',
        [VMFLOW_METADATA.name]: r.name,
        [VMFLOW_METADATA.os]: os.id,
        [VMFLOW_METADATA.size]: size.id,
      },
    },
  };

  const softwareList = resolved.software.map((s) => s.id).join(', ') || 'none';
  const template: HotTemplate = {
    heat_template_version: HEAT_TEMPLATE_VERSION,
    description: `vmflow VM ${r.name}: ${os.displayName}, size ${size.id}, software: ${softwareList}`,
    parameters,
    resources,
    outputs: {
      server_id: { description: 'Nova server id', value: { get_resource: R.server } },
      first_address: { description: 'First IP address of the server', value: { get_attr: [R.server, 'first_address'] } },
      addresses: { description: 'All addresses of the server, by network', value: { get_attr: [R.server, 'addresses'] } },
      name: { description: 'Server name', value: { get_attr: [R.server, 'name'] } },
    },
  };
  return { template, text: toYaml(template), parameters: values };
}

/** The `parameters` for the stack-create call (image, flavor, network and, if used, key_name). */
export function stackParameters(req: unknown, catalog: Catalog, settings: HeatCloudSettings): Record<string, string> {
  return parameterValues(resolveRequirements(req, catalog), parseSettings(settings));
}
