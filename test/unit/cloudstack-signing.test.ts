import assert from 'node:assert/strict';
import {
  buildSignedQuery,
  canonicalString,
  formatExpires,
  javaUrlEncode,
  parseExpires,
  signedParams,
  signRequest,
  verifySignature,
} from '../../src/clouds/cloudstack/signing';

// The published vector (CloudStack developer guide, repeated in /work/shared/CLOUD_APIS.md).
const API_KEY = 'plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg';
const SECRET = 'VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ';
const secretFor = (k: string) => (k === API_KEY ? SECRET : undefined);

describe('CloudStack request signing', () => {
  it('when signing the published listUsers vector, then the signature matches the documented value', () => {
    assert.equal(signRequest({ apiKey: API_KEY, command: 'listUsers', response: 'json' }, SECRET), 'TTpdDq/7j/J58XCRHomKoQXEQds=');
  });

  it('when parameters arrive in any order, then the canonical string sorts them case-sensitively and lower-cases it', () => {
    const s = canonicalString({ response: 'json', command: 'listZones', Zeta: 'A', apiKey: 'KEY', signature: 'ignored' });
    // 'Zeta' sorts before lower-case names (UTF-16 order), and `signature` is left out.
    assert.equal(s, 'zeta=a&apikey=key&command=listzones&response=json');
  });

  it('when values hold reserved characters, then they are encoded like Java URLEncoder with %20 for spaces', () => {
    assert.equal(javaUrlEncode('a b~c*d.e_f-g+h/i:j'), 'a%20b%7Ec*d.e_f-g%2Bh%2Fi%3Aj');
    assert.equal(javaUrlEncode('é'), '%C3%A9');
    assert.equal(javaUrlEncode('dGVzdA=='), 'dGVzdA%3D%3D');
  });

  it('when a signed query is built, then the simulator-side verifier accepts it and rejects a tampered copy', () => {
    const params = signedParams({ command: 'listTemplates', templatefilter: 'featured', name: 'Ubuntu 24.04 ~x' }, { apiKey: API_KEY, secretKey: SECRET });
    assert.deepEqual(verifySignature(params, secretFor), { ok: true, apiKey: API_KEY });
    assert.deepEqual(verifySignature({ ...params, templatefilter: 'self' }, secretFor), { ok: false, reason: 'bad-signature' });
    const query = buildSignedQuery({ command: 'listZones' }, { apiKey: API_KEY, secretKey: SECRET });
    const decoded = Object.fromEntries(new URLSearchParams(query));
    assert.deepEqual(verifySignature(decoded, secretFor), { ok: true, apiKey: API_KEY });
  });

  it('when the apiKey is unknown or the signature missing, then verification fails with that reason', () => {
    const params = signedParams({ command: 'listZones' }, { apiKey: 'other', secretKey: SECRET });
    assert.deepEqual(verifySignature(params, secretFor), { ok: false, reason: 'unknown-apikey' });
    const { signature: _drop, ...unsigned } = signedParams({ command: 'listZones' }, { apiKey: API_KEY, secretKey: SECRET });
    assert.deepEqual(verifySignature(unsigned, secretFor), { ok: false, reason: 'missing-signature' });
  });

  it('when signatureVersion 3 is used, then expires is signed and a future expiry verifies', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    const params = signedParams({ command: 'listZones' }, { apiKey: API_KEY, secretKey: SECRET }, { expiresInSeconds: 60, now });
    assert.equal(params.signatureVersion, '3');
    assert.equal(params.expires, '2025-01-01T00:01:00+0000');
    assert.deepEqual(verifySignature(params, secretFor, now), { ok: true, apiKey: API_KEY });
  });

  it('when signatureVersion 3 has a past, missing or unparsable expires, then it is rejected', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    const sign = (extra: Record<string, string>) => {
      const p: Record<string, string> = { command: 'listZones', response: 'json', apiKey: API_KEY, signatureVersion: '3', ...extra };
      return { ...p, signature: signRequest(p, SECRET) };
    };
    assert.deepEqual(verifySignature(sign({ expires: '2024-12-31T23:59:59+0000' }), secretFor, now), { ok: false, reason: 'expired' });
    assert.deepEqual(verifySignature(sign({}), secretFor, now), { ok: false, reason: 'missing-expires' });
    assert.deepEqual(verifySignature(sign({ expires: 'tomorrow' }), secretFor, now), { ok: false, reason: 'bad-expires' });
    assert.deepEqual(verifySignature(sign({ expires: '2025-01-01T00:05:00Z' }), secretFor, now), { ok: true, apiKey: API_KEY });
  });

  it('when expires uses either client format, then both parse to the same instant', () => {
    assert.equal(parseExpires('2021-10-04T09:24:38+0000')?.toISOString(), '2021-10-04T09:24:38.000Z');
    assert.equal(parseExpires('2021-10-04T09:24:38Z')?.toISOString(), '2021-10-04T09:24:38.000Z');
    assert.equal(parseExpires('2021-10-04T11:24:38+02:00')?.toISOString(), '2021-10-04T09:24:38.000Z');
    assert.equal(parseExpires('2021-02-31T00:00:00Z'), undefined);
    assert.equal(formatExpires(new Date('2021-10-04T09:24:38.123Z')), '2021-10-04T09:24:38+0000');
  });
});
