import { HttpLayerRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Layer } from "effect"
import { createServer } from "node:http"
import type { AppConfig } from "../domain/AppConfig.js"
import { Authenticator } from "../services/Authenticator.js"
import { DatabaseLive } from "../services/Database.js"
import { HeadscaleClient, headscaleHttpClientLayer } from "../services/HeadscaleClient.js"
import { UserRepository } from "../services/UserRepository.js"
import { HeadtowerApi } from "./Api.js"
import { AuthenticationLive } from "./Authentication.js"
import { HeadscaleLive } from "./handlers/headscale.js"
import { HealthLive } from "./handlers/health.js"
import { MeLive } from "./handlers/me.js"
import { UsersLive } from "./handlers/users.js"
import { PageRoutes } from "./pages/routes.js"

/** The domain services the HTTP edge needs, each built once (layers are shared by reference). */
export const ServicesLive = Layer.mergeAll(
  Authenticator.Default,
  DatabaseLive,
  HeadscaleClient.Default.pipe(Layer.provide(headscaleHttpClientLayer))
).pipe(Layer.provideMerge(UserRepository.Default))

const ApiRoutes = HttpLayerRouter.addHttpApi(HeadtowerApi).pipe(
  Layer.provide([MeLive, UsersLive, HeadscaleLive, HealthLive]),
  Layer.provide(AuthenticationLive)
)

/** Every route, served by whichever HttpServer is provided (a real socket in main and tests). */
export const RoutesLive = HttpLayerRouter.serve(Layer.mergeAll(ApiRoutes, PageRoutes), { disableLogger: true }).pipe(
  Layer.provide(ServicesLive)
)

export const HttpServerLive = (config: AppConfig) =>
  NodeHttpServer.layer(createServer, { host: config.server.host, port: config.server.port })
