/**
 * Issue 12, item 9: every secret-bearing key is redacted at any depth and in any case — each key
 * is logged here, at the top, nested six levels down, inside arrays, errors and child bindings,
 * in camelCase, UPPER_SNAKE and kebab-case — and no value may reach the output.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { CONFIG_SPEC } from '../../src/config';
import { createLogger, isSecretKey, redactSecrets, SECRET_KEYS } from '../../src/logger';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

const snake = (k: string) => k.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
const kebab = (k: string) => k.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();

/** Every key that names a secret: the logger's list, the config keys and env names marked secret, and the ones the issue names. */
const KEYS = [
  ...SECRET_KEYS,
  ...Object.entries(CONFIG_SPEC).flatMap(([k, spec]) => ('secret' in spec && spec.secret ? [k, spec.env] : [])),
  'imageStoreToken', 'imageStoreSigningSecret', 'signingSecret', 'webhookSecret', 'serviceToken', 'codecToken', 'X-Vmflow-Signature', 'Authorization', 'x-auth-token',
];

describe('log redaction: every secret-bearing key, at any depth, in any case', () => {
  it('when each secret key is logged top-level, nested six deep, in arrays, errors and bindings, in three spellings, then no value is in the output', () => {
    const { lines, stream } = capture();
    const log = createLogger('trace', 'redaction-test', stream);
    const values: string[] = [];
    for (const key of new Set(KEYS)) {
      for (const spelling of new Set([key, snake(key), kebab(key), key.toUpperCase()])) {
        const v = () => {
          const s = `s3cr3t-${crypto.randomBytes(6).toString('hex')}`;
          values.push(s);
          return s;
        };
        log.info({ [spelling]: v() }, 'top level');
        log.info({ a: { b: { c: { d: { e: { f: { [spelling]: v() } } } } } } }, 'six deep');
        log.info({ items: [{ ok: 1 }, { nested: [{ [spelling]: v() }] }] }, 'in arrays');
        log.error({ err: Object.assign(new Error('failed'), { [spelling]: v(), cause: { [spelling]: v() } }) }, 'in an error');
        log.child({ ctx: { [spelling]: v() } }).child({ component: 'grandchild', [spelling]: v() }).info('in bindings');
      }
    }
    const out = lines.join('');
    for (const s of values) assert.ok(!out.includes(s), `a secret value reached the log: ${s}`);
    assert.ok(out.includes('[REDACTED]'));
    assert.ok(out.includes('"msg":"six deep"'), 'the lines themselves are still logged');
    assert.ok(out.includes('"component":"grandchild"') && out.includes('"ctx":{'), 'a grandchild keeps its parent\'s bindings');
  });

  it('when keys only look like secrets (tokens counts, secrets list, expiresAt), then they are kept; a cycle does not hang the logger', () => {
    assert.equal(isSecretKey('tokens'), false);
    assert.equal(isSecretKey('secrets'), false);
    assert.equal(isSecretKey('expiresAt'), false);
    assert.equal(isSecretKey('IMAGE_STORE_TOKEN'), true);
    assert.equal(isSecretKey('Webhook-Secret'), true);
    const cyclic: Record<string, unknown> = { name: 'n', password: 'p' };
    cyclic.self = cyclic;
    assert.deepEqual(redactSecrets(cyclic), { name: 'n', password: '[REDACTED]', self: '[Circular]' });
    assert.deepEqual(redactSecrets({ tokens: { issued: 2 }, secrets: ['password'] }), { tokens: { issued: 2 }, secrets: ['password'] });
  });
});
