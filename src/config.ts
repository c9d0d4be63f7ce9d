/**
 * The one typed configuration module. Every setting is read from the environment, has a default
 * for the embedded local stack, a doc string, and is validated before anything starts; an invalid
 * value fails with a message that names the variable. The README's configuration table is
 * generated from `CONFIG_SPEC` (see `npm run config:table`) and a test keeps them in step.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

type Spec = {
  env: string;
  doc: string;
  default?: string;
  schema: z.ZodType;
};

const port = z.coerce.number().int().min(0).max(65535);
const nonEmpty = z.string().min(1);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Declaration order is the order of the README table. */
export const CONFIG_SPEC = {
  logLevel: { env: 'LOG_LEVEL', doc: 'pino log level (trace, debug, info, warn, error, fatal, silent)', default: 'info', schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) },
  dataDir: { env: 'VMFLOW_DATA_DIR', doc: 'Directory for the embedded servers\' state (Temporal SQLite file, FerretDB SQLite files, image store)', default: './data', schema: nonEmpty },
  toolsDir: { env: 'VMFLOW_TOOLS_DIR', doc: 'Per-user cache for the Temporal CLI, FerretDB and compat clients, keyed by version; shared by every clone', default: path.join(os.homedir(), '.cache', 'vmflow', 'tools'), schema: nonEmpty },
  temporalAddress: { env: 'TEMPORAL_ADDRESS', doc: 'host:port of an existing Temporal frontend. When set, no embedded dev server is started', schema: nonEmpty.optional() },
  temporalNamespace: { env: 'TEMPORAL_NAMESPACE', doc: 'Temporal namespace', default: 'default', schema: nonEmpty },
  temporalTaskQueue: { env: 'TEMPORAL_TASK_QUEUE', doc: 'Task queue the worker polls and the API starts workflows on', default: 'vmflow', schema: nonEmpty },
  temporalPort: { env: 'TEMPORAL_PORT', doc: 'gRPC port of the embedded Temporal dev server', default: '7233', schema: port },
  temporalUiPort: { env: 'TEMPORAL_UI_PORT', doc: 'Port of the embedded Temporal Web UI', default: '8233', schema: port },
  temporalUiUrl: { env: 'TEMPORAL_UI_URL', doc: 'Base URL of the Temporal Web UI, used for links in API answers', default: 'http://127.0.0.1:8233', schema: z.url() },
  temporalCliPath: { env: 'TEMPORAL_CLI_PATH', doc: 'Path to a `temporal` CLI binary to use instead of building v1.5.1 into the tools cache', schema: nonEmpty.optional() },
  mongodbUri: { env: 'MONGODB_URI', doc: 'MongoDB connection string. When set, no embedded FerretDB is started', schema: nonEmpty.optional() },
  ferretdbPort: { env: 'FERRETDB_PORT', doc: 'Port of the embedded FerretDB (MongoDB wire protocol)', default: '27017', schema: port },
  mongodbDatabase: { env: 'MONGODB_DATABASE', doc: 'Database name used with the embedded FerretDB', default: 'vmflow', schema: nonEmpty },
  apiHost: { env: 'API_HOST', doc: 'Address the REST API listens on', default: '127.0.0.1', schema: nonEmpty },
  apiPort: { env: 'API_PORT', doc: 'Port of the REST API', default: '3000', schema: port },
  openstackSimPort: { env: 'OPENSTACK_SIM_PORT', doc: 'Port of the OpenStack simulator started by `npm start`', default: '8000', schema: port },
  cloudstackSimPort: { env: 'CLOUDSTACK_SIM_PORT', doc: 'Port of the CloudStack simulator started by `npm start`', default: '8080', schema: port },
  imageStorePort: { env: 'IMAGE_STORE_PORT', doc: 'Port of the image store ("the web server" of the seed)', default: '8090', schema: port },
  startSimulators: { env: 'VMFLOW_START_SIMULATORS', doc: 'Whether `npm start` runs the cloud simulators (turn off when pointing at real clouds)', default: 'true', schema: bool },
} satisfies Record<string, Spec>;

type SpecMap = typeof CONFIG_SPEC;
export type Config = { [K in keyof SpecMap]: z.output<SpecMap[K]['schema']> } & {
  /** Where the worker and API connect: TEMPORAL_ADDRESS or the embedded dev server. */
  temporalTarget: string;
  /** Where mongoose connects: MONGODB_URI or the embedded FerretDB. */
  mongodbTarget: string;
  embeddedTemporal: boolean;
  embeddedMongo: boolean;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses and validates the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [string, Spec][]) {
    const raw = env[spec.env] === '' ? undefined : env[spec.env];
    const result = spec.schema.safeParse(raw ?? spec.default);
    if (result.success) out[key] = result.data;
    else problems.push(`${spec.env}=${JSON.stringify(raw ?? spec.default)}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length) throw new ConfigError(problems);
  const c = out as Omit<Config, 'temporalTarget' | 'mongodbTarget' | 'embeddedTemporal' | 'embeddedMongo'>;
  return {
    ...c,
    dataDir: path.resolve(c.dataDir),
    embeddedTemporal: !c.temporalAddress,
    embeddedMongo: !c.mongodbUri,
    temporalTarget: c.temporalAddress ?? `127.0.0.1:${c.temporalPort}`,
    mongodbTarget: c.mongodbUri ?? `mongodb://127.0.0.1:${c.ferretdbPort}/${c.mongodbDatabase}`,
  };
}

/** Markdown rows for the README's configuration table. */
export function configTableMarkdown(): string {
  const rows = (Object.values(CONFIG_SPEC) as Spec[]).map((s) => {
    const def = s.default === undefined ? '—' : `\`${s.default.startsWith(os.homedir()) ? s.default.replace(os.homedir(), '~') : s.default}\``;
    return `| \`${s.env}\` | ${def} | ${s.doc} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
