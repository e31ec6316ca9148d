import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { AppConfig } from "../domain/AppConfig.js"
import { Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
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
import { untraced } from "./untraced.js"

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

/** Every route, served by whichever HttpServer is provided (a real socket in main and tests). */
export const RoutesLive = Layer.unwrapEffect(
  Effect.map(Settings, ({ telemetry }) => {
    const routes = HttpLayerRouter.serve(Layer.mergeAll(ApiRoutes, PageRoutes, MetricsRoute), { disableLogger: true }).pipe(
      Layer.provide(ServicesLive)
    )
    // Spans cost CPU even when nobody reads them: without an exporter they go nowhere, cheaply.
    return telemetry.otlpEndpoint === undefined ? untraced(routes) : routes
  })
)

export const HttpServerLive = (config: AppConfig) =>
  NodeHttpServer.layer(createServer, { host: config.server.host, port: config.server.port })
