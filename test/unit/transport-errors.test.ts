import assert from 'node:assert/strict';
import { transportErrorCode, transportErrorKind } from '../../src/clouds/transport-errors';

const withCode = (code: unknown, cause?: unknown) => Object.assign(new Error('failed'), { code }, cause === undefined ? {} : { cause });

describe('transport error codes shared by the cloud and image store clients', () => {
  it('when undici reports a headers, body or connect timeout, then the kind is Timeout', () => {
    for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']) {
      assert.equal(transportErrorKind(withCode(code)), 'Timeout', code);
    }
  });

  it('when the connection is refused, reset or the host is unknown, then the kind is Network', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'UND_ERR_SOCKET', 'ECONNABORTED']) {
      assert.equal(transportErrorKind(withCode(code)), 'Network', code);
    }
  });

  it('when the code sits on the cause chain (undici wrapping a socket error), then it is found there', () => {
    const wrapped = new Error('fetch failed', { cause: new Error('other', { cause: withCode('ECONNREFUSED') }) });
    assert.equal(transportErrorCode(wrapped), 'ECONNREFUSED');
    assert.equal(transportErrorKind(wrapped), 'Network');
  });

  it('when the error has no string code or an unlisted one, then there is no kind and the caller decides', () => {
    assert.equal(transportErrorKind(new Error('plain')), undefined);
    assert.equal(transportErrorKind(withCode('ERR_INVALID_URL')), undefined);
    assert.equal(transportErrorCode(withCode('ERR_INVALID_URL')), 'ERR_INVALID_URL');
    assert.equal(transportErrorCode(withCode(20)), undefined);
    assert.equal(transportErrorKind(undefined), undefined);
  });
});
