import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { HttpServerLive, loadConfig, ProxyAuthLive, serveRoutes } from "headtower"
import { NodesRoutes } from "./routes.js"

// Headtower's configuration (HEADTOWER_CONFIG, ./headtower.yaml, HEADTOWER_* variables), then
// the routes behind proxy authentication on a server with Headtower's limits. The region is the
// README's "Embedding" code (test/docs/readme-embedding.test.ts).
// #region embedding
const main = Effect.flatMap(loadConfig(undefined), (config) =>
  Layer.launch(
    serveRoutes(NodesRoutes).pipe(Layer.provide(ProxyAuthLive(config)), Layer.provide(HttpServerLive(config)))
  )
)
// #endregion

NodeRuntime.runMain(main)
