import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { type ClientIpDecision, decideClientIp } from "../../src/domain/ClientIp.js"
import type { ClientIpError } from "../../src/domain/errors.js"
import { type RequestFacts, requestFacts } from "../../src/domain/RequestFacts.js"
import { type Judgement, judgeTrust, pureStepDecisions } from "../../src/domain/trust.js"
import { spans as tracing } from "../../src/services/spans.js"
import { replaySteps } from "../../src/services/trustSteps.js"
import { type ProxyAuthOverrides, testConfig } from "../../src/testing/config.js"
import { recordSpans } from "../fixtures/recordingTracer.js"

/*
 * The client-IP step of the judgement (once the ClientIpResolver service): its decision, and
 * the `ClientIpResolver.resolve` span the full path replays it as.
 */

const settingsWith = (overrides: ProxyAuthOverrides = {}) => testConfig(overrides).server.proxyAuth

const facts = (peer: string | undefined, headers: Record<string, string | ReadonlyArray<string>> = {}): RequestFacts =>
  requestFacts(peer, Object.entries(headers))

/** The client-IP decision as an effect: the client, or the step's typed error. */
const resolverWith = (overrides: ProxyAuthOverrides = {}) => {
  const settings = settingsWith(overrides)
  return {
    resolve: (request: RequestFacts): Effect.Effect<ClientIpDecision, ClientIpError> =>
      Either.mapLeft(decideClientIp(settings, request), (rejection) => rejection.error)
  }
}

/** Replays the judgement of `request` under a recording tracer, so the step's annotations can be read back. */
const resolveTraced = (request: RequestFacts, overrides: ProxyAuthOverrides = {}) =>
  Effect.gen(function* () {
    const replay = replaySteps(yield* tracing, false)
    const { spans } = yield* recordSpans(
      // Header mode: the judgement is never pending.
      replay(judgeTrust(settingsWith(overrides), pureStepDecisions(settingsWith(overrides)), request) as Judgement)
    )
    const span = spans.find((s) => s.name === "ClientIpResolver.resolve")
    if (span === undefined) throw new Error("the replay created no ClientIpResolver.resolve span")
    if (span.status._tag !== "Ended") throw new Error("the ClientIpResolver.resolve span was never ended")
    // The step's own outcome, whatever the later steps decided.
    const exit = span.status.exit
    // Effect adds its own attributes (code.stacktrace on failure); ours are the client_ip.* ones.
    const all = Object.fromEntries(span.attributes)
    const attributes = Object.fromEntries(Object.entries(all).filter(([key]) => key.startsWith("client_ip.")))
    return { exit, all, attributes }
  })

const XFF = { ipHeader: "X-Forwarded-For" } as const

describe("the client-IP step", () => {
  it.effect("the decision needs nothing (R = never) and fails only with ClientIpError", () =>
    Effect.gen(function* () {
      const effect: Effect.Effect<ClientIpDecision, ClientIpError, never> = resolverWith().resolve(facts("127.0.0.1"))
      expect((yield* effect).clientIp.text).toBe("127.0.0.1")
    })
  )

  it.effect(
    "ip_header unset: uses the socket address, not X-Forwarded-For, X-Real-IP, or other forwarded headers",
    () =>
      Effect.gen(function* () {
        const resolver = resolverWith()
        const decision = yield* resolver.resolve(
          facts("192.0.2.7", { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", forwarded: "for=127.0.0.1" })
        )
        expect(decision).toMatchObject({ source: "socket", headerEntry: undefined })
        expect(decision.clientIp.text).toBe("192.0.2.7")
      })
  )

  it.effect(
    "If allowed_cidrs is omitted, Headtower trusts only localhost: a spoofed header cannot make a remote peer local",
    () =>
      Effect.gen(function* () {
        const { allowedCidrs } = testConfig().server.proxyAuth
        const resolver = resolverWith()
        const remote = yield* resolver.resolve(facts("192.0.2.7", { "x-forwarded-for": "127.0.0.1" }))
        expect(allowedCidrs.match(remote.clientIp)).toBeUndefined()
        const local = yield* resolver.resolve(facts("::ffff:127.0.0.1"))
        expect(allowedCidrs.match(local.clientIp)?.text).toBe("127.0.0.1/32")
        const local6 = yield* resolver.resolve(facts("::1"))
        expect(allowedCidrs.match(local6.clientIp)?.text).toBe("::1/128")
      })
  )

  it.effect("Decision 1: an IPv4 peer seen as ::ffff:127.0.0.1 matches the default trusted 127.0.0.1/32", () =>
    Effect.gen(function* () {
      const resolver = resolverWith(XFF)
      const decision = yield* resolver.resolve(facts("::ffff:127.0.0.1", { "x-forwarded-for": "10.1.2.3" }))
      expect(decision.peerTrustedBy?.text).toBe("127.0.0.1/32")
      expect(decision).toMatchObject({ source: "header", headerEntry: "10.1.2.3" })
      expect(decision.clientIp.text).toBe("10.1.2.3")
    })
  )

  it.effect("Decision 2: an untrusted peer's ip_header is ignored, even garbage, and the peer is the client", () =>
    Effect.gen(function* () {
      const resolver = resolverWith(XFF)
      const decision = yield* resolver.resolve(facts("192.0.2.7", { "x-forwarded-for": ["junk", "127.0.0.1"] }))
      expect(decision).toMatchObject({ source: "socket", peerTrustedBy: undefined })
      expect(decision.clientIp.text).toBe("192.0.2.7")
    })
  )

  it.effect("Decision 2: trusted peer with missing ip_header is rejected, never judged by the proxy address", () =>
    Effect.gen(function* () {
      const resolver = resolverWith(XFF)
      const error = yield* Effect.flip(resolver.resolve(facts("127.0.0.1")))
      expect(error._tag).toBe("InvalidForwardedAddress")
      expect(error.message).toBe("The X-Forwarded-For header is missing")
    })
  )

  it.effect("Decision 2: trusted peer with empty or unparseable ip_header is rejected as InvalidForwardedAddress", () =>
    Effect.gen(function* () {
      const resolver = resolverWith(XFF)
      for (const value of ["", "   ", "127.1", "unknown", "1.2.3.4.5"]) {
        const error = yield* Effect.flip(resolver.resolve(facts("127.0.0.1", { "x-forwarded-for": value })))
        expect(error._tag).toBe("InvalidForwardedAddress")
      }
    })
  )

  it.effect("mode first: the ip_header sent twice by a trusted peer is AmbiguousHeader", () =>
    Effect.gen(function* () {
      const resolver = resolverWith(XFF)
      const error = yield* Effect.flip(
        resolver.resolve(facts("127.0.0.1", { "x-forwarded-for": ["10.1.2.3", "10.4.5.6"] }))
      )
      expect(error._tag).toBe("AmbiguousHeader")
    })
  )

  it.effect("an unknown or unparseable peer is ClientNotAllowed", () =>
    Effect.gen(function* () {
      const resolver = resolverWith()
      expect((yield* Effect.flip(resolver.resolve(facts(undefined))))._tag).toBe("ClientNotAllowed")
      expect((yield* Effect.flip(resolver.resolve(facts("not-an-ip"))))._tag).toBe("ClientNotAllowed")
    })
  )

  it.effect("mode rightmost_untrusted: a client-chosen first entry is skipped for the rightmost untrusted one", () =>
    Effect.gen(function* () {
      const resolver = resolverWith({ ...XFF, ipHeaderMode: "rightmost_untrusted", trustedProxyCidrs: ["10.0.0.0/8"] })
      const decision = yield* resolver.resolve(
        facts("10.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.9, 10.0.0.2" })
      )
      expect(decision.clientIp.text).toBe("203.0.113.9")
    })
  )

  it.effect("annotates the named span with peer, client IP, source and trusted rule — not the raw header", () =>
    Effect.gen(function* () {
      const secretHop = "198.51.100.77"
      const { all, attributes, exit } = yield* resolveTraced(
        facts("::ffff:127.0.0.1", { "x-forwarded-for": `10.1.2.3, ${secretHop}`, "remote-user": "alice" }),
        XFF
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
    })
  )

  it.effect("annotates a rejection with its reason and the peer, and never the header's content", () =>
    Effect.gen(function* () {
      const { all, attributes, exit } = yield* resolveTraced(
        facts("127.0.0.1", { "x-forwarded-for": "garbage-payload" }),
        XFF
      )
      expect(exit._tag).toBe("Failure")
      expect(attributes).toEqual({
        "client_ip.outcome": "rejected",
        "client_ip.reason": "entry_not_an_address",
        "client_ip.peer": "127.0.0.1"
      })
      expect(JSON.stringify(all)).not.toContain("garbage-payload")
    })
  )

  it.effect("socket decisions annotate source socket and no trusted rule", () =>
    Effect.gen(function* () {
      const { attributes } = yield* resolveTraced(facts("192.0.2.7", { "x-forwarded-for": "10.1.2.3" }), XFF)
      expect(attributes).toMatchObject({
        "client_ip.client": "192.0.2.7",
        "client_ip.source": "socket",
        "client_ip.trusted_rule": "none"
      })
    })
  )
})
