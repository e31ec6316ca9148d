import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect, Layer, Runtime } from "effect"
import type { Server } from "node:http"
import type { AppConfig } from "../domain/AppConfig.js"
import { AssertionVerifier } from "../services/AssertionVerifier.js"
import { Authenticator } from "../services/Authenticator.js"
import { DatabaseLive } from "../services/Database.js"
import { HeadscaleClient, headscaleHttpClientLayer } from "../services/HeadscaleClient.js"
import { withTracing } from "../services/Tracing.js"
import { UserCache } from "../services/UserCache.js"
import { UserRepository } from "../services/UserRepository.js"
import { limitConnections } from "./connections.js"
import { EdgeLive, onClientError, refuse } from "./edge.js"
import { HeadscaleRoutes } from "./handlers/headscale.js"
import { HealthRoutes } from "./handlers/health.js"
import { MeRoutes } from "./handlers/me.js"
import { UsersRoutes } from "./handlers/users.js"
import { MAX_HEADER_LINES, serverOptions } from "./limits.js"
import { MetricsRoute } from "./metricsRoute.js"
import { PageRoutes } from "./pages/routes.js"
import { createServer } from "./tls.js"
import { honourTraceContextOnlyFrom } from "./traceContext.js"

/** The domain services the HTTP edge needs, each built once (layers are shared by reference). */
export const ServicesLive = Layer.mergeAll(
  Authenticator.Default,
  // The same layer Authenticator.Default depends on, so /readyz reads the keys authenticate uses.
  AssertionVerifier.Default,
  // The same layer Authenticator.Default depends on, so the users handler invalidates the one cache.
  UserCache.Default,
  DatabaseLive,
  HeadscaleClient.Default.pipe(Layer.provide(headscaleHttpClientLayer))
).pipe(Layer.provideMerge(UserRepository.Default))

/** The API's routes (Api.ts; src/http/apiRoutes.ts serves them). */
const ApiRoutes = Layer.mergeAll(MeRoutes, UsersRoutes, HeadscaleRoutes, HealthRoutes)

/**
 * `routes` served behind the edge (edge.ts) by whichever HttpServer is provided: Headtower's
 * own routes, or an embedding backend's.
 */
export const serveRoutes = <E, R>(routes: Layer.Layer<never, E, R>) =>
  HttpLayerRouter.serve(Layer.merge(EdgeLive, routes), {
    disableLogger: true,
    // One spelling per route: the router's defaults (any letter case, a trailing or doubled slash)
    // would let `/METRICS` past a proxy rule written for `/metrics`.
    routerConfig: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false }
  })

/** Every route, served by whichever HttpServer is provided, under whatever tracer is set. */
export const ServedRoutes = serveRoutes(Layer.mergeAll(ApiRoutes, PageRoutes, MetricsRoute)).pipe(
  Layer.provide(ServicesLive)
)

/** Every route, traced as the configuration says (a real socket in main and tests). */
export const RoutesLive = withTracing(ServedRoutes)

/**
 * Headtower serves no upgrades (websockets). Node hands a request with `Connection: Upgrade`
 * to an "upgrade" listener, if there is one, with its parser and every timeout detached, and the
 * platform registers one: a stranger could then hold sockets open past every limit. The listener
 * is removed as soon as it is added (`newListener` fires before the adding), so Node parses such
 * a request like any other, under the timeouts and the trace-context filter.
 */
const refuseUpgrades = (server: Server) =>
  server.on("newListener", (event: string | symbol, listener: Parameters<Server["off"]>[1]) => {
    if (event === "upgrade") queueMicrotask(() => server.off("upgrade", listener))
  })

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
          const server = createServer(config.server.tls, serverOptions, log)
          server.maxHeadersCount = MAX_HEADER_LINES + 1
          limitConnections(server, [config.server.proxyAuth.allowedCidrs, config.server.proxyAuth.trustedProxyCidrs])
          // Answer `Expect: 100-continue` only once the request was judged (requestBody.ts),
          // so a refused client never sends its body.
          server.on("checkContinue", (request, response) => server.emit("request", request, response))
          server.on(
            "clientError",
            onClientError((error, peer) => void log(refuse(error, peer)))
          )
          honourTraceContextOnlyFrom(server, config.server.proxyAuth.trustedProxyCidrs)
          refuseUpgrades(server)
          return server
        },
        { host: config.server.host, port: config.server.port }
      )
    })
  )
