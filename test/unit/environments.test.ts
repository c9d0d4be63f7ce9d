/**
 * Environment requests without servers: the request schema, presets expanded into members, and
 * the member graph checked with every problem named by its field; the network template and the
 * CIDR picked per environment.
 */
import assert from 'node:assert/strict';
import { createEnvironmentRequestSchema, type CreateEnvironmentRequest } from '../../src/contracts/api/environments';
import { EnvironmentRequestError, expandEnvironment, graphProblems, presetMembers } from '../../src/environments/expand';
import { environmentCidr, environmentNetworkTemplate } from '../../src/environments/network-template';
import { DEFAULT_CATALOG } from '../../src/catalog';
import { validateRequirements } from '../../src/templates';

const member = (name: string, requires?: string[]) => ({ name, os: 'ubuntu-24.04', size: 'small', ...(requires ? { requires } : {}) });

function request(body: unknown): CreateEnvironmentRequest {
  return createEnvironmentRequestSchema.parse(body);
}

function problemsOf(body: unknown): Array<{ field: string; message: string }> {
  try {
    expandEnvironment(request(body));
  } catch (err) {
    assert.ok(err instanceof EnvironmentRequestError, String(err));
    return err.fields;
  }
  assert.fail('expected the request to be refused');
}

describe('environments: requests, presets and the member graph', () => {
  it('when the overcloud preset asks for 3 nodes, then it expands to a DevOps post and 3 nodes that each require it', () => {
    const e = expandEnvironment(request({ name: 'oc', cloud: 'openstack', preset: 'overcloud', number: 3, size: 'medium' }));
    assert.equal(e.preset, 'overcloud');
    assert.deepEqual(e.members.map((m) => [m.name, m.requires]), [['devops', []], ['node-1', ['devops']], ['node-2', ['devops']], ['node-3', ['devops']]]);
    for (const m of e.members) {
      assert.equal(m.requirements.cloud, 'openstack');
      assert.equal(m.requirements.size, 'medium');
      assert.equal(m.requirements.name, `oc-${m.name}`);
      // Every expanded member is a valid VM of the default catalog.
      assert.ok(validateRequirements(m.requirements, DEFAULT_CATALOG).ok, JSON.stringify(m.requirements));
    }
  });

  it('when the web-app-db preset is expanded, then the tiers chain db ← app ← web, each with its software', () => {
    const e = expandEnvironment(request({ name: 'shop', cloud: 'cloudstack', preset: 'web-app-db' }));
    assert.deepEqual(e.members.map((m) => [m.name, m.requires, m.requirements.software]), [['db', [], ['postgresql']], ['app', ['db'], ['jdk']], ['web', ['app'], ['nginx']]]);
    assert.ok(e.members.every((m) => m.requirements.size === 'small' && m.requirements.os === 'ubuntu-24.04'));
    for (const os of ['ubuntu-24.04', 'centos-stream-9', 'fedora-41']) {
      for (const { requires: _requires, ...m } of [...presetMembers('web-app-db', { os }), ...presetMembers('overcloud', { os, number: 1 })]) {
        const r = validateRequirements({ ...m, name: 'x', cloud: 'openstack' }, DEFAULT_CATALOG);
        assert.ok(r.ok, `${m.name} on ${os}: ${JSON.stringify(r)}`);
      }
    }
  });

  it('when members are given, then their requirements keep everything but the cloud, which the environment gives', () => {
    const e = expandEnvironment(request({ name: 'env', cloud: 'openstack', members: [{ ...member('a'), software: ['vim'], runcmd: ['echo hi'] }, member('b', ['a'])] }));
    assert.equal(e.preset, undefined);
    assert.deepEqual(e.members[0].requirements, { name: 'env-a', os: 'ubuntu-24.04', size: 'small', software: ['vim'], runcmd: ['echo hi'], cloud: 'openstack' });
    assert.equal(e.members[1].field, 'members[1]');
  });

  it('when a member requires an unknown member, itself, or one twice, then each problem names its requires entry', () => {
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a'), member('b'), member('c', ['nope'])] }), [{ field: 'members[2].requires[0]', message: 'no member named "nope"' }]);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a', ['a'])] }).map((p) => p.field), ['members[0].requires[0]']);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a'), member('b', ['a', 'a'])] }).map((p) => p.field), ['members[1].requires[1]']);
  });

  it('when members form a dependency cycle, then the cycle is named at the member that closes it', () => {
    const p = problemsOf({ name: 'e', cloud: 'openstack', members: [member('a', ['c']), member('b', ['a']), member('c', ['b']), member('d')] });
    assert.equal(p.length, 1);
    assert.equal(p[0].field, 'members[1].requires[0]');
    assert.match(p[0].message, /dependency cycle a → c → b → a/);
  });

  it('when two members share a name, then the second is named', () => {
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a'), member('b'), member('a')] }).map((p) => p.field), ['members[2].name']);
    assert.deepEqual(graphProblems([]), []);
  });

  it('when members and a preset, neither, or preset options without a preset are given, then those fields are named', () => {
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a')], preset: 'web-app-db' }).map((p) => p.field), ['preset']);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack' }).map((p) => p.field), ['members']);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', preset: 'overcloud' }).map((p) => p.field), ['number']);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', preset: 'web-app-db', number: 2 }).map((p) => p.field), ['number']);
    assert.deepEqual(problemsOf({ name: 'e', cloud: 'openstack', members: [member('a')], size: 'small' }).map((p) => p.field), ['size']);
  });

  it('when the environment and member names make a VM name longer than 63 characters, then the member name is named', () => {
    const long = 'a'.repeat(40);
    assert.deepEqual(problemsOf({ name: long, cloud: 'openstack', members: [member('b'.repeat(30))] }).map((p) => p.field), ['members[0].name']);
  });

  it('when the schema sees bad fields, then zod names them (unknown keys, number out of range, unknown policy)', () => {
    const r = createEnvironmentRequestSchema.safeParse({ name: 'e', cloud: 'openstack', preset: 'overcloud', number: 11, onMemberFailure: 'pray', extra: 1 });
    assert.equal(r.success, false);
    const paths = r.error!.issues.map((i) => i.path.join('.') || (i as { keys?: string[] }).keys?.join(','));
    assert.ok(paths.includes('number') && paths.includes('onMemberFailure') && paths.includes('extra'), JSON.stringify(paths));
  });

  it('when the network template is rendered, then it has a net, a subnet on it, a router to the external network and its interface, and names the network output', () => {
    const t = environmentNetworkTemplate('vmflow-env-x', { cidr: '10.70.1.0/24', externalNetwork: 'public' }) as any;
    assert.deepEqual(Object.fromEntries(Object.entries(t.resources).map(([k, v]: [string, any]) => [k, v.type])), {
      net: 'OS::Neutron::Net',
      subnet: 'OS::Neutron::Subnet',
      router: 'OS::Neutron::Router',
      iface: 'OS::Neutron::RouterInterface',
    });
    assert.equal(t.resources.subnet.properties.cidr, '10.70.1.0/24');
    assert.deepEqual(t.outputs.network_id.value, { get_resource: 'net' });
    assert.deepEqual(Object.keys((environmentNetworkTemplate('n', { cidr: '10.70.1.0/24' }) as any).resources), ['net', 'subnet']);
    const cidr = environmentCidr('3f1c0a6e-1111-4222-8333-444455556666');
    assert.equal(cidr, environmentCidr('3f1c0a6e-1111-4222-8333-444455556666'));
    assert.match(cidr, /^10\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d{1,3}\.0\/24$/);
  });
});
