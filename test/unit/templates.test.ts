import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { type Catalog, DEFAULT_CATALOG, mergeCatalog } from '../../src/catalog';
import {
  type HotTemplate,
  CloudSettingsError,
  NOVA_USER_DATA_MAX_BYTES,
  RequirementsError,
  base64Decode,
  base64Encode,
  base64EncodeText,
  renderCloudConfig,
  renderCloudStackDeploy,
  renderHeatTemplate,
  stackParameters,
  utf8Encode,
  validateRequirements,
} from '../../src/templates';

// Public keys made with ssh-keygen for these tests (no private halves are kept anywhere).
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOurijc4mUELnbFZcqiuhcGD1++5Oct/5fTsMc4SZy2 alice@example';
const RSA_3072 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCInOAu+VfUyHOW2VClIFHOoW1HZXL4mGLXtt+HH6C6G92ApJXV02jSFGxQtHWfyG5iEJ0l3rESzqzxaGGZ2FoR7rPcgHeBbpDRnrVRfzaaCjqSZix8wXukVloN0z9/Cd2tXLuH5kPgTN0OS7MZY1OKhwuIkRv43gp9OjF0y0cfllQ90xUImg/zGHoG4N2ud24T0896LPD6kD7z0S2ZCy9YqgY/TCNIofxm7efRPKorkKX5Ry9wLKLoYs1N2PWbvjj+A1/FK0bEwDz8YccrXZcxqLktn50UiEhC2/U6Bq4tDsAmuhxSjNAAIHobJhW5ZuJuCTx14cwxaWcU0ig0y0VxXHyu08PJMLY6J5wsr5hSq51+lL3ZcgdTj5mx7gLaYFNsP0C5Bb2gH6+7yqX70+KaHOHwaTIWNVYUuXmDxGIyvLiWRmzTh+asbLae1GhFlFYR5C3sRx/fuGGujAYeVw0v+OIJF/PiLLN8DOTo+HZyAXzgmeeIVhc0kCo+cl1wDls= bob@example';
const ECDSA_256 =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBExFHBQfifUElPlr3RcZ7pcJD6euXTrABFCMSz9OWiqQBrCCngjlpI8zNSN0SNpktJaJpXx3FIitybQkC3q5r0U= carol';
const RSA_1024 =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDHzXmSVRT+698aRiI3B1z/lpFC3g9j9RM8Ix3DC18AHumO+motxhHAuC5j2EFoigZtZ4t7VYZMEOh0tZrxUh9zivPZ/gLgOLeBsOExRx9imEoCtcsPcdgAQw7C+WrJtEGalTfBKuUwiQJ0iLYFTtoV2vLQsF618ywYhh+Y8sFdRQ== root@vm';

/** The seed's example (UC-006): Ubuntu with vim, filezilla, ftp, default-jdk and synaptic. */
const SEED = {
  name: 'seed-vm',
  os: 'ubuntu-24.04',
  software: ['vim', 'filezilla', 'ftp', 'jdk', 'synaptic'],
  size: 'small',
  cloud: 'openstack',
} as const;

const HEAT = { network: 'private' };
const CS = {
  zoneId: 'zone-1',
  templateIdByName: { 'Ubuntu 24.04 LTS': 'tpl-ubuntu-2404', 'Fedora 41': 'tpl-fedora-41' },
  offeringIdByName: { 'Small Instance': 'off-small', 'Medium Instance': 'off-medium' },
};

function errorsOf(input: unknown, catalog: Catalog = DEFAULT_CATALOG) {
  const result = validateRequirements(input, catalog);
  assert.equal(result.ok, false, 'expected the requirements to be refused');
  return result.ok ? [] : result.errors;
}

function fieldsOf(input: unknown, catalog: Catalog = DEFAULT_CATALOG) {
  return errorsOf(input, catalog).map((e) => e.field);
}

function thrown<T extends Error>(type: new (...args: never[]) => T, fn: () => unknown): T {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${type.name}`);
}

/**
 * Every intrinsic-function reference in a HOT template must name something the template declares:
 * get_resource/get_attr a resource, get_param a parameter or a Heat pseudo-parameter.
 */
function undeclaredReferences(template: HotTemplate): string[] {
  const resources = new Set(Object.keys(template.resources ?? {}));
  const params = new Set(Object.keys(template.parameters ?? {}));
  const pseudo = new Set(['OS::stack_name', 'OS::stack_id', 'OS::project_id']);
  const problems: string[] = [];
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`));
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'get_resource' && !(typeof value === 'string' && resources.has(value))) problems.push(`${where}: get_resource ${JSON.stringify(value)}`);
      if (key === 'get_attr') {
        const target = Array.isArray(value) ? value[0] : undefined;
        if (!(typeof target === 'string' && resources.has(target))) problems.push(`${where}: get_attr ${JSON.stringify(value)}`);
      }
      if (key === 'get_param') {
        const name = Array.isArray(value) ? value[0] : value;
        if (!(typeof name === 'string' && (params.has(name) || pseudo.has(name)))) problems.push(`${where}: get_param ${JSON.stringify(value)}`);
      }
      walk(value, `${where}.${key}`);
    }
  };
  walk(template.resources, 'resources');
  walk(template.outputs, 'outputs');
  return problems;
}

/** cloud-init and Heat read YAML with PyYAML, i.e. YAML 1.1; the tests parse the same way. */
const parseYaml = (text: string) => parse(text, { version: '1.1' }) as unknown;

describe('VM requirements validation', () => {
  it('when the seed example is validated, then it is accepted and software defaults to an empty list when omitted', () => {
    const result = validateRequirements(SEED, DEFAULT_CATALOG);
    assert.ok(result.ok);
    assert.deepEqual(result.value.software, SEED.software);
    const minimal = validateRequirements({ name: 'bare', os: 'fedora-41', size: 'medium', cloud: 'cloudstack' }, DEFAULT_CATALOG);
    assert.ok(minimal.ok);
    assert.deepEqual(minimal.value.software, []);
  });

  it('when software is unavailable on the chosen OS, then it is refused naming software[i] and the reason', () => {
    const errors = errorsOf({ ...SEED, os: 'fedora-41', software: ['vim', 'jdk', 'synaptic'] });
    assert.deepEqual(errors.map((e) => e.field), ['software[2]']);
    assert.match(errors[0]!.message, /Synaptic.*not available on Fedora 41.*apt/);
    assert.deepEqual(fieldsOf({ ...SEED, os: 'centos-stream-9', software: ['filezilla', 'git', 'docker'] }), ['software[0]', 'software[2]']);
  });

  it('when the OS, size or software is not in the catalog, then each is refused naming its field and listing the choices', () => {
    const errors = errorsOf({ ...SEED, os: 'windows-11', size: 'gigantic', software: ['vim', 'emacs'] });
    assert.deepEqual(errors.map((e) => e.field).sort(), ['os', 'size', 'software[1]']);
    assert.match(errors.find((e) => e.field === 'os')!.message, /unknown operating system "windows-11".*ubuntu-24\.04/);
    assert.match(errors.find((e) => e.field === 'size')!.message, /unknown size "gigantic".*small, medium, large, xlarge/);
  });

  it('when required fields are missing or of the wrong type, then each is named', () => {
    assert.deepEqual(fieldsOf({ name: 'x' }).sort(), ['cloud', 'os', 'size']);
    assert.deepEqual(fieldsOf({ ...SEED, cloud: 'aws', packagesUpdate: 'yes' }).sort(), ['cloud', 'packagesUpdate']);
    assert.deepEqual(fieldsOf('not an object'), ['']);
  });

  it('when the name is not a hostname label, then it is refused; a 63-character label is accepted', () => {
    for (const bad of ['', '1vm', '-vm', 'vm-', 'my_vm', 'vm.example', 'a'.repeat(64)]) {
      assert.deepEqual(fieldsOf({ ...SEED, name: bad }), ['name'], bad);
    }
    assert.ok(validateRequirements({ ...SEED, name: `a${'b'.repeat(61)}c` }, DEFAULT_CATALOG).ok);
  });

  it('when software is listed twice or an unknown field is sent, then both are named', () => {
    assert.deepEqual(fieldsOf({ ...SEED, software: ['vim', 'ftp', 'vim'], flavor: 'm1.tiny' }).sort(), ['flavor', 'software[2]']);
  });

  it('when an SSH public key is malformed, then it is refused naming the key', () => {
    const ed25519Body = ED25519.split(' ')[1]!;
    const cases: [string, RegExp][] = [
      ['AAAAC3NzaC1lZDI1NTE5', /expected "<type> <base64>/],
      ['not a key', /unsupported key type "not"/],
      ['ssh-dss AAAAB3NzaC1kc3MAAACBAP', /unsupported key type "ssh-dss"/],
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOurijc4mUEL', /base64|truncated/],
      [`ssh-rsa ${ed25519Body} mislabelled`, /says "ssh-rsa" but its key body is a "ssh-ed25519" key/],
      [RSA_1024, /1024-bit RSA key; at least 2048/],
      [`${ED25519}\nssh-ed25519 AAAA`, /single line/],
      ['-----BEGIN OPENSSH PRIVATE KEY----- abc', /PEM/],
    ];
    for (const [key, message] of cases) {
      const errors = errorsOf({ ...SEED, sshPublicKeys: [ED25519, key] });
      assert.deepEqual(errors.map((e) => e.field), ['sshPublicKeys[1]'], key);
      assert.match(errors[0]!.message, message, key);
    }
    assert.deepEqual(fieldsOf({ ...SEED, users: [{ name: 'dev', sshPublicKeys: ['ssh-rsa AAAA'] }] }), ['users[0].sshPublicKeys[0]']);
  });

  it('when valid ed25519, RSA and ECDSA keys are given, then they are accepted with whitespace normalised', () => {
    const result = validateRequirements({ ...SEED, sshPublicKeys: [`  ${ED25519.replace(' ', '   ')}  `, RSA_3072, ECDSA_256] }, DEFAULT_CATALOG);
    assert.ok(result.ok);
    assert.deepEqual(result.value.sshPublicKeys, [ED25519, RSA_3072, ECDSA_256]);
  });

  it('when extra users are root, the image default user, duplicated or badly named, then each is refused naming the field', () => {
    assert.deepEqual(fieldsOf({ ...SEED, users: [{ name: 'root' }] }), ['users[0].name']);
    const errors = errorsOf({ ...SEED, users: [{ name: 'dev' }, { name: 'ubuntu' }] });
    assert.deepEqual(errors.map((e) => e.field), ['users[1].name']);
    assert.match(errors[0]!.message, /default user/);
    assert.deepEqual(fieldsOf({ ...SEED, users: [{ name: 'dev' }, { name: 'dev' }] }), ['users[1]']);
    assert.deepEqual(fieldsOf({ ...SEED, users: [{ name: 'Dev', groups: ['wheel', 'Bad Group'] }] }).sort(), ['users[0].groups[1]', 'users[0].name']);
  });

  it('when runcmd exceeds its count or length bounds or has control characters, then it is refused', () => {
    assert.deepEqual(fieldsOf({ ...SEED, runcmd: Array.from({ length: 65 }, (_, i) => `echo ${i}`) }), ['runcmd']);
    assert.deepEqual(fieldsOf({ ...SEED, runcmd: ['ok', 'x'.repeat(4097)] }), ['runcmd[1]']);
    assert.deepEqual(fieldsOf({ ...SEED, runcmd: ['echo \u0007bell'] }), ['runcmd[0]']);
  });

  it('when the rendered user data would exceed Nova\'s 65535-byte limit, then it is refused with a clear message', () => {
    const runcmd = Array.from({ length: 64 }, (_, i) => `echo ${String(i).padStart(2, '0')} ${'x'.repeat(900)}`);
    const errors = errorsOf({ ...SEED, runcmd });
    assert.deepEqual(errors.map((e) => e.field), ['userData']);
    assert.match(errors[0]!.message, new RegExp(`at most ${NOVA_USER_DATA_MAX_BYTES} bytes of user_data`));
    assert.match(errors[0]!.message, /shorten runcmd/);
    const err = thrown(RequirementsError, () => renderHeatTemplate({ ...SEED, runcmd }, DEFAULT_CATALOG, HEAT));
    assert.equal(err.errors[0]!.field, 'userData');
    // The same request at a third of the size fits.
    assert.ok(validateRequirements({ ...SEED, runcmd: runcmd.slice(0, 20) }, DEFAULT_CATALOG).ok);
  });

  it('when the user data exceeds CloudStack\'s configured limit, then the CloudStack renderer refuses it', () => {
    const runcmd = Array.from({ length: 40 }, (_, i) => `echo ${i} ${'y'.repeat(900)}`);
    const req = { ...SEED, os: 'fedora-41', software: ['vim'], cloud: 'cloudstack', runcmd };
    assert.deepEqual(fieldsOf(req), ['userData']);
    const err = thrown(RequirementsError, () => renderCloudStackDeploy(req, DEFAULT_CATALOG, CS));
    assert.match(err.message, /CloudStack accepts at most 32768 bytes/);
    assert.ok(renderCloudStackDeploy(req, DEFAULT_CATALOG, { ...CS, userDataMaxBytes: 1024 * 1024 }).userdata);
  });
});

describe('cloud-config rendering', () => {
  it('when the seed example is rendered, then the packages are the Debian names and the text is #cloud-config YAML', () => {
    const { document, text } = renderCloudConfig(SEED, DEFAULT_CATALOG);
    assert.deepEqual(document.packages, ['vim', 'filezilla', 'ftp', 'default-jdk', 'synaptic']);
    assert.equal(document.package_update, true);
    assert.ok(text.startsWith('#cloud-config\n'));
    assert.deepEqual(parseYaml(text), document);
  });

  it('when Fedora with the JDK is rendered, then the RHEL package names are used', () => {
    const { document } = renderCloudConfig({ ...SEED, os: 'fedora-41', software: ['vim', 'jdk', 'build-tools'] }, DEFAULT_CATALOG);
    assert.deepEqual(document.packages, ['vim-enhanced', 'java-21-openjdk-devel', 'gcc', 'gcc-c++', 'make']);
  });

  it('when two software entries need the same package, then it is listed once', () => {
    const catalog = mergeCatalog(DEFAULT_CATALOG, {
      software: [{ id: 'vi', displayName: 'vi', byFamily: { debian: { packages: ['vim'] }, rhel: { packages: ['vim-minimal'] } } }],
    });
    assert.deepEqual(renderCloudConfig({ ...SEED, software: ['vim', 'vi', 'git'] }, catalog).document.packages, ['vim', 'git']);
  });

  it('when users, keys and commands are given, then cloud-init keeps the default user and gets the extra ones', () => {
    const { document } = renderCloudConfig(
      { ...SEED, software: [], sshPublicKeys: [ED25519], users: [{ name: 'dev', groups: ['adm'], sudo: true, sshPublicKeys: [RSA_3072] }, { name: 'guest' }], runcmd: ['systemctl enable --now nginx'] },
      DEFAULT_CATALOG,
    );
    assert.deepEqual(document, {
      package_update: false,
      ssh_authorized_keys: [ED25519],
      users: [
        'default',
        { name: 'dev', groups: ['adm'], sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', lock_passwd: true, ssh_authorized_keys: [RSA_3072] },
        { name: 'guest', shell: '/bin/bash', lock_passwd: true },
      ],
      runcmd: ['systemctl enable --now nginx'],
    });
  });

  it('when commands look like YAML 1.1 booleans, octals, times or special tags, then they stay strings for PyYAML readers', () => {
    const runcmd = ['yes', 'on', 'No', '0777', '1:20', '2021-04-16', '~', '=', '<<', 'echo ok'];
    const { text } = renderCloudConfig({ ...SEED, runcmd }, DEFAULT_CATALOG);
    assert.deepEqual((parseYaml(text) as { runcmd: unknown[] }).runcmd, runcmd);
    assert.match(text, /- "yes"\n/);
    assert.match(text, /- "="\n/);
    const heat = renderHeatTemplate({ ...SEED, runcmd }, DEFAULT_CATALOG, HEAT);
    assert.deepEqual(parseYaml(heat.text), heat.template);
  });

  it('when packagesUpdate is false, then package_update is false even with software', () => {
    assert.equal(renderCloudConfig({ ...SEED, packagesUpdate: false }, DEFAULT_CATALOG).document.package_update, false);
  });
});

describe('Heat template rendering', () => {
  it('when the seed example is rendered, then the CloudConfig packages are exactly the Debian names and the server boots from it', () => {
    const { template } = renderHeatTemplate(SEED, DEFAULT_CATALOG, HEAT);
    assert.equal(template.heat_template_version, '2021-04-16');
    const config = template.resources.cloud_config!;
    assert.equal(config.type, 'OS::Heat::CloudConfig');
    assert.deepEqual((config.properties.cloud_config as { packages: string[] }).packages, ['vim', 'filezilla', 'ftp', 'default-jdk', 'synaptic']);
    const server = template.resources.server!;
    assert.equal(server.type, 'OS::Nova::Server');
    assert.deepEqual(server.properties.networks, [{ port: { get_resource: 'port' } }]);
    assert.equal(server.properties.user_data_format, 'SOFTWARE_CONFIG');
    assert.deepEqual(server.properties.user_data, { get_resource: 'cloud_config' });
    assert.equal(server.properties.name, 'seed-vm');
    assert.deepEqual(server.properties.metadata, { 'vmflow.managed': 'true', 'vmflow.name': 'seed-vm', 'vmflow.os': 'ubuntu-24.04', 'vmflow.size': 'small' });
    assert.equal(template.resources.port!.type, 'OS::Neutron::Port');
    assert.deepEqual(Object.keys(template.outputs), ['server_id', 'first_address', 'addresses', 'name']);
  });

  it('when the template text is parsed as YAML, then it equals the template object and references only declared names', () => {
    const variants = [
      renderHeatTemplate(SEED, DEFAULT_CATALOG, HEAT),
      renderHeatTemplate({ ...SEED, sshPublicKeys: [ED25519, ECDSA_256] }, DEFAULT_CATALOG, { ...HEAT, securityGroups: ['default', 'ssh'] }),
      renderHeatTemplate({ ...SEED, os: 'fedora-41', software: ['jdk'] }, DEFAULT_CATALOG, { ...HEAT, keyName: 'ops-key' }),
    ];
    for (const { template, text } of variants) {
      const parsed = parseYaml(text) as HotTemplate;
      assert.deepEqual(parsed, template);
      assert.deepEqual(undeclaredReferences(parsed), []);
    }
  });

  it('when a template references an undeclared resource or parameter, then the reference checker reports it', () => {
    const { template } = renderHeatTemplate(SEED, DEFAULT_CATALOG, HEAT);
    const broken = structuredClone(template);
    broken.resources.server!.properties.user_data = { get_resource: 'myconfig' };
    broken.resources.port!.properties.network = { get_param: 'net' };
    broken.outputs.name!.value = { get_attr: ['mybox', 'name'] };
    assert.equal(undeclaredReferences(broken).length, 3);
  });

  it('when public keys are given, then a key pair resource is created from the first and the server uses it', () => {
    const { template } = renderHeatTemplate({ ...SEED, sshPublicKeys: [ED25519, RSA_3072] }, DEFAULT_CATALOG, { ...HEAT, keyName: 'ignored' });
    assert.equal(template.resources.key_pair!.type, 'OS::Nova::KeyPair');
    assert.equal(template.resources.key_pair!.properties.public_key, ED25519);
    assert.deepEqual(template.resources.server!.properties.key_name, { get_resource: 'key_pair' });
    assert.equal(template.parameters.key_name, undefined);
    assert.deepEqual((template.resources.cloud_config!.properties.cloud_config as { ssh_authorized_keys: string[] }).ssh_authorized_keys, [ED25519, RSA_3072]);
  });

  it('when no keys are given, then the key_name parameter is used if configured and left out otherwise', () => {
    const withKeyName = renderHeatTemplate(SEED, DEFAULT_CATALOG, { ...HEAT, keyName: 'ops-key' }).template;
    assert.equal(withKeyName.parameters.key_name!.default, 'ops-key');
    assert.deepEqual(withKeyName.resources.server!.properties.key_name, { get_param: 'key_name' });
    assert.equal(withKeyName.resources.key_pair, undefined);
    const without = renderHeatTemplate(SEED, DEFAULT_CATALOG, HEAT).template;
    assert.equal(without.parameters.key_name, undefined);
    assert.equal('key_name' in without.resources.server!.properties, false);
  });

  it('when stack parameters are computed, then they carry the catalog names or the overrides and match the template defaults', () => {
    assert.deepEqual(stackParameters(SEED, DEFAULT_CATALOG, HEAT), { image: 'ubuntu-24.04', flavor: 'm1.small', network: 'private' });
    const settings = { ...HEAT, keyName: 'ops', imageOverride: 'img-uuid-1', flavorOverride: 'flavor-42' };
    const fedora = { ...SEED, os: 'fedora-41', software: [], size: 'large' };
    const params = stackParameters(fedora, DEFAULT_CATALOG, settings);
    assert.deepEqual(params, { image: 'img-uuid-1', flavor: 'flavor-42', network: 'private', key_name: 'ops' });
    const rendered = renderHeatTemplate(fedora, DEFAULT_CATALOG, settings);
    assert.deepEqual(rendered.parameters, params);
    assert.deepEqual(Object.fromEntries(Object.entries(rendered.template.parameters).map(([k, p]) => [k, p.default])), params);
    assert.equal(stackParameters({ ...SEED, size: 'xlarge' }, DEFAULT_CATALOG, HEAT).flavor, 'm1.xlarge');
  });

  it('when settings carry security groups and metadata, then the port gets the groups and vmflow keys cannot be overridden', () => {
    const { template } = renderHeatTemplate(SEED, DEFAULT_CATALOG, { ...HEAT, securityGroups: ['web'], metadata: { 'vmflow.managed': 'false', owner: 'u-1' } });
    assert.deepEqual(template.resources.port!.properties.security_groups, ['web']);
    const metadata = template.resources.server!.properties.metadata as Record<string, string>;
    assert.equal(metadata['vmflow.managed'], 'true');
    assert.equal(metadata.owner, 'u-1');
  });

  it('when the cloud settings are unusable, then CloudSettingsError names the setting', () => {
    const err = thrown(CloudSettingsError, () => renderHeatTemplate(SEED, DEFAULT_CATALOG, { network: ' ' }));
    assert.deepEqual(err.errors.map((e) => e.field), ['settings.network']);
  });

  it('when invalid requirements reach the renderer, then it throws RequirementsError naming the field', () => {
    const err = thrown(RequirementsError, () => renderHeatTemplate({ ...SEED, os: 'fedora-41', software: ['vim', 'synaptic'] }, DEFAULT_CATALOG, HEAT));
    assert.deepEqual(err.errors.map((e) => e.field), ['software[1]']);
    assert.match(err.message, /software\[1\]: Synaptic/);
  });

  it('when the same requirements are rendered twice, then the output is byte-identical, whatever the input key order', () => {
    const req = { ...SEED, sshPublicKeys: [ED25519], users: [{ name: 'dev', sudo: true }], runcmd: ['echo hi'] };
    const reordered = Object.fromEntries(Object.entries(structuredClone(req)).reverse());
    const settings = { network: 'private', securityGroups: ['a', 'b'], metadata: { b: '2', a: '1' } };
    const first = renderHeatTemplate(req, DEFAULT_CATALOG, settings);
    const second = renderHeatTemplate(reordered, DEFAULT_CATALOG, structuredClone(settings));
    assert.equal(second.text, first.text);
    assert.equal(renderCloudConfig(reordered, DEFAULT_CATALOG).text, renderCloudConfig(req, DEFAULT_CATALOG).text);
    assert.deepEqual(renderCloudStackDeploy(reordered, DEFAULT_CATALOG, CS), renderCloudStackDeploy(req, DEFAULT_CATALOG, CS));
  });

  it('when rendering with the clock and random source disabled, then it still succeeds (no Date or Math.random inside)', () => {
    const realNow = Date.now;
    const realRandom = Math.random;
    const RealDate = globalThis.Date;
    const forbidden = () => {
      throw new Error('the renderer must not read the clock or randomness');
    };
    try {
      Date.now = forbidden;
      Math.random = forbidden;
      globalThis.Date = new Proxy(RealDate, { construct: forbidden }) as DateConstructor;
      renderHeatTemplate(SEED, DEFAULT_CATALOG, HEAT);
      renderCloudStackDeploy(SEED, DEFAULT_CATALOG, CS);
      validateRequirements(SEED, DEFAULT_CATALOG);
    } finally {
      globalThis.Date = RealDate;
      Date.now = realNow;
      Math.random = realRandom;
    }
  });

  it('when the renderer and pure catalog modules are scanned, then none imports a Node built-in or reads the environment', () => {
    const root = path.resolve(__dirname, '../../src');
    const files = [
      ...readdirSync(path.join(root, 'templates')).map((f) => path.join(root, 'templates', f)),
      ...readdirSync(path.join(root, 'catalog')).filter((f) => f !== 'load.ts').map((f) => path.join(root, 'catalog', f)),
    ].filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 10);
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      assert.doesNotMatch(source, /from 'node:|require\(|process\.|from '\.\/load'|from '\.\.\/catalog\/load'/, path.relative(root, file));
    }
  });
});

describe('CloudStack deploy rendering', () => {
  it('when the seed example is rendered, then names resolve to ids and userdata decodes to the same cloud-config', () => {
    const params = renderCloudStackDeploy({ ...SEED, cloud: 'cloudstack' }, DEFAULT_CATALOG, { ...CS, keypair: 'ops', networkIds: ['net-1', 'net-2'] });
    assert.deepEqual({ ...params, userdata: undefined }, {
      name: 'seed-vm',
      displayname: 'seed-vm',
      templateid: 'tpl-ubuntu-2404',
      serviceofferingid: 'off-small',
      zoneid: 'zone-1',
      startvm: 'true',
      userdata: undefined,
      keypair: 'ops',
      networkids: 'net-1,net-2',
    });
    const decoded = Buffer.from(params.userdata!, 'base64').toString('utf8');
    assert.equal(decoded, renderCloudConfig(SEED, DEFAULT_CATALOG).text);
    assert.match(decoded, /- default-jdk\n/);
  });

  it('when the standby backup VM is rendered, then it is deployed stopped from the given template id, without user data if asked', () => {
    const params = renderCloudStackDeploy(SEED, DEFAULT_CATALOG, { zoneId: 'zone-1', templateId: 'tpl-from-url', serviceOfferingId: 'off-x', startVm: false, includeUserData: false });
    assert.equal(params.templateid, 'tpl-from-url');
    assert.equal(params.serviceofferingid, 'off-x');
    assert.equal(params.startvm, 'false');
    assert.equal(params.userdata, undefined);
  });

  it('when the catalog template or offering name is not in the maps, then CloudSettingsError names the map and the missing name', () => {
    const err = thrown(CloudSettingsError, () => renderCloudStackDeploy({ ...SEED, os: 'ubuntu-22.04', size: 'xlarge' }, DEFAULT_CATALOG, CS));
    assert.deepEqual(err.errors.map((e) => e.field), ['settings.templateIdByName', 'settings.offeringIdByName']);
    assert.match(err.errors[0]!.message, /"Ubuntu 22\.04 LTS"/);
    assert.match(err.errors[1]!.message, /"Extra Large Instance"/);
    const proto = thrown(CloudSettingsError, () => renderCloudStackDeploy(SEED, DEFAULT_CATALOG, { zoneId: 'z', templateIdByName: {}, offeringIdByName: {} }));
    assert.equal(proto.errors.length, 2);
  });

  it('when the overridden catalog renames a template, then the renamed template is looked up', () => {
    const catalog = mergeCatalog(DEFAULT_CATALOG, { operatingSystems: [{ id: 'fedora-41', images: { cloudstack: { templateName: 'Fedora-Cloud-41' } } }] });
    const params = renderCloudStackDeploy({ ...SEED, os: 'fedora-41', software: ['jdk'] }, catalog, { ...CS, templateIdByName: { 'Fedora-Cloud-41': 'tpl-f41b' } });
    assert.equal(params.templateid, 'tpl-f41b');
    assert.match(Buffer.from(params.userdata!, 'base64').toString('utf8'), /java-21-openjdk-devel/);
  });
});

describe('pure base64 and UTF-8 encoding', () => {
  it('when text with multi-byte characters is encoded, then it matches Node\'s encoders and decodes back', () => {
    for (const text of ['', 'a', 'ab', 'abc', '#cloud-config\nruncmd:\n  - echo 가상머신 🚀\n', 'ÿ€\u0000']) {
      assert.deepEqual(Buffer.from(utf8Encode(text)), Buffer.from(text, 'utf8'), text);
      assert.equal(base64EncodeText(text), Buffer.from(text, 'utf8').toString('base64'), text);
      assert.deepEqual(Buffer.from(base64Decode(base64EncodeText(text))!), Buffer.from(text, 'utf8'));
    }
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => (i * 37) & 255);
    assert.equal(base64Encode(bytes), Buffer.from(bytes).toString('base64'));
  });

  it('when malformed base64 is decoded, then nothing is returned', () => {
    for (const bad of ['abc', 'ab=c', 'a*bc', '====']) assert.equal(base64Decode(bad), undefined, bad);
  });
});
