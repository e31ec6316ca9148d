import { Effect, Layer, type Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { quietTracer } from "../../src/services/spans.js"
import { tracesUrl, withTracing } from "../../src/services/Tracing.js"
import { testConfigLayer } from "../../src/testing/config.js"

/** The tracer a layer served `withTracing` is built under. */
const tracerWith = (otlpEndpoint: string | undefined) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        let seen: Tracer.Tracer | undefined
        const layer = withTracing(Layer.effectDiscard(Effect.map(Effect.tracer, (tracer) => (seen = tracer))))
        yield* Layer.build(
          layer.pipe(
            Layer.provide(testConfigLayer({}, { telemetry: { otlpEndpoint, serviceName: "t", exportIdentity: false } }))
          )
        )
        return seen
      })
    )
  )

describe("withTracing", () => {
  it("installs no exporter without an OTLP endpoint: spans go to the quiet tracer", async () => {
    expect(await tracerWith(undefined)).toBe(quietTracer)
  })

  it("installs the OpenTelemetry tracer when an endpoint is configured", async () => {
    // Nothing is exported: no span is made, so the unreachable endpoint is never contacted.
    const tracer = await tracerWith("http://127.0.0.1:9")
    expect(tracer).not.toBe(await Effect.runPromise(Effect.tracer))
    expect(tracer).not.toBe(quietTracer)
  })

  it("sends traces to <endpoint>/v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT is defined", () => {
    expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces")
    expect(tracesUrl("http://collector:4318/otlp/")).toBe("http://collector:4318/otlp/v1/traces")
  })
})
