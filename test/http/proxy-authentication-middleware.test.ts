import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import {
  ClientNotAllowed,
  CurrentUser,
  Forbidden,
  ProxyAuthentication,
  ProxyAuthenticationLive,
  ProxyAuthLive,
  RequestBodyLimit,
  RequestBodyLimitLive,
  requireCapability,
  serveRoutes
} from "../../src/index.js"
import { refusedWith, signedIn, testConfig, testUser } from "../../src/testing/index.js"

/*
 * A host that serves its own contract with HttpApiBuilder groups, proxy authentication as its
 * HttpApiMiddleware, over a real socket: a refusal is answered with its status and
 * `{ _tag, message }` before the handler runs, a signed-in handler reads the user from
 * CurrentUser, requireCapability refuses 403 a role without the capability, and
 * RequestBodyLimit bounds a signed-in user's body (a stranger's is never read).
 */

const Who = Schema.Struct({ identity: Schema.String, clientIp: Schema.String })

class HostGroup extends HttpApiGroup.make("host")
  .add(HttpApiEndpoint.get("whoami", "/whoami").addSuccess(Who))
  .add(
    HttpApiEndpoint.get("machines", "/machines")
      .addSuccess(Schema.Struct({ count: Schema.Number }))
      .addError(Forbidden)
  )
  .add(
    HttpApiEndpoint.patch("rename", "/name")
      .setPayload(Schema.Struct({ name: Schema.String }))
      .addSuccess(Schema.Struct({ name: Schema.String }))
  )
  .middleware(RequestBodyLimit)
  .middleware(ProxyAuthentication) {}

class HostApi extends HttpApi.make("host").add(HostGroup) {}

let handled = 0
const HostLive = HttpApiBuilder.group(HostApi, "host", (handlers) =>
  handlers
    .handle("whoami", () =>
      Effect.map(CurrentUser, ({ user, clientIp }) => {
        handled++
        return { identity: user.identity, clientIp }
      })
    )
    .handle("machines", () =>
      Effect.map(requireCapability("read_machines"), () => {
        handled++
        return { count: 3 }
      })
    )
    .handle("rename", ({ payload }) => Effect.sync(() => (handled++, { name: payload.name })))
)

/**
 * The host's API behind Headtower's edge (serveRoutes: the header-line cap, one spelling per
 * path) on a test socket, on `services` (the real ones, or a test layer of headtower/testing).
 */
const served = <A, E>(services: Layer.Layer<A, E>) =>
  serveRoutes(HttpLayerRouter.addHttpApi(HostApi).pipe(Layer.provide(HostLive))).pipe(
    Layer.provide([ProxyAuthenticationLive, RequestBodyLimitLive]),
    Layer.provide(services),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

const get = (path: string, headers: Record<string, string> = {}) =>
  HttpClient.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.setHeaders(headers)))

const patch = (path: string, body: string) =>
  HttpClient.execute(HttpClientRequest.patch(path).pipe(HttpClientRequest.bodyText(body, "application/json")))

/** A JSON body past the 4 KiB limit of PATCH routes. */
const oversized = JSON.stringify({ name: "x".repeat(8_000) })

describe("ProxyAuthentication (HttpApiMiddleware)", () => {
  it.scoped("a refusal is answered with its status and { _tag, message }, and the handler never runs", () =>
    Effect.gen(function* () {
      const before = handled
      const response = yield* get("/whoami")
      expect(response.status).toBe(403)
      expect(yield* response.json).toEqual({ _tag: "ClientNotAllowed", message: "not from here" })
      expect(handled).toBe(before)
    }).pipe(Effect.provide(served(refusedWith(new ClientNotAllowed({ message: "not from here" })))))
  )

  it.scoped("a signed-in handler reads the user from CurrentUser", () =>
    Effect.gen(function* () {
      const response = yield* get("/whoami")
      expect(response.status).toBe(200)
      expect(yield* response.json).toEqual({ identity: "proxy:alice", clientIp: "127.0.0.1" })
    }).pipe(Effect.provide(served(signedIn(testUser("alice")))))
  )

  it.scoped("requireCapability refuses 403 Forbidden a role without the capability", () =>
    Effect.gen(function* () {
      const before = handled
      const response = yield* get("/machines")
      expect(response.status).toBe(403)
      expect(yield* response.json).toMatchObject({ _tag: "Forbidden" })
      expect(handled).toBe(before)
    }).pipe(Effect.provide(served(signedIn(testUser("bob", { role: "member" })))))
  )

  it.scoped("requireCapability lets a role with it through", () =>
    Effect.gen(function* () {
      const response = yield* get("/machines")
      expect(response.status).toBe(200)
      expect(yield* response.json).toEqual({ count: 3 })
    }).pipe(Effect.provide(served(signedIn(testUser("carol", { role: "viewer" })))))
  )

  it.scoped(
    "on the real services, it is authenticate's own judgement: the identity header signs in, its absence is refused",
    () =>
      Effect.gen(function* () {
        const missing = yield* get("/whoami")
        expect(missing.status).toBe(401)
        expect(yield* missing.json).toMatchObject({ _tag: "MissingIdentityHeader" })
        const signedInAnswer = yield* get("/whoami", { "Remote-User": "dave" })
        expect(signedInAnswer.status).toBe(200)
        expect(yield* signedInAnswer.json).toMatchObject({ identity: "proxy:dave" })
        // The answer depends on who asked, as every authenticated route's does.
        expect(signedInAnswer.headers["cache-control"]).toBe("no-store")
        // The first user is the owner, who may read machines.
        expect((yield* get("/machines", { "Remote-User": "dave" })).status).toBe(200)
      }).pipe(Effect.provide(served(ProxyAuthLive(testConfig()))))
  )

  it.scoped(
    "behind the edge, a request with more header lines than it judges is refused whole before authenticate",
    () =>
      Effect.gen(function* () {
        const before = handled
        const padding = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-pad-${i}`, "1"]))
        const response = yield* get("/whoami", padding)
        expect(response.status).toBe(431)
        expect(yield* response.json).toMatchObject({ _tag: "RequestHeadersTooLarge" })
        expect(handled).toBe(before)
      }).pipe(Effect.provide(served(signedIn(testUser("alice")))))
  )

  it.scoped("a signed-in user's body is read within the route's limit and decoded for the handler", () =>
    Effect.gen(function* () {
      const response = yield* patch("/name", JSON.stringify({ name: "alice" }))
      expect(response.status).toBe(200)
      expect(yield* response.json).toEqual({ name: "alice" })
      const before = handled
      const tooLarge = yield* patch("/name", oversized)
      expect(tooLarge.status).toBe(413)
      expect(yield* tooLarge.json).toMatchObject({ _tag: "PayloadTooLarge" })
      const onGet = yield* HttpClient.execute(
        HttpClientRequest.get("/whoami").pipe(HttpClientRequest.bodyText("{}", "application/json"))
      )
      expect(onGet.status).toBe(413)
      expect(handled).toBe(before)
    }).pipe(Effect.provide(served(signedIn(testUser("alice")))))
  )

  it.scoped("a stranger's oversized body is refused by authentication, never read", () =>
    Effect.gen(function* () {
      const response = yield* patch("/name", oversized)
      expect(response.status).toBe(403)
      expect(yield* response.json).toEqual({ _tag: "ClientNotAllowed", message: "not from here" })
    }).pipe(Effect.provide(served(refusedWith(new ClientNotAllowed({ message: "not from here" })))))
  )
})
