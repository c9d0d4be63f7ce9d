/**
 * OpenTelemetry traces across API → workflow → activity → cloud HTTP call, exported by OTLP/HTTP
 * when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, off otherwise.
 *
 * Each process registers one tracer provider (AsyncLocalStorage context, W3C trace context). The
 * API opens a server span per request (named by route template, like the metrics); Temporal's
 * OpenTelemetry plugin carries the context in workflow and activity headers (client interceptor in
 * the API, workflow and activity interceptors in the worker, workflow spans exported through a
 * sink); every cloud HTTP call is a client span under the activity that made it (cloudCallSpan,
 * beside its metric). Span names and attributes hold templates and enums only: no URL, query
 * string, user name or secret, as for metrics.
 */
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { routeTemplate } from '../metrics/http';

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Flushes what is batched and stops exporting. */
  shutdown(): Promise<void>;
}

/** Where traces go, or undefined when tracing is off. */
export function tracesUrl(config: Pick<Config, 'otelEndpoint' | 'otelTracesEndpoint'>): string | undefined {
  if (config.otelTracesEndpoint) return config.otelTracesEndpoint;
  if (config.otelEndpoint) return `${config.otelEndpoint.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/** Registers this process's tracer provider when tracing is configured. */
export function startTracing(config: Config, serviceName: 'vmflow-api' | 'vmflow-worker', log: Logger): Tracing | undefined {
  const url = tracesUrl(config);
  if (!url) return undefined;
  const resource = new Resource({ 'service.name': serviceName });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: config.otelExportDelayMs });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register();
  log.info({ url: new URL(url).origin + new URL(url).pathname }, 'exporting OpenTelemetry traces');
  return {
    resource,
    spanProcessor,
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => log.warn({ err }, 'traces not flushed'));
    },
  };
}

const tracer = () => trace.getTracer('vmflow');

/**
 * A finished cloud HTTP call as a client span of the current context (the activity's span): the
 * call is timed by its caller, so the span is recorded after it with its start and end times.
 * A no-op when no provider is registered.
 */
export function cloudCallSpan(cloud: 'openstack' | 'cloudstack', method: string, operation: string, status: string, seconds: number): void {
  const end = Date.now();
  const span = tracer().startSpan(
    `${cloud} ${method} ${operation}`,
    { kind: SpanKind.CLIENT, startTime: end - seconds * 1000, attributes: { 'vmflow.cloud': cloud, 'http.request.method': method, 'vmflow.cloud.operation': operation, 'vmflow.cloud.status': status } },
    context.active(),
  );
  if (/^\d+$/.test(status)) span.setAttribute('http.response.status_code', Number(status));
  if (!/^[23]\d\d$/.test(status)) span.setStatus({ code: SpanStatusCode.ERROR, message: status });
  span.end(end);
}

/**
 * A server span per API request, active while the request is handled (so the workflow a handler
 * starts carries it), named by method and route template once the answer is sent. A caller's
 * W3C traceparent header makes it a child of the caller's span.
 */
export function httpServerSpans(): RequestHandler {
  return (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer().startSpan(`${req.method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
    if (!span.isRecording()) return next();
    res.on('finish', () => {
      const route = routeTemplate(req, res);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
