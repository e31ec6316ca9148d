import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { ClientIpDecision } from "../../src/domain/ClientIp.js"
import type { ClientIpError } from "../../src/domain/errors.js"
import { type RequestFacts, requestFacts } from "../../src/domain/RequestFacts.js"
import { ClientIpResolver } from "../../src/services/ClientIpResolver.js"
import { type ProxyAuthOverrides, testConfig, testConfigLayer } from "../fixtures/config.js"
import { recordSpans } from "../fixtures/recordingTracer.js"

const resolverWith = (overrides: ProxyAuthOverrides = {}) =>
  ClientIpResolver.Default.pipe(Layer.provide(testConfigLayer(overrides)))

const facts = (peer: string | undefined, headers: Record<string, string | ReadonlyArray<string>> = {}): RequestFacts =>
  requestFacts(peer, Object.entries(headers))

/** Runs `resolve` under a recording tracer, so the annotations can be read back. */
const resolveTraced = (request: RequestFacts) =>
  Effect.gen(function*() {
    const resolver = yield* ClientIpResolver
    const { exit, spans } = yield* recordSpans(resolver.resolve(request))
    const span = spans.find((s) => s.name === "ClientIpResolver.resolve")
    if (span === undefined) throw new Error("resolve created no ClientIpResolver.resolve span")
    // Effect adds its own attributes (code.stacktrace on failure); ours are the client_ip.* ones.
    const all = Object.fromEntries(span.attributes)
    const attributes = Object.fromEntries(Object.entries(all).filter(([key]) => key.startsWith("client_ip.")))
    return { exit, all, attributes }
  })

const XFF = { ipHeader: "X-Forwarded-For" } as const

describe("ClientIpResolver", () => {
  it.effect("resolve needs nothing from its caller (R = never) and fails only with ClientIpError", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const effect: Effect.Effect<ClientIpDecision, ClientIpError, never> = resolver.resolve(facts("127.0.0.1"))
      expect((yield* effect).clientIp.text).toBe("127.0.0.1")
    }).pipe(Effect.provide(resolverWith())))

  it.effect("ip_header unset: uses the socket address, not X-Forwarded-For, X-Real-IP, or other forwarded headers", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const decision = yield* resolver.resolve(
        facts("192.0.2.7", { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", forwarded: "for=127.0.0.1" })
      )
      expect(decision).toMatchObject({ source: "socket", headerEntry: undefined })
      expect(decision.clientIp.text).toBe("192.0.2.7")
    }).pipe(Effect.provide(resolverWith())))

  it.effect("If allowed_cidrs is omitted, Headtower trusts only localhost: a spoofed header cannot make a remote peer local", () =>
    Effect.gen(function*() {
      const { allowedCidrs } = testConfig().server.proxyAuth
      const resolver = yield* ClientIpResolver
      const remote = yield* resolver.resolve(facts("192.0.2.7", { "x-forwarded-for": "127.0.0.1" }))
      expect(allowedCidrs.match(remote.clientIp)).toBeUndefined()
      const local = yield* resolver.resolve(facts("::ffff:127.0.0.1"))
      expect(allowedCidrs.match(local.clientIp)?.text).toBe("127.0.0.1/32")
      const local6 = yield* resolver.resolve(facts("::1"))
      expect(allowedCidrs.match(local6.clientIp)?.text).toBe("::1/128")
    }).pipe(Effect.provide(resolverWith())))

  it.effect("Decision 1: an IPv4 peer seen as ::ffff:127.0.0.1 matches the default trusted 127.0.0.1/32", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const decision = yield* resolver.resolve(facts("::ffff:127.0.0.1", { "x-forwarded-for": "10.1.2.3" }))
      expect(decision.peerTrustedBy?.text).toBe("127.0.0.1/32")
      expect(decision).toMatchObject({ source: "header", headerEntry: "10.1.2.3" })
      expect(decision.clientIp.text).toBe("10.1.2.3")
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("Decision 2: an untrusted peer's ip_header is ignored, even garbage, and the peer is the client", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const decision = yield* resolver.resolve(facts("192.0.2.7", { "x-forwarded-for": ["junk", "127.0.0.1"] }))
      expect(decision).toMatchObject({ source: "socket", peerTrustedBy: undefined })
      expect(decision.clientIp.text).toBe("192.0.2.7")
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("Decision 2: trusted peer with missing ip_header is rejected, never judged by the proxy address", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const error = yield* Effect.flip(resolver.resolve(facts("127.0.0.1")))
      expect(error._tag).toBe("InvalidForwardedAddress")
      expect(error.message).toBe("The X-Forwarded-For header is missing")
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("Decision 2: trusted peer with empty or unparseable ip_header is rejected as InvalidForwardedAddress", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      for (const value of ["", "   ", "127.1", "unknown", "1.2.3.4.5"]) {
        const error = yield* Effect.flip(resolver.resolve(facts("127.0.0.1", { "x-forwarded-for": value })))
        expect(error._tag).toBe("InvalidForwardedAddress")
      }
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("mode first: the ip_header sent twice by a trusted peer is AmbiguousHeader", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const error = yield* Effect.flip(resolver.resolve(facts("127.0.0.1", { "x-forwarded-for": ["10.1.2.3", "10.4.5.6"] })))
      expect(error._tag).toBe("AmbiguousHeader")
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("an unknown or unparseable peer is ClientNotAllowed", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      expect((yield* Effect.flip(resolver.resolve(facts(undefined))))._tag).toBe("ClientNotAllowed")
      expect((yield* Effect.flip(resolver.resolve(facts("not-an-ip"))))._tag).toBe("ClientNotAllowed")
    }).pipe(Effect.provide(resolverWith())))

  it.effect("mode rightmost_untrusted: a client-chosen first entry is skipped for the rightmost untrusted one", () =>
    Effect.gen(function*() {
      const resolver = yield* ClientIpResolver
      const decision = yield* resolver.resolve(
        facts("10.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.9, 10.0.0.2" })
      )
      expect(decision.clientIp.text).toBe("203.0.113.9")
    }).pipe(Effect.provide(resolverWith({ ...XFF, ipHeaderMode: "rightmost_untrusted", trustedProxyCidrs: ["10.0.0.0/8"] }))))

  it.effect("annotates the named span with peer, client IP, source and trusted rule — not the raw header", () =>
    Effect.gen(function*() {
      const secretHop = "198.51.100.77"
      const { all, attributes, exit } = yield* resolveTraced(
        facts("::ffff:127.0.0.1", { "x-forwarded-for": `10.1.2.3, ${secretHop}`, "remote-user": "alice" })
      )
      expect(exit._tag).toBe("Success")
      expect(attributes).toEqual({
        "client_ip.outcome": "resolved",
        "client_ip.peer": "127.0.0.1",
        "client_ip.client": "10.1.2.3",
        "client_ip.source": "header",
        "client_ip.trusted_rule": "127.0.0.1/32"
      })
      expect(JSON.stringify(all)).not.toContain(secretHop)
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("annotates a rejection with its reason and the peer, and never the header's content", () =>
    Effect.gen(function*() {
      const { all, attributes, exit } = yield* resolveTraced(facts("127.0.0.1", { "x-forwarded-for": "garbage-payload" }))
      expect(exit._tag).toBe("Failure")
      expect(attributes).toEqual({
        "client_ip.outcome": "rejected",
        "client_ip.reason": "entry_not_an_address",
        "client_ip.peer": "127.0.0.1"
      })
      expect(JSON.stringify(all)).not.toContain("garbage-payload")
    }).pipe(Effect.provide(resolverWith(XFF))))

  it.effect("socket decisions annotate source socket and no trusted rule", () =>
    Effect.gen(function*() {
      const { attributes } = yield* resolveTraced(facts("192.0.2.7", { "x-forwarded-for": "10.1.2.3" }))
      expect(attributes).toMatchObject({
        "client_ip.client": "192.0.2.7",
        "client_ip.source": "socket",
        "client_ip.trusted_rule": "none"
      })
    }).pipe(Effect.provide(resolverWith(XFF))))
})
