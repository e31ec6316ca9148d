import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpServerLive, ServedRoutes } from "../src/http/Server.js"
import { loadConfig, Settings } from "../src/services/Settings.js"

/*
 * Headtower's routes as `serve` runs them, but past `withTracing`'s decision: every span is
 * recorded by Effect's default tracer and dropped, which is what every request paid before
 * tracing was switched off without an exporter. For the "tracing on" comparison.
 */
const program = Effect.gen(function* () {
  const config = yield* loadConfig(process.argv[2])
  return yield* Layer.launch(
    ServedRoutes.pipe(Layer.provide(HttpServerLive(config)), Layer.provide(Layer.succeed(Settings, config)))
  )
})
NodeRuntime.runMain(program)
