import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer, Runtime } from "effect"
import { createServer } from "node:http"
import type { AppConfig } from "../domain/AppConfig.js"
import { Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
import { DatabaseLive } from "../services/Database.js"
import { HeadscaleClient, headscaleHttpClientLayer } from "../services/HeadscaleClient.js"
import { UserCache } from "../services/UserCache.js"
import { UserRepository } from "../services/UserRepository.js"
import { HeadtowerApi } from "./Api.js"
import { AuthenticationLive, RequestBodyLive } from "./Authentication.js"
import { EdgeLive, onClientError, refuse } from "./edge.js"
import { HeadscaleLive } from "./handlers/headscale.js"
import { HealthLive } from "./handlers/health.js"
import { MAX_CONNECTIONS, MAX_HEADER_LINES, serverOptions } from "./limits.js"
import { MeLive } from "./handlers/me.js"
import { UsersLive } from "./handlers/users.js"
import { MetricsRoute } from "./metricsRoute.js"
import { PageRoutes } from "./pages/routes.js"
import { honourTraceContextOnlyFrom } from "./traceContext.js"
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
  Layer.provide([AuthenticationLive, RequestBodyLive])
)

/** Every route, served by whichever HttpServer is provided (a real socket in main and tests). */
export const RoutesLive = Layer.unwrapEffect(
  Effect.map(Settings, ({ telemetry }) => {
    const routes = HttpLayerRouter.serve(Layer.mergeAll(EdgeLive, ApiRoutes, PageRoutes, MetricsRoute), { disableLogger: true }).pipe(
      Layer.provide(ServicesLive)
    )
    // Spans cost CPU even when nobody reads them: without an exporter they go nowhere, cheaply.
    return telemetry.otlpEndpoint === undefined ? untraced(routes) : routes
  })
)

/**
 * Node's server with every limit of limits.ts. The parser keeps one header line more than
 * MAX_HEADER_LINES, so that the edge (edge.ts) sees when a request may have been cut.
 */
export const HttpServerLive = (config: AppConfig) =>
  Layer.unwrapEffect(
    Effect.map(Effect.runtime(), (runtime) => {
      const log = Runtime.runFork(runtime)
      return NodeHttpServer.layer(
        () => {
          const server = createServer(serverOptions)
          server.maxHeadersCount = MAX_HEADER_LINES + 1
          server.maxConnections = MAX_CONNECTIONS
          // Answer `Expect: 100-continue` only once the request was judged (requestBody.ts),
          // so a refused client never sends its body.
          server.on("checkContinue", (request, response) => server.emit("request", request, response))
          server.on("clientError", onClientError((error, peer) => void log(refuse(error, peer))))
          honourTraceContextOnlyFrom(server, config.server.proxyAuth.trustedProxyCidrs)
          return server
        },
        { host: config.server.host, port: config.server.port }
      )
    })
  )
