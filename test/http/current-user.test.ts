import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ClientNotAllowed } from "../../src/domain/errors.js"
import { authenticatedRoute, CurrentUser } from "../../src/http/Authentication.js"
import { serveRoutes } from "../../src/http/Server.js"
import { refusedWith, signedIn, testUser } from "../../src/testing/index.js"

/*
 * A host's plain router route (no HttpApi contract) behind authenticate: the handler reads the
 * user from CurrentUser, and runs only for a signed-in user whose body is within the limit.
 */

let calls = 0
const WhoAmI = authenticatedRoute(
  "GET",
  "/whoami",
  Effect.flatMap(CurrentUser, ({ user, clientIp }) => {
    calls++
    return HttpServerResponse.json({ identity: user.identity, clientIp })
  })
)

const served = (authentication: ReturnType<typeof signedIn | typeof refusedWith>) =>
  serveRoutes(WhoAmI).pipe(Layer.provide(authentication), Layer.provideMerge(NodeHttpServer.layerTest))

describe("authenticatedRoute", () => {
  it.scoped("the handler reads the signed-in user from CurrentUser", () =>
    Effect.gen(function* () {
      const response = yield* HttpClient.get("/whoami")
      expect(response.status).toBe(200)
      expect(yield* response.json).toEqual({ identity: "proxy:alice", clientIp: "127.0.0.1" })
    }).pipe(Effect.provide(served(signedIn(testUser("alice")))))
  )

  it.scoped("a refusal is answered with its status and body, and the handler never runs", () =>
    Effect.gen(function* () {
      const before = calls
      const response = yield* HttpClient.get("/whoami")
      expect(response.status).toBe(403)
      expect(yield* response.json).toEqual({ _tag: "ClientNotAllowed", message: "not from here" })
      expect(calls).toBe(before)
    }).pipe(Effect.provide(served(refusedWith(new ClientNotAllowed({ message: "not from here" })))))
  )

  it.scoped("a body on a route that takes none is refused 413 before the handler", () =>
    Effect.gen(function* () {
      const before = calls
      const response = yield* HttpClient.execute(
        HttpClientRequest.get("/whoami").pipe(HttpClientRequest.bodyText("{}", "application/json"))
      )
      expect(response.status).toBe(413)
      expect(calls).toBe(before)
    }).pipe(Effect.provide(served(signedIn(testUser("alice")))))
  )
})
