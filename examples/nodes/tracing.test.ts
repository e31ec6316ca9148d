import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Option, Redacted } from "effect"
import { ProxyAuthLive, redactHeadersInSpans, serveRoutes } from "headtower"
import { sampleNodes, startFakeHeadscale, TEST_API_KEY, testConfig } from "headtower/testing"
import { NodesRoutes } from "./routes.js"

/*
 * The backend under its own OpenTelemetry tracer: proxy authentication's spans are children of
 * the backend's request span, with the decision as attributes, and no span holds the API key,
 * the identity or any other header value.
 */

/** InMemorySpanExporter forgets its spans on shutdown (when the server's layer is released): these are kept. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown() {
    return Promise.resolve()
  }
}

const ancestors = (span: ReadableSpan, byId: Map<string, ReadableSpan>): Array<ReadableSpan> => {
  const parentId = span.parentSpanContext?.spanId
  const parent = parentId === undefined ? undefined : byId.get(parentId)
  return parent === undefined ? [] : [parent, ...ancestors(parent, byId)]
}

describe("the nodes backend's spans", () => {
  it.scopedLive("authenticate's spans nest under the backend's request span; no key and no header values", () =>
    Effect.gen(function* () {
      const exporter = new KeptSpans()
      const headscale = yield* Effect.acquireRelease(
        Effect.promise(() => startFakeHeadscale({ apiKey: TEST_API_KEY, nodes: sampleNodes })),
        (fake) => Effect.promise(() => fake.close())
      )
      const base = testConfig()
      const config = {
        ...base,
        headscale: { ...base.headscale, url: headscale.url, apiKey: Option.some(Redacted.make(TEST_API_KEY)) }
      }
      const served = serveRoutes(NodesRoutes).pipe(
        Layer.provide(redactHeadersInSpans),
        Layer.provide(ProxyAuthLive(config)),
        Layer.provideMerge(NodeHttpServer.layerTest),
        Layer.provide(
          NodeSdk.layer(() => ({
            resource: { serviceName: "nodes-backend" },
            spanProcessor: new SimpleSpanProcessor(exporter)
          }))
        )
      )
      yield* Effect.gen(function* () {
        // The test's own client makes no span: every span recorded is the backend's.
        const client = HttpClient.withTracerDisabledWhen(yield* HttpClient.HttpClient, () => true)
        const response = yield* client.execute(
          HttpClientRequest.get("/api/nodes").pipe(
            HttpClientRequest.setHeaders({ "Remote-User": "alice-7q2", "X-Secret": "s3cr3t-9k" })
          )
        )
        expect(response.status).toBe(200)
      }).pipe(Effect.provide(served), Effect.scoped)

      const spans = exporter.getFinishedSpans()
      const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
      const request = spans.find((span) => span.name.startsWith("http.server"))!
      expect(request).toBeDefined()
      const authenticate = spans.find((span) => span.name === "Authenticator.authenticate")!
      expect(ancestors(authenticate, byId)).toContain(request)
      expect(authenticate.attributes).toMatchObject({ "auth.outcome": "authenticated", "auth.role": "owner" })
      for (const step of ["ClientIpResolver.resolve", "IdentityExtractor.extract", "HeadscaleClient.listNodes"]) {
        const span = spans.find((candidate) => candidate.name === step)
        expect(span && ancestors(span, byId), step).toContain(request)
      }
      const text = JSON.stringify(spans.map((span) => [span.name, span.attributes]))
      expect(text).not.toContain(TEST_API_KEY)
      expect(text).not.toContain("alice-7q2")
      expect(text).not.toContain("s3cr3t-9k")
    })
  )
})
