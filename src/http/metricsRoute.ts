import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { PROMETHEUS_CONTENT_TYPE } from "../domain/prometheusText.js"
import { prometheusText } from "../services/Metrics.js"
import { withoutBody } from "./requestBody.js"

/**
 * `GET /metrics` for Prometheus, unauthenticated like `/healthz` and like the exporters
 * Prometheus scrapes everywhere: a scraper connects directly, not through the proxy's login,
 * and every label is a closed set (outcomes, error tags, routes, roles) naming no person or
 * address. Operators who publish Headtower beyond their network block `/metrics` at the
 * proxy (docs/replicas.md).
 */
export const MetricsRoute = HttpLayerRouter.add("GET", "/metrics", (request) =>
  withoutBody(
    request,
    Effect.map(prometheusText, (text) =>
      HttpServerResponse.text(text, { contentType: PROMETHEUS_CONTENT_TYPE, headers: { "cache-control": "no-store" } })
    )
  )
)
