import { Effect, Layer } from "effect"
import { NodeRuntime } from "@effect/platform-node"
import { HttpServerLive, RoutesLive } from "../src/http/Server.js"
import { loadConfig, Settings } from "../src/services/Settings.js"

/*
 * Headtower's routes as `serve` runs them, but told an exporter exists while none is wired:
 * every span is recorded by Effect's default tracer and dropped, which is what every request
 * paid before tracing was switched off without an exporter. For the "tracing on" comparison.
 */
const program = Effect.gen(function* () {
  const config = yield* loadConfig(process.argv[2])
  const traced = { ...config, telemetry: { ...config.telemetry, otlpEndpoint: "http://127.0.0.1:9/v1/traces" } }
  return yield* Layer.launch(RoutesLive.pipe(Layer.provide(HttpServerLive(traced)), Layer.provide(Layer.succeed(Settings, traced))))
})
NodeRuntime.runMain(program)
