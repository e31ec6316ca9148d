import * as Command from "@effect/cli/Command"
import { Effect, Layer, Option } from "effect"
import { HttpServerLive, RoutesLive } from "../http/Server.js"
import { loadConfig, Settings } from "../services/Settings.js"
import { configOption } from "./options.js"

/** Runs the server until SIGINT/SIGTERM; the runtime then closes the socket and the store. */
export const serveCommand = Command.make("serve", { config: configOption }, ({ config: path }) =>
  Effect.gen(function* () {
    const config = yield* loadConfig(Option.getOrUndefined(path))
    for (const w of config.warnings) yield* Effect.logWarning(`config: ${w.path}: ${w.message}`)
    if (!config.server.proxyAuth.enabled) {
      yield* Effect.logWarning("proxy authentication is disabled: every /api request will be answered 401")
    }
    return yield* Layer.launch(
      RoutesLive.pipe(Layer.provide(HttpServerLive(config)), Layer.provide(Layer.succeed(Settings, config)))
    )
  })
).pipe(Command.withDescription("serve Headtower's API and Users page"))
