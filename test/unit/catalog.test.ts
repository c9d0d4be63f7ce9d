import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Catalog,
  CatalogError,
  DEFAULT_CATALOG,
  catalogSchema,
  findOperatingSystem,
  findSize,
  findSoftware,
  mergeCatalog,
  resolvePackages,
  softwareAvailableOn,
} from '../../src/catalog';
import { CATALOG_FILE_ENV, loadCatalog } from '../../src/catalog/load';

function packagesOn(catalog: Catalog, softwareId: string, osId: string) {
  return resolvePackages(findSoftware(catalog, softwareId)!, findOperatingSystem(catalog, osId)!);
}

function catalogErrorOf(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CatalogError, `expected CatalogError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a CatalogError');
}

describe('catalog defaults', () => {
  it('when the built-in catalog is validated, then it passes the catalog schema', () => {
    const result = catalogSchema.safeParse(DEFAULT_CATALOG);
    assert.equal(result.success, true, result.success ? '' : JSON.stringify(result.error.issues));
  });

  it('when the seed choices are looked up, then every OS and software of the seed is in the catalog', () => {
    for (const id of ['ubuntu-24.04', 'ubuntu-22.04', 'centos-stream-9', 'fedora-41']) assert.ok(findOperatingSystem(DEFAULT_CATALOG, id), id);
    for (const id of ['vim', 'filezilla', 'ftp', 'jdk', 'synaptic', 'git', 'nginx', 'python3', 'podman', 'docker']) assert.ok(findSoftware(DEFAULT_CATALOG, id), id);
    assert.equal(findSoftware(DEFAULT_CATALOG, 'jdk')!.displayName, 'Java JDK');
  });

  it('when operating systems are read, then each has its family, login user and per-cloud image names', () => {
    const expect = {
      'ubuntu-24.04': ['debian', 'ubuntu', 'ubuntu-24.04', 'Ubuntu 24.04 LTS'],
      'ubuntu-22.04': ['debian', 'ubuntu', 'ubuntu-22.04', 'Ubuntu 22.04 LTS'],
      'centos-stream-9': ['rhel', 'cloud-user', 'centos-stream-9', 'CentOS Stream 9'],
      'fedora-41': ['rhel', 'fedora', 'fedora-41', 'Fedora 41'],
    };
    for (const [id, [family, user, image, template]] of Object.entries(expect)) {
      const os = findOperatingSystem(DEFAULT_CATALOG, id)!;
      assert.deepEqual([os.family, os.defaultUser, os.images.openstack.imageName, os.images.cloudstack.templateName], [family, user, image, template]);
    }
  });

  it('when the JDK is resolved, then Debian-family systems get default-jdk and RHEL-family ones java-21-openjdk-devel', () => {
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'jdk', 'ubuntu-24.04'), { ok: true, packages: ['default-jdk'] });
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'jdk', 'ubuntu-22.04'), { ok: true, packages: ['default-jdk'] });
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'jdk', 'fedora-41'), { ok: true, packages: ['java-21-openjdk-devel'] });
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'jdk', 'centos-stream-9'), { ok: true, packages: ['java-21-openjdk-devel'] });
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'vim', 'fedora-41'), { ok: true, packages: ['vim-enhanced'] });
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'ftp', 'centos-stream-9'), { ok: true, packages: ['ftp'] });
  });

  it('when software a family or OS lacks is resolved, then it is unavailable with a reason', () => {
    const synaptic = packagesOn(DEFAULT_CATALOG, 'synaptic', 'fedora-41');
    assert.equal(synaptic.ok, false);
    assert.match(!synaptic.ok ? synaptic.reason : '', /apt/);
    assert.deepEqual(packagesOn(DEFAULT_CATALOG, 'filezilla', 'fedora-41'), { ok: true, packages: ['filezilla'] });
    const filezillaOnCentos = packagesOn(DEFAULT_CATALOG, 'filezilla', 'centos-stream-9');
    assert.equal(filezillaOnCentos.ok, false);
    assert.match(!filezillaOnCentos.ok ? filezillaOnCentos.reason : '', /EPEL/);
  });

  it('when the software available on an OS is listed, then unavailable entries are left out', () => {
    const onCentos = softwareAvailableOn(DEFAULT_CATALOG, findOperatingSystem(DEFAULT_CATALOG, 'centos-stream-9')!);
    assert.ok(onCentos.includes('jdk') && onCentos.includes('podman'));
    for (const missing of ['filezilla', 'synaptic', 'docker', 'htop']) assert.ok(!onCentos.includes(missing), missing);
    const onUbuntu = softwareAvailableOn(DEFAULT_CATALOG, findOperatingSystem(DEFAULT_CATALOG, 'ubuntu-24.04')!);
    assert.equal(onUbuntu.length, DEFAULT_CATALOG.software.length);
  });

  it('when sizes are read, then they map to the m1 flavors and CloudStack offerings', () => {
    assert.deepEqual(
      DEFAULT_CATALOG.sizes.map((s) => [s.id, s.vcpus, s.ramMiB, s.diskGiB, s.openstack.flavorName]),
      [
        ['small', 1, 2048, 20, 'm1.small'],
        ['medium', 2, 4096, 40, 'm1.medium'],
        ['large', 4, 8192, 80, 'm1.large'],
        ['xlarge', 8, 16384, 160, 'm1.xlarge'],
      ],
    );
    assert.equal(findSize(DEFAULT_CATALOG, 'small')!.cloudstack.serviceOfferingName, 'Small Instance');
  });
});

describe('catalog overrides', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'vmflow-catalog-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const writeFile = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('when no override file is configured, then loadCatalog returns the defaults', () => {
    assert.deepEqual(loadCatalog({ env: {} }), DEFAULT_CATALOG);
  });

  it('when VMFLOW_CATALOG_FILE names a YAML override, then its changes are merged over the defaults and the defaults stay untouched', () => {
    const file = writeFile(
      'override.yaml',
      [
        'sizes:',
        '  - id: small',
        '    cloudstack: { serviceOfferingName: "vmflow.small" }',
        '  - id: huge',
        '    displayName: Huge',
        '    vcpus: 32',
        '    ramMiB: 131072',
        '    diskGiB: 500',
        '    openstack: { flavorName: m1.huge }',
        '    cloudstack: { serviceOfferingName: "Huge Instance" }',
        'operatingSystems:',
        '  - id: ubuntu-24.04',
        '    images: { openstack: { imageName: "Ubuntu-24.04-cloudimg" } }',
        '',
      ].join('\n'),
    );
    const catalog = loadCatalog({ env: { [CATALOG_FILE_ENV]: file } });
    const small = findSize(catalog, 'small')!;
    assert.equal(small.cloudstack.serviceOfferingName, 'vmflow.small');
    assert.equal(small.openstack.flavorName, 'm1.small', 'untouched fields keep their defaults');
    assert.equal(findSize(catalog, 'huge')!.vcpus, 32);
    const ubuntu = findOperatingSystem(catalog, 'ubuntu-24.04')!;
    assert.equal(ubuntu.images.openstack.imageName, 'Ubuntu-24.04-cloudimg');
    assert.equal(ubuntu.images.cloudstack.templateName, 'Ubuntu 24.04 LTS');
    assert.equal(findSize(DEFAULT_CATALOG, 'small')!.cloudstack.serviceOfferingName, 'Small Instance');
    assert.equal(findSize(DEFAULT_CATALOG, 'huge'), undefined);
  });

  it('when a JSON override file is given, then it is read as well', () => {
    const file = writeFile('override.json', JSON.stringify({ software: [{ id: 'vim', displayName: 'Vim editor' }] }));
    assert.equal(findSoftware(loadCatalog({ file, env: {} }), 'vim')!.displayName, 'Vim editor');
  });

  it('when an override field has the wrong type, then the error names the file and the field', () => {
    const file = writeFile('bad-type.yaml', 'sizes:\n  - id: medium\n    vcpus: two\n');
    const err = catalogErrorOf(() => loadCatalog({ env: { [CATALOG_FILE_ENV]: file } }));
    assert.equal(err.source, file);
    assert.deepEqual(err.errors.map((e) => e.field), ['sizes[0].vcpus']);
    assert.match(err.message, /bad-type\.yaml/);
    assert.match(err.message, /sizes\[0\]\.vcpus/);
  });

  it('when an override has an unknown key, then the error names that key', () => {
    const err = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { sizes: [{ id: 'small', cpus: 2 }], flavours: [] }));
    assert.deepEqual(err.errors.map((e) => e.field).sort(), ['flavours', 'sizes[0].cpus']);
    assert.ok(err.errors.every((e) => /not a known field/.test(e.message)));
  });

  it('when an override adds an incomplete entry, then every missing field is named', () => {
    const err = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { operatingSystems: [{ id: 'debian-12', family: 'debian' }] }));
    const fields = err.errors.map((e) => e.field);
    for (const f of ['displayName', 'version', 'defaultUser', 'images']) assert.ok(fields.includes(`operatingSystems[0].${f}`), f);
    assert.match(err.errors[0]!.message, /required/);
  });

  it('when an override removes an operating system, then it is gone and software exceptions for it go with it', () => {
    const catalog = mergeCatalog(DEFAULT_CATALOG, { operatingSystems: [{ id: 'centos-stream-9', remove: true }] });
    assert.equal(findOperatingSystem(catalog, 'centos-stream-9'), undefined);
    assert.equal(findSoftware(catalog, 'filezilla')!.byOs?.['centos-stream-9'], undefined);
    assert.ok(findSoftware(DEFAULT_CATALOG, 'filezilla')!.byOs?.['centos-stream-9'], 'defaults untouched');
  });

  it('when an override removes an id the catalog lacks, or names an id twice, then the error names the entry', () => {
    const err = catalogErrorOf(() =>
      mergeCatalog(DEFAULT_CATALOG, { sizes: [{ id: 'tiny', remove: true }], software: [{ id: 'vim' }, { id: 'vim' }] }),
    );
    assert.deepEqual(err.errors.map((e) => e.field).sort(), ['sizes[0].id', 'software[1].id']);
  });

  it('when an override makes software unavailable on a family, then the choice is replaced rather than merged', () => {
    const catalog = mergeCatalog(DEFAULT_CATALOG, { software: [{ id: 'ftp', byFamily: { rhel: { unavailable: 'not allowed here' } } }] });
    assert.deepEqual(findSoftware(catalog, 'ftp')!.byFamily, { debian: { packages: ['ftp'] }, rhel: { unavailable: 'not allowed here' } });
  });

  it('when an override uses an OS exception for an unknown OS, or gives an empty reason, then the field is named', () => {
    const unknownOs = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { software: [{ id: 'git', byOs: { 'arch-linux': { packages: ['git'] } } }] }));
    assert.deepEqual(unknownOs.errors.map((e) => e.field), ['software[0].byOs.arch-linux']);
    const emptyReason = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { software: [{ id: 'tmux', byFamily: { rhel: { unavailable: '' } } }] }));
    assert.deepEqual(emptyReason.errors.map((e) => e.field), ['software[0].byFamily.rhel.unavailable']);
    const notAChoice = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { software: [{ id: 'tmux', byFamily: { rhel: { apt: 'x' } } }] }));
    assert.deepEqual(notAChoice.errors.map((e) => e.field), ['software[0].byFamily.rhel']);
    assert.match(notAChoice.errors[0]!.message, /packages.*unavailable/);
  });

  it('when a package name could smuggle an option into the package manager, then it is refused', () => {
    const err = catalogErrorOf(() => mergeCatalog(DEFAULT_CATALOG, { software: [{ id: 'git', byFamily: { debian: { packages: ['--allow-unauthenticated'] } } }] }));
    assert.deepEqual(err.errors.map((e) => e.field), ['software[0].byFamily.debian.packages[0]']);
  });

  it('when the override file is not YAML or does not exist, then the error says so and names the file', () => {
    const bad = writeFile('broken.yaml', 'sizes: [ {id: small\n');
    assert.match(catalogErrorOf(() => loadCatalog({ file: bad })).message, /broken\.yaml.*not valid JSON or YAML/);
    const missing = path.join(dir, 'nope.yaml');
    assert.match(catalogErrorOf(() => loadCatalog({ file: missing })).message, /nope\.yaml.*cannot read/);
  });
});
