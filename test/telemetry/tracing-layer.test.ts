import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { TracingLive, tracesUrl } from "../../src/services/Tracing.js"
import { testConfigLayer } from "../fixtures/config.js"

const tracerWith = (otlpEndpoint: string | undefined) =>
  Effect.runPromise(
    Effect.tracer.pipe(
      Effect.provide(TracingLive.pipe(Layer.provide(testConfigLayer({}, { telemetry: { otlpEndpoint, serviceName: "t", exportIdentity: false } }))))
    )
  )

describe("TracingLive", () => {
  it("installs no exporter without an OTLP endpoint: Effect's own tracer stays", async () => {
    expect(await tracerWith(undefined)).toBe(await Effect.runPromise(Effect.tracer))
  })

  it("installs the OpenTelemetry tracer when an endpoint is configured", async () => {
    // Nothing is exported: no span is made, so the unreachable endpoint is never contacted.
    expect(await tracerWith("http://127.0.0.1:9")).not.toBe(await Effect.runPromise(Effect.tracer))
  })

  it("sends traces to <endpoint>/v1/traces, as OTEL_EXPORTER_OTLP_ENDPOINT is defined", () => {
    expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces")
    expect(tracesUrl("http://collector:4318/otlp/")).toBe("http://collector:4318/otlp/v1/traces")
  })
})
