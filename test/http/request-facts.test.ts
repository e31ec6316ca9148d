import { HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer } from "effect"
import { createServer } from "node:http"
import { connect } from "node:net"
import { requestFactsOf } from "../../src/http/requestFacts.js"

describe("requestFactsOf", () => {
  it("a request not backed by Node's message has no peer and no headers, so it fails closed", () => {
    const web = new Request("http://127.0.0.1/api/me", {
      headers: [
        ["Remote-User", "alice"],
        ["Remote-User", "bob"]
      ]
    })
    // As a non-Node platform or a middleware would: an address set on the request, headers joined.
    const request = HttpServerRequest.fromWeb(web).modify({ remoteAddress: "127.0.0.1" })
    expect(requestFactsOf(request)).toEqual({ peer: undefined, headers: new Map() })
  })
})

describe("requestFactsOf on a real Node request", () => {
  // Sent byte for byte: repeated names in mixed case, and names an object lookup could confuse.
  const RAW_HEADERS = [
    "Host: 127.0.0.1",
    "Remote-User: alice",
    "remote-user: bob",
    "REMOTE-EMAIL: alice@example.com",
    "Remote-Name:  Alice  ",
    "__proto__: x",
    "Connection: close"
  ]
  const NAMES = [
    "remote-user",
    "remote-email",
    "remote-name",
    "__proto__",
    "constructor",
    "toString",
    "x-absent",
    "host"
  ]

  it.effect("every value of each header, in order, exactly as Node's headersDistinct has it", () =>
    Effect.gen(function* () {
      const seen = yield* Deferred.make<{ readonly facts: Array<unknown>; readonly distinct: Array<unknown> }>()
      const app = Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const { headers } = requestFactsOf(request)
        const distinct = NodeHttpServerRequest.toIncomingMessage(request).headersDistinct
        yield* Deferred.succeed(seen, {
          facts: NAMES.map((name) => headers.get(name)),
          distinct: NAMES.map((name) => (Object.hasOwn(distinct, name) ? distinct[name] : undefined))
        })
        return HttpServerResponse.empty()
      })
      const server = yield* HttpServer.serve(app).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 })),
        Layer.build,
        Effect.map((context) => Context.get(context, HttpServer.HttpServer))
      )
      const port = (server.address as HttpServer.TcpAddress).port
      yield* Effect.async<void>((resume) => {
        const socket = connect(port, "127.0.0.1", () =>
          socket.end(`GET / HTTP/1.1\r\n${RAW_HEADERS.join("\r\n")}\r\n\r\n`)
        )
        socket.on("data", () => {}).on("close", () => resume(Effect.void))
      })
      const { facts, distinct } = yield* Deferred.await(seen)
      expect(facts).toEqual(distinct)
      expect(facts.slice(0, 4)).toEqual([["alice", "bob"], ["alice@example.com"], ["Alice"], ["x"]])
      expect(facts.slice(4, 7)).toEqual([undefined, undefined, undefined])
    }).pipe(Effect.scoped)
  )
})
