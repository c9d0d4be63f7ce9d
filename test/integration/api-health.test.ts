import assert from 'node:assert/strict';
import { startTestApi, type TestApi } from '../harness/api';
import { apiFetch } from '../harness/http';

describe('API: health, readiness and error bodies', function () {
  this.timeout(120_000);
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => {
    await api?.close();
  });

  it('when /healthz is asked, then it answers 200 ok', async () => {
    const res = await apiFetch(`${api.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()) as unknown, { status: 'ok' });
  });

  it('when Temporal and MongoDB are reachable, then /readyz answers 200 with both checks ok', async () => {
    const res = await apiFetch(`${api.url}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.deepEqual(body.checks, { temporal: 'ok', mongodb: 'ok' });
  });

  it('when a route does not exist, then a 404 JSON error with a request id comes back', async () => {
    // Outside /api/v1: under it, anything but the public routes answers 401 without a session.
    const res = await apiFetch(`${api.url}/nothing-here`, { headers: { 'x-request-id': 'req-test-1' } });
    assert.equal(res.status, 404);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'not_found');
    assert.equal(body.error.requestId, 'req-test-1');
    assert.equal(res.headers.get('x-request-id'), 'req-test-1');
  });

  it('when the body is malformed JSON, then a 400 names the body, never a 500', async () => {
    const res = await apiFetch(`${api.url}/api/v1/anything`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'validation_failed');
    assert.equal(body.error.fields[0].field, '(body)');
  });

  it('when the body is larger than the limit, then 413 comes back', async () => {
    const res = await apiFetch(`${api.url}/api/v1/anything`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ blob: 'x'.repeat(300 * 1024) }),
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as any).error.code, 'payload_too_large');
  });

  it('when MongoDB is unreachable, then /readyz answers 503 naming mongodb', async () => {
    const other = await startTestApi();
    try {
      await other.deps.db.close();
      const res = await apiFetch(`${other.url}/readyz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as any;
      assert.deepEqual(body.failing, ['mongodb']);
      assert.equal(body.checks.temporal, 'ok');
    } finally {
      await other.close();
    }
  });
});
