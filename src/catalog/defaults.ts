/**
 * The built-in catalog: the seed's choices (Ubuntu, CentOS, Fedora; vim, filezilla, ftp,
 * default-jdk, synaptic) plus a few common tools, with the package names each family really uses.
 * Cloud-side names (images, templates, flavors, offerings) are defaults an operator overrides per
 * installation with VMFLOW_CATALOG_FILE (see load.ts). Pure data: safe to import from workflows.
 *
 * Package facts worth a reason:
 * - vim: Fedora/CentOS call the full editor `vim-enhanced` (`vim-minimal` is the tiny `vi`).
 * - ftp: both Fedora (0.17-9x.fc41) and CentOS Stream 9 (AppStream) still ship the netkit `ftp`.
 * - JDK: `default-jdk` is a Debian meta-package; on Fedora 41 and CentOS Stream 9 the current LTS
 *   development kit is `java-21-openjdk-devel`.
 * - filezilla: in Fedora, but for EL9 only in EPEL, which the stock CentOS cloud image lacks.
 * - synaptic: a GUI for apt; Fedora/CentOS use dnf and do not package it.
 * - docker: Debian/Ubuntu `docker.io`, Fedora `moby-engine`; EL9 only has podman.
 * - htop: EL9 has it only in EPEL.
 */
import type { Catalog } from './schema';

const sameOnBoth = (...packages: string[]) => ({ debian: { packages }, rhel: { packages } });

export const DEFAULT_CATALOG: Catalog = {
  operatingSystems: [
    {
      id: 'ubuntu-24.04',
      displayName: 'Ubuntu 24.04 LTS',
      family: 'debian',
      version: '24.04',
      defaultUser: 'ubuntu',
      images: { openstack: { imageName: 'ubuntu-24.04' }, cloudstack: { templateName: 'Ubuntu 24.04 LTS' } },
    },
    {
      id: 'ubuntu-22.04',
      displayName: 'Ubuntu 22.04 LTS',
      family: 'debian',
      version: '22.04',
      defaultUser: 'ubuntu',
      images: { openstack: { imageName: 'ubuntu-22.04' }, cloudstack: { templateName: 'Ubuntu 22.04 LTS' } },
    },
    {
      id: 'centos-stream-9',
      displayName: 'CentOS Stream 9',
      family: 'rhel',
      version: '9',
      defaultUser: 'cloud-user',
      images: { openstack: { imageName: 'centos-stream-9' }, cloudstack: { templateName: 'CentOS Stream 9' } },
    },
    {
      id: 'fedora-41',
      displayName: 'Fedora 41',
      family: 'rhel',
      version: '41',
      defaultUser: 'fedora',
      images: { openstack: { imageName: 'fedora-41' }, cloudstack: { templateName: 'Fedora 41' } },
    },
  ],
  software: [
    {
      id: 'vim',
      displayName: 'Vim',
      description: 'Text editor',
      byFamily: { debian: { packages: ['vim'] }, rhel: { packages: ['vim-enhanced'] } },
    },
    {
      id: 'filezilla',
      displayName: 'FileZilla',
      description: 'Graphical FTP/SFTP client',
      byFamily: sameOnBoth('filezilla'),
      byOs: {
        'centos-stream-9': { unavailable: 'FileZilla is only in EPEL for CentOS Stream 9, which the base image does not enable' },
      },
    },
    {
      id: 'ftp',
      displayName: 'FTP client',
      description: 'Classic command-line FTP client',
      byFamily: sameOnBoth('ftp'),
    },
    {
      id: 'jdk',
      displayName: 'Java JDK',
      description: 'OpenJDK development kit (the distribution default / current LTS)',
      byFamily: { debian: { packages: ['default-jdk'] }, rhel: { packages: ['java-21-openjdk-devel'] } },
    },
    {
      id: 'synaptic',
      displayName: 'Synaptic',
      description: 'Graphical package manager for apt',
      byFamily: {
        debian: { packages: ['synaptic'] },
        rhel: { unavailable: 'Synaptic is a front end for apt; Fedora and CentOS use dnf and do not package it' },
      },
    },
    { id: 'git', displayName: 'Git', description: 'Version control', byFamily: sameOnBoth('git') },
    { id: 'tmux', displayName: 'tmux', description: 'Terminal multiplexer', byFamily: sameOnBoth('tmux') },
    {
      id: 'htop',
      displayName: 'htop',
      description: 'Interactive process viewer',
      byFamily: sameOnBoth('htop'),
      byOs: { 'centos-stream-9': { unavailable: 'htop is only in EPEL for CentOS Stream 9, which the base image does not enable' } },
    },
    { id: 'unzip', displayName: 'unzip', description: 'ZIP archive extractor', byFamily: sameOnBoth('unzip') },
    { id: 'python3', displayName: 'Python 3', description: 'Python interpreter', byFamily: sameOnBoth('python3') },
    {
      id: 'build-tools',
      displayName: 'C/C++ build tools',
      description: 'gcc, g++ and make',
      byFamily: { debian: { packages: ['build-essential'] }, rhel: { packages: ['gcc', 'gcc-c++', 'make'] } },
    },
    { id: 'nginx', displayName: 'nginx', description: 'Web server', byFamily: sameOnBoth('nginx') },
    {
      id: 'postgresql',
      displayName: 'PostgreSQL',
      description: 'Relational database server',
      byFamily: { debian: { packages: ['postgresql'] }, rhel: { packages: ['postgresql-server'] } },
    },
    { id: 'podman', displayName: 'Podman', description: 'Daemonless container engine', byFamily: sameOnBoth('podman') },
    {
      id: 'docker',
      displayName: 'Docker Engine',
      description: 'Container engine (distribution build)',
      byFamily: { debian: { packages: ['docker.io'] }, rhel: { packages: ['moby-engine'] } },
      byOs: { 'centos-stream-9': { unavailable: 'CentOS Stream 9 does not package Docker Engine; choose Podman' } },
    },
  ],
  sizes: [
    {
      id: 'small',
      displayName: 'Small (1 vCPU, 2 GiB RAM, 20 GiB disk)',
      vcpus: 1,
      ramMiB: 2048,
      diskGiB: 20,
      openstack: { flavorName: 'm1.small' },
      cloudstack: { serviceOfferingName: 'Small Instance' },
    },
    {
      id: 'medium',
      displayName: 'Medium (2 vCPU, 4 GiB RAM, 40 GiB disk)',
      vcpus: 2,
      ramMiB: 4096,
      diskGiB: 40,
      openstack: { flavorName: 'm1.medium' },
      cloudstack: { serviceOfferingName: 'Medium Instance' },
    },
    {
      id: 'large',
      displayName: 'Large (4 vCPU, 8 GiB RAM, 80 GiB disk)',
      vcpus: 4,
      ramMiB: 8192,
      diskGiB: 80,
      openstack: { flavorName: 'm1.large' },
      cloudstack: { serviceOfferingName: 'Large Instance' },
    },
    {
      id: 'xlarge',
      displayName: 'Extra large (8 vCPU, 16 GiB RAM, 160 GiB disk)',
      vcpus: 8,
      ramMiB: 16384,
      diskGiB: 160,
      openstack: { flavorName: 'm1.xlarge' },
      cloudstack: { serviceOfferingName: 'Extra Large Instance' },
    },
  ],
};
