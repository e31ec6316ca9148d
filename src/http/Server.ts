import { HttpLayerRouter, HttpMiddleware } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { AppConfig } from "../domain/AppConfig.js"
import { Authenticator } from "../services/Authenticator.js"
import { Config } from "../services/Config.js"
import { DatabaseLive } from "../services/Database.js"
import { HeadscaleClient, headscaleHttpClientLayer } from "../services/HeadscaleClient.js"
import { UserCache } from "../services/UserCache.js"
import { UserRepository } from "../services/UserRepository.js"
import { HeadtowerApi } from "./Api.js"
import { AuthenticationLive } from "./Authentication.js"
import { HeadscaleLive } from "./handlers/headscale.js"
import { HealthLive } from "./handlers/health.js"
import { MeLive } from "./handlers/me.js"
import { UsersLive } from "./handlers/users.js"
import { MetricsRoute } from "./metricsRoute.js"
import { PageRoutes } from "./pages/routes.js"

/** The domain services the HTTP edge needs, each built once (layers are shared by reference). */
export const ServicesLive = Layer.mergeAll(
  Authenticator.Default,
  // The same layer Authenticator.Default depends on, so the users handler invalidates the one cache.
  UserCache.Default,
  DatabaseLive,
  HeadscaleClient.Default.pipe(Layer.provide(headscaleHttpClientLayer))
).pipe(Layer.provideMerge(UserRepository.Default))

const ApiRoutes = HttpLayerRouter.addHttpApi(HeadtowerApi).pipe(
  Layer.provide([MeLive, UsersLive, HeadscaleLive, HealthLive]),
  Layer.provide(AuthenticationLive)
)

/*
 * Spans are part of the design, but with no exporter nobody reads them, and recording them
 * is not free: the server's per-request span (with traceparent parsing and attributes) and
 * every Effect.fn span inside authenticate. Without an exporter both are switched off for
 * the whole server: the request span by the middleware's predicate, the rest by turning the
 * tracer off in the fibers every request is forked from (spans become the no-op span).
 */
const untraced = <A, E, R>(layer: Layer.Layer<A, E, R>) =>
  layer.pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(Layer.setTracerEnabled(false))
  )

/** Every route, served by whichever HttpServer is provided (a real socket in main and tests). */
export const RoutesLive = Layer.unwrapEffect(
  Effect.map(Config, ({ telemetry }) => {
    const routes = HttpLayerRouter.serve(Layer.mergeAll(ApiRoutes, PageRoutes, MetricsRoute), { disableLogger: true }).pipe(
      Layer.provide(ServicesLive)
    )
    return telemetry.otlpEndpoint === undefined ? untraced(routes) : routes
  })
)

export const HttpServerLive = (config: AppConfig) =>
  NodeHttpServer.layer(createServer, { host: config.server.host, port: config.server.port })
