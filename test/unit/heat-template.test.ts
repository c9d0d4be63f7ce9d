import assert from 'node:assert/strict';
import YAML from 'yaml';
import {
  dependencies,
  displayParameters,
  evaluate,
  parseTemplate,
  renderCloudConfig,
  requiredBy,
  resolveParameters,
  resourceOrder,
  TemplateError,
  type EvalContext,
} from '../../src/sim/openstack/heat-template';

const PSEUDO = { 'OS::stack_name': 's1', 'OS::stack_id': 'id-1', 'OS::project_id': 'p-1' };

const VM_TEMPLATE = `
heat_template_version: 2018-08-31
description: one VM with a port, a key pair and cloud-config
parameters:
  image: {type: string, default: ubuntu-24.04}
  flavor:
    type: string
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.medium]
  key_name: {type: string}
  packages: {type: comma_delimited_list, default: "vim,ftp"}
resources:
  key:
    type: OS::Nova::KeyPair
    properties: {name: {get_param: key_name}}
  port:
    type: OS::Neutron::Port
    properties: {network: private}
  config:
    type: OS::Heat::CloudConfig
    properties:
      cloud_config:
        packages: {get_param: packages}
  server:
    type: OS::Nova::Server
    properties:
      image: {get_param: image}
      flavor: {get_param: flavor}
      key_name: {get_resource: key}
      networks: [{port: {get_resource: port}}]
      user_data_format: RAW
      user_data: {get_resource: config}
outputs:
  ip:
    description: first address
    value: {get_attr: [server, first_address]}
`;

function expectTemplateError(fn: () => unknown, type: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TemplateError, `expected TemplateError, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.match(err.message, message);
    return true;
  });
}

describe('HOT template engine', () => {
  describe('parsing', () => {
    it('when a YAML template with a date version is parsed, then the version stays a string and sections are read', () => {
      const t = parseTemplate(VM_TEMPLATE);
      assert.equal(t.version, '2018-08-31');
      assert.equal(t.description, 'one VM with a port, a key pair and cloud-config');
      assert.deepEqual(Object.keys(t.resources), ['key', 'port', 'config', 'server']);
      assert.equal(t.resources.server.type, 'OS::Nova::Server');
      assert.equal(t.parameters.flavor.default, 'm1.small');
      assert.equal(t.outputs.ip.description, 'first address');
    });

    it('when the template is a JSON object with a release-name version, then it is accepted as is', () => {
      const t = parseTemplate({ heat_template_version: 'wallaby', resources: { p: { type: 'OS::Neutron::Port', properties: { network: 'private' } } } });
      assert.equal(t.version, 'wallaby');
      assert.deepEqual(t.raw.resources, { p: { type: 'OS::Neutron::Port', properties: { network: 'private' } } });
    });

    it('when heat_template_version is unknown or missing, then InvalidTemplateVersion names the valid ones', () => {
      expectTemplateError(() => parseTemplate({ heat_template_version: '2099-01-01', resources: {} }), 'InvalidTemplateVersion', /"2099-01-01" is not valid heat_template_version.*'2013-05-23'/);
      expectTemplateError(() => parseTemplate({ resources: {} }), 'InvalidTemplateVersion', /Template format version not found/);
    });

    it('when a section or a resource keyword is unknown, then the error names it', () => {
      expectTemplateError(() => parseTemplate({ heat_template_version: '2018-08-31', resourcez: {} }), 'InvalidTemplateSection', /The template section is invalid: resourcez/);
      expectTemplateError(
        () => parseTemplate({ heat_template_version: '2018-08-31', resources: { a: { type: 'OS::Neutron::Port', propertys: {} } } }),
        'StackValidationFailed',
        /"propertys" is not a valid keyword inside a resource definition/,
      );
    });

    it('when YAML does not parse, then the error says so', () => {
      expectTemplateError(() => parseTemplate('heat_template_version: 2018-08-31\nresources: [unclosed'), 'HTTPBadRequest', /Error parsing template/);
    });

    it('when get_resource or depends_on name a missing resource, then InvalidTemplateReference says where', () => {
      expectTemplateError(
        () => parseTemplate({ heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Nova::Server', properties: { networks: [{ port: { get_resource: 'nope' } }] } } } }),
        'InvalidTemplateReference',
        /The specified reference "nope" \(in s\.properties\.networks\[0\]\.port\) is incorrect\./,
      );
      expectTemplateError(
        () => parseTemplate({ heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Nova::Server', depends_on: 'ghost' } } }),
        'InvalidTemplateReference',
        /"ghost"/,
      );
    });

    it('when get_param names an undefined parameter, then the template is rejected', () => {
      expectTemplateError(
        () => parseTemplate({ heat_template_version: '2018-08-31', resources: { s: { type: 'OS::Nova::Server', properties: { image: { get_param: 'img' } } } } }),
        'UnknownUserParameter',
        /The Parameter \(img\) was not defined in template/,
      );
    });

    it('when resources depend on each other in a cycle, then CircularDependencyException is raised', () => {
      expectTemplateError(
        () =>
          parseTemplate({
            heat_template_version: '2018-08-31',
            resources: { a: { type: 'T', properties: { x: { get_resource: 'b' } } }, b: { type: 'T', properties: { y: { get_attr: ['a', 'z'] } } } },
          }),
        'CircularDependencyException',
        /Circular Dependency Found/,
      );
    });

    it('when a parameter type is unknown or its default breaks a constraint, then the schema is rejected', () => {
      expectTemplateError(() => parseTemplate({ heat_template_version: '2018-08-31', parameters: { p: { type: 'integer' } } }), 'InvalidSchemaError', /Invalid type \(integer\)/);
      expectTemplateError(
        () => parseTemplate({ heat_template_version: '2018-08-31', parameters: { p: { type: 'string', default: 'x', constraints: [{ allowed_values: ['a'] }] } } }),
        'StackValidationFailed',
        /Parameter 'p' is invalid: "x" is not an allowed value \[a\]/,
      );
    });
  });

  describe('dependencies', () => {
    it('when resources reference each other, then the order puts dependencies first and required_by is the reverse', () => {
      const t = parseTemplate(VM_TEMPLATE);
      assert.deepEqual(dependencies(t).server.sort(), ['config', 'key', 'port']);
      const order = resourceOrder(t);
      assert.ok(order.indexOf('server') > order.indexOf('port'));
      assert.ok(order.indexOf('server') > order.indexOf('config'));
      assert.deepEqual(requiredBy(t).port, ['server']);
    });

    it('when a port, a server and a floating IP use a network made in the stack, then they also wait for its subnet and router interface (Heat\'s implicit dependencies)', () => {
      const t = parseTemplate({
        heat_template_version: '2018-08-31',
        resources: {
          net: { type: 'OS::Neutron::Net', properties: { name: 'env' } },
          subnet: { type: 'OS::Neutron::Subnet', properties: { network: { get_resource: 'net' }, cidr: '10.9.0.0/24' } },
          other_subnet: { type: 'OS::Neutron::Subnet', properties: { network: 'private', cidr: '10.8.0.0/24' } },
          router: { type: 'OS::Neutron::Router', properties: { external_gateway_info: { network: 'public' } } },
          iface: { type: 'OS::Neutron::RouterInterface', properties: { router: { get_resource: 'router' }, subnet: { get_resource: 'subnet' } } },
          port: { type: 'OS::Neutron::Port', properties: { network: { get_resource: 'net' } } },
          server: { type: 'OS::Nova::Server', properties: { image: 'i', flavor: 'f', networks: [{ network: { get_resource: 'net' } }] } },
          fip: { type: 'OS::Neutron::FloatingIP', properties: { floating_network: 'public', port_id: { get_resource: 'port' } } },
        },
      });
      const deps = dependencies(t);
      assert.deepEqual(deps.port.sort(), ['net', 'subnet']);
      assert.deepEqual(deps.server.sort(), ['net', 'subnet'], 'a server on {network: net} waits for the subnet of net, not for other networks\' subnets');
      assert.deepEqual(deps.fip.sort(), ['iface', 'port', 'router']);
      const order = resourceOrder(t);
      for (const [before, after] of [['subnet', 'server'], ['subnet', 'port'], ['iface', 'fip'], ['router', 'iface']]) {
        assert.ok(order.indexOf(before) < order.indexOf(after), `${before} before ${after} in ${order.join(',')}`);
      }
    });
  });

  describe('parameters', () => {
    const t = parseTemplate({
      heat_template_version: '2018-08-31',
      parameters: {
        count: { type: 'number', default: 1, constraints: [{ range: { min: 1, max: 3 } }] },
        name: { type: 'string', constraints: [{ length: { min: 2, max: 5 } }, { allowed_pattern: '[a-z]+', description: 'lower-case letters only' }] },
        tags: { type: 'comma_delimited_list', default: 'a, b' },
        flag: { type: 'boolean', default: 'yes' },
        blob: { type: 'json', default: { k: 1 } },
        secret: { type: 'string', default: 's3cr3t', hidden: true },
      },
    });

    it('when values are supplied as strings, then they are converted to the parameter types', () => {
      const v = resolveParameters(t, { supplied: { count: '3', name: 'abc', blob: '{"x":[1]}', flag: 'off' }, pseudo: PSEUDO });
      assert.equal(v.count, 3);
      assert.deepEqual(v.tags, ['a', 'b']);
      assert.equal(v.flag, false);
      assert.deepEqual(v.blob, { x: [1] });
      assert.equal(v['OS::stack_name'], 's1');
    });

    it('when the environment gives parameters or parameter_defaults, then supplied values still win', () => {
      const v = resolveParameters(t, { supplied: { name: 'sup' }, environment: { parameter_defaults: { name: 'def', count: 2 } }, pseudo: PSEUDO });
      assert.equal(v.name, 'sup');
      assert.equal(v.count, 2);
    });

    it('when a parameter without default is missing or an unknown one is given, then Heat errors are raised', () => {
      expectTemplateError(() => resolveParameters(t, { supplied: {}, pseudo: PSEUDO }), 'UserParameterMissing', /The Parameter \(name\) was not provided\./);
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'ab', nope: 1 }, pseudo: PSEUDO }), 'UnknownUserParameter', /The Parameter \(nope\) was not defined in template\./);
    });

    it('when constraints are broken, then the message explains which (or uses the constraint description)', () => {
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'ab', count: 7 }, pseudo: PSEUDO }), 'StackValidationFailed', /Parameter 'count' is invalid: 7 is out of range \(min: 1, max: 3\)/);
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'toolong' }, pseudo: PSEUDO }), 'StackValidationFailed', /length \(7\) is out of range/);
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'AB' }, pseudo: PSEUDO }), 'StackValidationFailed', /Parameter 'name' is invalid: lower-case letters only/);
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'ab', count: 'many' }, pseudo: PSEUDO }), 'StackValidationFailed', /could not convert string to float: 'many'/);
      expectTemplateError(() => resolveParameters(t, { supplied: { name: 'ab', flag: 'maybe' }, pseudo: PSEUDO }), 'StackValidationFailed', /Unrecognized value 'maybe'/);
    });

    it('when parameters are displayed, then values are strings and hidden ones are masked', () => {
      const shown = displayParameters(t, resolveParameters(t, { supplied: { name: 'ab' }, pseudo: PSEUDO }));
      assert.equal(shown.secret, '******');
      assert.equal(shown.tags, 'a,b');
      assert.equal(shown.count, '1');
      assert.equal(shown.blob, '{"k":1}');
    });
  });

  describe('intrinsic functions', () => {
    const ctx: EvalContext = {
      params: { net: 'private', user: { name: 'ann', groups: ['a', 'b'] }, list: ['x', 'y'] },
      resourceId: (name) => (name === 'port' ? 'port-uuid' : null),
      attribute: (name, attr) => (name === 'server' && attr === 'networks' ? { private: ['10.0.0.5', '172.24.4.9'] } : null),
      files: { 'setup.sh': '#!/bin/sh\necho hi\n' },
    };

    it('when get_param has a path, then it walks maps and lists', () => {
      assert.equal(evaluate({ get_param: ['user', 'groups', 1] }, ctx), 'b');
      assert.equal(evaluate({ get_param: 'net' }, ctx), 'private');
    });

    it('when get_resource and get_attr are used, then physical ids and attribute paths resolve (null before creation)', () => {
      assert.deepEqual(evaluate({ networks: [{ port: { get_resource: 'port' } }] }, ctx), { networks: [{ port: 'port-uuid' }] });
      assert.equal(evaluate({ get_attr: ['server', 'networks', 'private', 0] }, ctx), '10.0.0.5');
      assert.equal(evaluate({ get_resource: 'other' }, ctx), null);
    });

    it('when str_replace has overlapping keys, then longer keys are replaced first and values stringified', () => {
      const out = evaluate({ str_replace: { template: 'host=$HOST_IP ip=$HOST n=$N', params: { $HOST: 'h1', $HOST_IP: { get_attr: ['server', 'networks', 'private', 0] }, $N: 3 } } }, ctx);
      assert.equal(out, 'host=10.0.0.5 ip=h1 n=3');
    });

    it('when list_join, str_split and get_file are used, then they behave as in Heat', () => {
      assert.equal(evaluate({ list_join: [',', { get_param: 'list' }, ['z']] }, ctx), 'x,y,z');
      assert.equal(evaluate({ str_split: [',', 'a,b,c', 1] }, ctx), 'b');
      assert.equal(evaluate({ get_file: 'setup.sh' }, ctx), '#!/bin/sh\necho hi\n');
      assert.throws(() => evaluate({ get_file: 'missing.sh' }, ctx), /No content found in the "files" section/);
    });
  });

  describe('cloud-config', () => {
    it('when a cloud_config map is rendered, then it is "#cloud-config" followed by YAML of the map', () => {
      const text = renderCloudConfig({ packages: ['vim', 'default-jdk'], package_update: true });
      assert.ok(text.startsWith('#cloud-config\n'));
      assert.deepEqual(YAML.parse(text.slice('#cloud-config\n'.length)), { packages: ['vim', 'default-jdk'], package_update: true });
    });
  });
});
