import * as Headers from "@effect/platform/Headers"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import { Effect, Layer } from "effect"
import type { TelemetryConfig } from "../domain/AppConfig.js"
import { Settings } from "./Settings.js"
import { quietTracer } from "./spans.js"

/*
 * Span export. With `telemetry.otlp_endpoint` (or OTEL_EXPORTER_OTLP_ENDPOINT) set, every span
 * goes to that collector over OTLP/HTTP; without it no exporter exists and spans stay in the
 * process. The exporter speaks OTLP/HTTP JSON, which every collector accepts.
 */

/** The generic endpoint is a base URL: the traces signal lives under `/v1/traces` (OTLP spec). */
export const tracesUrl = (endpoint: string) => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/*
 * The platform's HTTP spans copy every request and response header into attributes, redacting
 * only a few names. Identity headers are configurable and forwarded-for headers name people's
 * addresses, so every header outside this list is redacted: the authentication spans carry
 * the decision instead.
 */
const HEADERS_SHOWN_IN_SPANS = ["host", "accept", "content-type", "content-length", "user-agent", "traceparent"]
export const redactHeadersInSpans = Layer.locallyScoped(Headers.currentRedactedNames, [
  new RegExp(`^(?!(?:${HEADERS_SHOWN_IN_SPANS.join("|")})$)`, "i")
])

/*
 * The OpenTelemetry SDK and exporter are imported only when an endpoint is configured: loaded
 * unconditionally they were about 10 MiB of a server's memory that exports nothing.
 */
const exporter = (telemetry: TelemetryConfig, endpoint: string) =>
  Layer.unwrapEffect(
    Effect.promise(async () => {
      const [NodeSdk, { OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
        import("@effect/opentelemetry/NodeSdk"),
        import("@opentelemetry/exporter-trace-otlp-http"),
        import("@opentelemetry/sdk-trace-base")
      ])
      return NodeSdk.layer(() => ({
        resource: { serviceName: telemetry.serviceName },
        // Batched: a request never waits on the collector; what is queued is flushed on shutdown.
        spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(endpoint) }))
      }))
    })
  )

/**
 * Serves `layer` with spans exactly as the configuration says — the one place that decides.
 * With an endpoint, every span is exported. Without one nobody reads spans, and they cost CPU
 * all the same: the request span is off and every other span goes to `quietTracer`, under which
 * the services' named spans and annotations are skipped (src/services/spans.ts).
 * Headers are redacted in both.
 */
export const withTracing = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R | Settings> =>
  Layer.unwrapEffect(
    Effect.map(Settings, ({ telemetry }) =>
      (telemetry.otlpEndpoint === undefined
        ? untraced(layer)
        : layer.pipe(Layer.provide(Layer.discard(exporter(telemetry, telemetry.otlpEndpoint))))
      ).pipe(Layer.provide(redactHeadersInSpans))
    )
  )

/**
 * `layer` with the request span off and every other span going to `quietTracer`.
 * (`Effect.withTracerEnabled(false)` was measured slower: spans become no-op spans, and every
 * `Effect.annotateCurrentSpan` then builds and drops an exception.) The two settings are
 * provided one after the other: merged (`Layer.mergeAll`), they outlived the layer's scope and
 * left the builder's own fiber on the quiet tracer.
 */
export const untraced = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  layer.pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.setTracer(quietTracer)),
    Layer.provide(Layer.setTracerTiming(false))
  )
