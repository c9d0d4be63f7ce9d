/**
 * The API's contract as the tests read it: the real app built without servers (createApp only
 * wires objects together; models, the catalog and the Temporal client are used when a request
 * comes), its declared routes and the OpenAPI document generated from them.
 */
import type { Express } from 'express';
import mongoose from 'mongoose';
import { z } from 'zod';
import { createApp } from '../../api/app';
import { contractOf, type ApiContract } from '../../api/openapi';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { generateKey, keyringOf } from '../../src/secrets/keyring';
import type { TemporalClientHandle } from '../../src/temporal/client';

type Json = any;

export function appWithoutConnections(config: Config = loadConfig({})): Express {
  return createApp({
    config,
    db: mongoose.createConnection(),
    temporal: { client: {} } as unknown as TemporalClientHandle,
    logger: createLogger('silent'),
    keyring: keyringOf(generateKey()),
  });
}

let contract: ApiContract | undefined;
/** The contract of an app with the default configuration (built once). */
export function apiContract(): ApiContract {
  contract ??= contractOf(appWithoutConnections());
  return contract;
}

/** The OpenAPI document of apiContract(). */
export function apiDocument(): Json {
  return apiContract().document();
}

/**
 * A zod validator for one of the generated document's component schemas (z.fromJSONSchema,
 * references resolved): what a client that reads only the document would accept.
 */
export function documentedSchema(name: string, doc: Json = apiDocument()): z.ZodType {
  const schemas = doc.components.schemas as Record<string, unknown>;
  if (!schemas[name]) throw new Error(`the document has no schema ${name}`);
  const defs = JSON.parse(JSON.stringify(schemas).replaceAll('"#/components/schemas/', '"#/$defs/')) as Record<string, unknown>;
  return z.fromJSONSchema({ $ref: `#/$defs/${name}`, $defs: defs } as Parameters<typeof z.fromJSONSchema>[0]);
}
