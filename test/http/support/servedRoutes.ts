import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Layer, ManagedRuntime } from "effect"
import { createServer } from "node:http"
import type { AppConfig } from "../../../src/domain/AppConfig.js"
import { RoutesLive } from "../../../src/http/Server.js"
import { Settings } from "../../../src/services/Settings.js"

/**
 * Headtower's routes served by a real Node server on a free port of 127.0.0.1, over `config`
 * and the layers a test swaps in (`extra`: key timing, a log level): `port` to call, `stop` to
 * close it.
 */
export const serveRoutes = async <ROut = never>(
  config: AppConfig,
  extra: Layer.Layer<ROut> = Layer.empty as Layer.Layer<ROut>
) => {
  const runtime = ManagedRuntime.make(
    RoutesLive.pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })),
      Layer.provide(Layer.succeed(Settings, config)),
      Layer.provide(extra)
    )
  )
  const server = await runtime.runPromise(HttpServer.HttpServer)
  return { port: (server.address as HttpServer.TcpAddress).port, stop: () => runtime.dispose() }
}
