/**
 * The cloud-init `#cloud-config` document for a VM: packages in the OS family's names, extra users,
 * SSH keys, commands. Both clouds boot it: Heat passes it through OS::Heat::CloudConfig, CloudStack
 * as base64 `userdata`. Pure and deterministic (same input → byte-identical text), so Temporal
 * workflow code may call it.
 */
import type { Catalog } from '../catalog';
import { base64Length, utf8Length } from './encoding';
import { toYaml } from './yamlText';
import { type CloudKind, type ResolvedRequirements, resolveRequirements } from './requirements';

/** A user entry as cloud-init's `users` module reads it. */
export interface CloudInitUser {
  name: string;
  groups?: string[];
  sudo?: string;
  shell: string;
  lock_passwd: boolean;
  ssh_authorized_keys?: string[];
}

/** The subset of cloud-config this product writes; key order is the order of the rendered text. */
export interface CloudConfigDocument {
  package_update: boolean;
  packages?: string[];
  ssh_authorized_keys?: string[];
  /** `default` keeps the image's own login user alongside the extra ones. */
  users?: (string | CloudInitUser)[];
  runcmd?: string[];
}

export interface RenderedCloudConfig {
  document: CloudConfigDocument;
  /** `#cloud-config\n` + YAML, what cloud-init reads from user data. */
  text: string;
}

const SUDO_NOPASSWD = 'ALL=(ALL) NOPASSWD:ALL';

export function buildCloudConfig(resolved: ResolvedRequirements): CloudConfigDocument {
  const { req, packages } = resolved;
  const doc: CloudConfigDocument = { package_update: req.packagesUpdate ?? packages.length > 0 };
  if (packages.length) doc.packages = [...packages];
  if (req.sshPublicKeys?.length) doc.ssh_authorized_keys = [...req.sshPublicKeys];
  if (req.users?.length) {
    doc.users = [
      'default',
      ...req.users.map((u) => {
        const user: CloudInitUser = {
          name: u.name,
          ...(u.groups?.length ? { groups: [...u.groups] } : {}),
          ...(u.sudo ? { sudo: SUDO_NOPASSWD } : {}),
          shell: '/bin/bash',
          lock_passwd: true,
          ...(u.sshPublicKeys?.length ? { ssh_authorized_keys: [...u.sshPublicKeys] } : {}),
        };
        return user;
      }),
    ];
  }
  if (req.runcmd?.length) doc.runcmd = [...req.runcmd];
  return doc;
}

export function cloudConfigText(doc: CloudConfigDocument): string {
  return `#cloud-config\n${toYaml(doc)}`;
}

/** Validates `req` against the catalog (throws RequirementsError) and renders its cloud-config. */
export function renderCloudConfig(req: unknown, catalog: Catalog): RenderedCloudConfig {
  return renderResolvedCloudConfig(resolveRequirements(req, catalog));
}

export function renderResolvedCloudConfig(resolved: ResolvedRequirements): RenderedCloudConfig {
  const document = buildCloudConfig(resolved);
  return { document, text: cloudConfigText(document) };
}

// --- user-data size limits -------------------------------------------------------------------

/** Nova refuses `user_data` longer than this once base64-encoded. */
export const NOVA_USER_DATA_MAX_BYTES = 65535;
/**
 * With user_data_format SOFTWARE_CONFIG, Heat wraps our cloud-config in a MIME multipart message
 * with its own parts (cloud-config, boothook, part-handler, cfn-init-data metadata, watch URL)
 * before Nova sees it. This allowance for those parts is an estimate on the safe side.
 */
export const HEAT_WRAPPER_ALLOWANCE_BYTES = 8192;
/**
 * CloudStack's `vm.userdata.max.length` default; deployVirtualMachine must send user data by
 * POST beyond 4 KB (GET query strings are limited to that).
 */
export const CLOUDSTACK_USER_DATA_DEFAULT_MAX_BYTES = 32768;

/** Field name used for errors about the rendered user data as a whole. */
export const USER_DATA_FIELD = 'userData';

export interface UserDataLimitOptions {
  /** CloudStack's configured `vm.userdata.max.length` (base64 bytes). */
  cloudstackMaxBytes?: number;
}

/** Bytes the cloud counts against its limit for this cloud-config text. */
export function userDataSize(text: string, cloud: CloudKind): number {
  const bytes = utf8Length(text);
  if (cloud === 'cloudstack') return base64Length(bytes);
  // Python's MIMEText keeps ASCII as 7bit but base64-encodes a part with other characters.
  const inMime = /^\p{ASCII}*$/u.test(text) ? bytes : base64Length(bytes);
  return base64Length(inMime + HEAT_WRAPPER_ALLOWANCE_BYTES);
}

/** Why the rendered cloud-config is too big for `cloud`, or undefined when it fits. */
export function userDataProblem(text: string, cloud: CloudKind, options: UserDataLimitOptions = {}): string | undefined {
  const size = userDataSize(text, cloud);
  const hint = 'shorten runcmd, or give fewer users or SSH keys';
  if (cloud === 'openstack') {
    if (size <= NOVA_USER_DATA_MAX_BYTES) return undefined;
    return (
      `the cloud-init user data would be ${size} bytes once Heat wraps it (SOFTWARE_CONFIG) and it is base64-encoded ` +
      `(cloud-config itself: ${utf8Length(text)} bytes); OpenStack Nova accepts at most ${NOVA_USER_DATA_MAX_BYTES} bytes of user_data: ${hint}`
    );
  }
  const max = options.cloudstackMaxBytes ?? CLOUDSTACK_USER_DATA_DEFAULT_MAX_BYTES;
  if (size <= max) return undefined;
  return `the cloud-init user data is ${size} bytes base64-encoded; CloudStack accepts at most ${max} bytes (vm.userdata.max.length): ${hint}`;
}
