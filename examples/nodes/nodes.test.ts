import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ClientNotAllowed, serveRoutes } from "headtower"
import { FakeHeadscale, FakeHeadscaleLive, refusedWith, sampleNodes, signedIn, testUser } from "headtower/testing"
import { NodesRoutes } from "./routes.js"

/** The example backend on a test socket, its proxy authentication swapped for `authentication`. */
const served = (authentication: ReturnType<typeof signedIn | typeof refusedWith>) =>
  serveRoutes(NodesRoutes).pipe(
    Layer.provide(authentication),
    Layer.provideMerge(FakeHeadscaleLive({ nodes: sampleNodes })),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

describe("the nodes backend", () => {
  it.scoped("GET /api/nodes reaches its handler with the signed-in user, and lists Headscale's nodes", () =>
    Effect.gen(function* () {
      const response = yield* HttpClient.get("/api/nodes")
      expect(response.status).toBe(200)
      const body = (yield* response.json) as { viewer: string; nodes: ReadonlyArray<{ name: string }> }
      expect(body.viewer).toBe("proxy:alice")
      expect(body.nodes.map((node) => node.name)).toHaveLength(sampleNodes.length)
      // With the credentials authenticate handed over.
      expect((yield* FakeHeadscale).requests.map((request) => request.auth)).toEqual(["valid"])
    }).pipe(Effect.provide(served(signedIn(testUser("alice", { role: "viewer" })))))
  )

  it.scoped("a user whose role lacks read_machines is refused 403 Forbidden before the handler runs", () =>
    Effect.gen(function* () {
      const response = yield* HttpClient.get("/api/nodes")
      expect(response.status).toBe(403)
      expect(yield* response.json).toMatchObject({ _tag: "Forbidden" })
      expect((yield* FakeHeadscale).requests).toEqual([])
    }).pipe(Effect.provide(served(signedIn(testUser("bob", { role: "member" })))))
  )

  it.scoped("a refused request is answered with the refusal's status, and the handler never runs", () =>
    Effect.gen(function* () {
      const response = yield* HttpClient.get("/api/nodes")
      expect(response.status).toBe(403)
      expect(yield* response.json).toEqual({ _tag: "ClientNotAllowed", message: "not from here" })
      expect((yield* FakeHeadscale).requests).toEqual([])
    }).pipe(Effect.provide(served(refusedWith(new ClientNotAllowed({ message: "not from here" })))))
  )

  it.scoped("/healthz answers anyone", () =>
    Effect.gen(function* () {
      const response = yield* HttpClient.get("/healthz")
      expect(response.status).toBe(200)
    }).pipe(Effect.provide(served(refusedWith(new ClientNotAllowed({ message: "not from here" })))))
  )
})
