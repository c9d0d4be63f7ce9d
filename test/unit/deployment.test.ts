/**
 * docker-compose.yml cannot run here (no Docker engine), so this checks it as data: the services a
 * real deployment needs, pinned image tags, health-gated dependencies, a scalable worker, named
 * volumes, and that every variable handed to vmflow processes is one src/config.ts knows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { CONFIG_SPEC } from '../../src/config';

const root = path.resolve(__dirname, '../..');
type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  ports?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  container_name?: string;
  profiles?: string[];
};

describe('deployment: docker-compose.yml and Dockerfile', () => {
  const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const services = compose.services;

  it('when parsed, then it has Temporal with PostgreSQL, the Temporal UI, MongoDB, the API and the worker', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'mongodb', 'api', 'worker']) assert.ok(services[name], `service ${name}`);
    assert.match(services.temporal.image!, /^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    assert.equal(services.temporal.environment!.DB, 'postgres12');
    assert.equal(services.temporal.environment!.POSTGRES_SEEDS, 'postgresql');
    assert.match(services['temporal-ui'].image!, /^temporalio\/ui:\d+\.\d+\.\d+$/);
    assert.equal(services['temporal-ui'].environment!.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  it('when images are pulled, then every third-party image has a pinned version tag (no latest)', () => {
    const builtImages = new Set(Object.values(services).filter((s) => s.build).map((s) => s.image));
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build || builtImages.has(svc.image)) continue; // built from this repository
      assert.ok(svc.image, `${name} has an image`);
      assert.match(svc.image!, /^[\w./-]+:v?\d+(\.\d+)+[\w.-]*$/, `${name} image ${svc.image} is pinned`);
    }
  });

  it('when vmflow services start, then API and worker come from the one Dockerfile and the worker can be scaled', () => {
    for (const name of ['api', 'worker']) {
      assert.deepEqual(services[name].build, { context: '.', dockerfile: 'Dockerfile' }, name);
      const entry = services[name].command![1];
      const src = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(fs.existsSync(path.join(root, src)), `${name} runs ${entry}, compiled from ${src}`);
    }
    for (const [name, svc] of Object.entries(services)) {
      if (svc.command?.[0] !== 'node') continue;
      const src = svc.command[1].replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(fs.existsSync(path.join(root, src)), `${name} runs ${svc.command[1]}, compiled from ${src}`);
    }
    assert.ok(services.imagestore, 'the image store is its own service');
    assert.equal(services.worker.environment!.IMAGE_STORE_URL, 'http://imagestore:8090');
    assert.equal(services.worker.ports, undefined, 'worker publishes no ports');
    // Issue 12 item 3: Temporal's gRPC port and UI are for operators, never published on every interface.
    for (const name of ['temporal', 'temporal-ui']) {
      for (const p of services[name]!.ports ?? []) assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} beyond loopback`);
    }
    assert.equal(services.worker.container_name, undefined, 'worker has no fixed container name');
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /npm ci --omit=dev/);
  });

  it('when dependencies start, then they wait for healthy Temporal and MongoDB, and those have healthchecks', () => {
    for (const name of ['api', 'worker']) {
      assert.equal(services[name].depends_on!.temporal.condition, 'service_healthy', name);
      assert.equal(services[name].depends_on!.mongodb.condition, 'service_healthy', name);
    }
    assert.equal(services.temporal.depends_on!.postgresql.condition, 'service_healthy');
    for (const name of ['postgresql', 'temporal', 'mongodb', 'api']) assert.ok(services[name].healthcheck?.test?.length, `${name} healthcheck`);
  });

  it('when the API and worker read their environment, then every variable is a documented config variable', () => {
    const known = new Set(Object.values(CONFIG_SPEC).map((s) => s.env));
    known.add('NODE_ENV');
    for (const name of ['api', 'worker']) {
      for (const key of Object.keys(services[name].environment ?? {})) assert.ok(known.has(key), `${name}: ${key} is in CONFIG_SPEC`);
    }
    assert.equal(services.api.environment!.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.match(String(services.api.environment!.MONGODB_URI), /^mongodb:\/\/mongodb:27017\//);
    assert.equal(services.api.environment!.API_HOST, '0.0.0.0');
  });

  it('when data must survive, then every volume a service mounts by name is declared', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const v of svc.volumes ?? []) {
        const source = v.split(':')[0];
        if (!source.startsWith('.') && !source.startsWith('/')) assert.ok(source in (compose.volumes ?? {}), `${name}: volume ${source} declared`);
      }
    }
    assert.ok(Object.keys(compose.volumes).length >= 2);
  });
});
