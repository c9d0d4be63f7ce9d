/** Where traces go (src/tracing): the OTLP variables as the OpenTelemetry exporters read them. */
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { tracesUrl } from '../../src/tracing';

describe('tracing configuration', () => {
  it('when no OTLP endpoint is set, then tracing is off', () => {
    assert.equal(tracesUrl(loadConfig({})), undefined);
  });
  it('when OTEL_EXPORTER_OTLP_ENDPOINT is a base URL, then traces go to its /v1/traces', () => {
    assert.equal(tracesUrl(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })), 'http://collector:4318/v1/traces');
  });
  it('when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, then it is used as it is, over the base URL', () => {
    assert.equal(tracesUrl(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom/traces' })), 'http://b:4318/custom/traces');
  });
  it('when the endpoint is not a URL, then the configuration names the variable', () => {
    assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector 4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});
