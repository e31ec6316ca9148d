import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { SignJWT } from "jose"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { AssertionConfig } from "../../src/domain/assertion/config.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { AssertionKeyTiming, AssertionVerifier } from "../../src/services/AssertionVerifier.js"
import { DEFAULT_KEY_TIMING } from "../../src/services/assertion/keySet.js"
import { Authenticator } from "../../src/services/Authenticator.js"
import { InMemoryUserStore, testConfigLayer } from "../../src/testing/index.js"
import {
  assertionConfig,
  AUDIENCE,
  ISSUER,
  type JwksServer,
  makeKey,
  sign,
  signRaw,
  startJwksServer,
  type TestKey,
  unsigned
} from "../fixtures/jwks.js"
import { allAttributeText, recordSpans } from "../fixtures/recordingTracer.js"

/*
 * Verified identity assertions with real keys (jose-generated RSA and EC pairs) and a real key
 * server on loopback: every refusal the issue lists, key rotation and outages, and the memory of
 * verified tokens. Time is the TestClock, set to "now": tolerance edges are exact.
 */

const HEADER = "cf-access-jwt-assertion"
let server: JwksServer
let key: TestKey
let ecKey: TestKey
let stranger: TestKey
let dir: string
const NOW = Math.floor(Date.now() / 1000)

beforeAll(async () => {
  key = await makeKey("key-1")
  ecKey = await makeKey("key-ec", "ES256")
  stranger = await makeKey("key-1") // same kid, another key: a forger who read the kid
  server = await startJwksServer([key.publicJwk, ecKey.publicJwk])
  dir = mkdtempSync(join(tmpdir(), "headtower-assertion-"))
})
afterAll(async () => {
  await server.stop()
  rmSync(dir, { recursive: true, force: true })
})

const layerFor = (assertion: AssertionConfig, overrides: { allowedCidrs?: ReadonlyArray<string> } = {}) =>
  Layer.merge(Authenticator.Default, AssertionVerifier.Default).pipe(
    Layer.provide(InMemoryUserStore),
    Layer.provide(Layer.succeed(AssertionKeyTiming, { ...DEFAULT_KEY_TIMING, cooldownMs: 30_000 })),
    Layer.provideMerge(testConfigLayer({ assertion, ...overrides }))
  )

/** Runs `body` at "now" on the TestClock, with the verifier built there (its keys fetched for real). */
const atNow = <A, E>(body: Effect.Effect<A, E, Authenticator | AssertionVerifier>, assertion?: AssertionConfig) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(NOW * 1000)
    return yield* body.pipe(Effect.provide(layerFor(assertion ?? assertionConfig(server.url))))
  }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None))

const authenticate = (token: string | undefined, more: Record<string, string> = {}, peer = "127.0.0.1") =>
  Effect.flatMap(Authenticator, (auth) =>
    Effect.exit(
      auth.authenticate(
        requestFacts(peer, [
          ...(token === undefined ? [] : [[HEADER, token] as [string, string]]),
          ...Object.entries(more)
        ])
      )
    )
  )

const failure = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit)
    ? Option.match(Cause.failureOption(exit.cause), {
        onNone: () => Cause.pretty(exit.cause),
        onSome: (e) => {
          const { _tag, reason } = e as { _tag: string; reason?: string }
          return reason === undefined ? _tag : `${_tag}: ${reason}`
        }
      })
    : "authenticated"

const identityOf = (exit: Exit.Exit<{ user: { identity: string } }, unknown>) =>
  Exit.isSuccess(exit) ? exit.value.user.identity : failure(exit)

describe("assertion mode: verification with real keys", () => {
  it.effect("a valid RS256 token signs in proxy:<sub> with the profile from its claims; headers are ignored", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(key, { name: "Alice A." }, { nowSeconds: NOW }))
        const exit = yield* authenticate(token, { "Remote-User": "mallory", "Remote-Email": "m@evil.example" })
        expect(identityOf(exit)).toBe("proxy:alice")
        if (Exit.isSuccess(exit)) {
          expect([exit.value.user.email, exit.value.user.name]).toEqual(["alice@example.com", "Alice A."])
        }
      })
    )
  )

  it.effect("an ES256 token verifies too (the default algorithms are RS256 and ES256)", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(ecKey, { sub: "bob" }, { nowSeconds: NOW }))
        expect(identityOf(yield* authenticate(token))).toBe("proxy:bob")
      })
    )
  )

  it.effect("no token, an empty one, one sent twice, or identity headers alone: never signed in", () =>
    atNow(
      Effect.gen(function* () {
        expect(failure(yield* authenticate(undefined, { "Remote-User": "alice" }))).toBe("MissingAssertion")
        expect(failure(yield* authenticate(""))).toBe("MissingAssertion")
        const token = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
        const twice = yield* Effect.flatMap(Authenticator, (auth) =>
          Effect.exit(auth.authenticate(requestFacts("127.0.0.1", [[HEADER, [token, token]]])))
        )
        expect(failure(twice)).toBe("AmbiguousHeader")
        expect(failure(yield* authenticate("not.a.jwt!"))).toBe("InvalidAssertion: malformed")
      })
    )
  )

  it.effect("allowed_cidrs still applies first: a valid token from outside is ClientNotAllowed", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(token, {}, "10.9.9.9"))).toBe("ClientNotAllowed")
      })
    )
  )

  it.effect("alg none is refused", () =>
    atNow(
      Effect.gen(function* () {
        expect(failure(yield* authenticate(unsigned({ exp: NOW + 600 })))).toBe(
          "InvalidAssertion: algorithm not allowed"
        )
      })
    )
  )

  it.effect("HS256 keyed with the RSA public key (the key-confusion attack) is refused", () =>
    atNow(
      Effect.gen(function* () {
        const publicPem = Buffer.from(JSON.stringify(key.publicJwk))
        const token = yield* Effect.promise(() =>
          new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice", exp: NOW + 600 })
            .setProtectedHeader({ alg: "HS256", kid: key.kid })
            .sign(publicPem)
        )
        expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: algorithm not allowed")
      })
    )
  )

  it.effect("a token signed by another key under a known kid: bad signature", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(stranger, {}, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: bad signature")
      })
    )
  )

  it.effect("an algorithm outside `algorithms` is refused even with a valid signature", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(ecKey, {}, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: algorithm not allowed")
      }),
      assertionConfig(server.url, { algorithms: ["RS256"] })
    )
  )

  it.effect("wrong iss and wrong aud are refused by name; aud may be an array naming ours", () =>
    atNow(
      Effect.gen(function* () {
        const wrongIss = yield* Effect.promise(() => sign(key, { iss: "https://other.example" }, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(wrongIss))).toBe("InvalidAssertion: wrong issuer")
        const wrongAud = yield* Effect.promise(() => sign(key, { aud: "another-app" }, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(wrongAud))).toBe("InvalidAssertion: wrong audience")
        const both = yield* Effect.promise(() => sign(key, { aud: ["another-app", AUDIENCE] }, { nowSeconds: NOW }))
        expect(identityOf(yield* authenticate(both))).toBe("proxy:alice")
        const neither = yield* Effect.promise(() => sign(key, { aud: ["x", "y"] }, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(neither))).toBe("InvalidAssertion: wrong audience")
      })
    )
  )

  it.effect("expired and not-yet-valid tokens are refused; the 30 s tolerance's edges hold to the second", () =>
    atNow(
      Effect.gen(function* () {
        const at = (claims: Record<string, number>) => Effect.promise(() => sign(key, claims, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(yield* at({ exp: NOW - 3600 })))).toBe("InvalidAssertion: expired")
        // Valid while now < exp + tolerance (RFC 7519: "before" exp), from nbf - tolerance on.
        expect(identityOf(yield* authenticate(yield* at({ exp: NOW - 29 })))).toBe("proxy:alice")
        expect(failure(yield* authenticate(yield* at({ exp: NOW - 30 })))).toBe("InvalidAssertion: expired")
        expect(failure(yield* authenticate(yield* at({ nbf: NOW + 3600 })))).toBe("InvalidAssertion: not yet valid")
        expect(identityOf(yield* authenticate(yield* at({ nbf: NOW + 30 })))).toBe("proxy:alice")
        expect(failure(yield* authenticate(yield* at({ nbf: NOW + 31 })))).toBe("InvalidAssertion: not yet valid")
      })
    )
  )

  it.effect("an unknown crit extension, validly signed, is refused as malformed", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() =>
          signRaw(key, { alg: "RS256", kid: key.kid, crit: ["exp-ext"], "exp-ext": true })
        )
        expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: malformed")
      })
    )
  )

  it.effect("a token without exp is refused (it would never expire)", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() =>
          new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "alice" })
            .setProtectedHeader({ alg: "RS256", kid: key.kid })
            .sign(key.privateKey)
        )
        expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: malformed")
      })
    )
  )

  it.effect("a token without the identity claim is refused; another identity_claim is read when configured", () =>
    atNow(
      Effect.gen(function* () {
        const noEmail = yield* Effect.promise(() => sign(key, { email: undefined }, { nowSeconds: NOW }))
        expect(failure(yield* authenticate(noEmail))).toBe("InvalidAssertion: missing identity claim")
        const token = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
        expect(identityOf(yield* authenticate(token))).toBe("proxy:alice@example.com")
      }),
      assertionConfig(server.url, { identityClaim: "email" })
    )
  )

  it.effect(
    "an unknown kid and a missing kid: unknown key / bad signature; a missing kid signed by a known key verifies",
    () =>
      atNow(
        Effect.gen(function* () {
          const other = yield* Effect.promise(() => makeKey("key-unknown"))
          expect(failure(yield* authenticate(yield* Effect.promise(() => sign(other, {}, { nowSeconds: NOW }))))).toBe(
            "InvalidAssertion: unknown key"
          )
          const noKid = (k: TestKey) =>
            Effect.promise(() => sign(k, {}, { nowSeconds: NOW, header: { kid: undefined } }))
          // No kid: jose tries the keys of the token's algorithm; only one of ours verifies it.
          expect(identityOf(yield* authenticate(yield* noKid(key)))).toBe("proxy:alice")
          expect(failure(yield* authenticate(yield* noKid(stranger)))).toBe("InvalidAssertion: bad signature")
        })
      )
  )

  it.effect("a missing kid when the set holds several keys of its algorithm: unknown key, no guessing", () =>
    Effect.gen(function* () {
      const second = yield* Effect.promise(() => makeKey("key-second"))
      const two = yield* Effect.promise(() => startJwksServer([key.publicJwk, second.publicJwk]))
      yield* atNow(
        Effect.gen(function* () {
          const token = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW, header: { kid: undefined } }))
          expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: unknown key")
          const withKid = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
          expect(identityOf(yield* authenticate(withKid))).toBe("proxy:alice")
        }),
        assertionConfig(two.url)
      )
      yield* Effect.promise(() => two.stop())
    })
  )
})

describe("assertion mode: keys", () => {
  it.effect("rotation: a new kid is accepted after one refetch; invented kids fetch at most once per cooldown", () =>
    Effect.gen(function* () {
      const rotating = yield* Effect.promise(() => startJwksServer([key.publicJwk]))
      const next = yield* Effect.promise(() => makeKey("key-2"))
      yield* atNow(
        Effect.gen(function* () {
          expect(rotating.fetches()).toBe(1) // at start-up
          rotating.keys = [key.publicJwk, next.publicJwk]
          const token = yield* Effect.promise(() => sign(next, { sub: "rotated" }, { nowSeconds: NOW }))
          // Within the cooldown since start-up the key server is not asked again.
          expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: unknown key")
          expect(rotating.fetches()).toBe(1)
          yield* TestClock.adjust("30 seconds")
          expect(identityOf(yield* authenticate(token))).toBe("proxy:rotated")
          expect(rotating.fetches()).toBe(2)
          // A flood of invented kids right after: no fetch at all.
          for (let i = 0; i < 20; i++) {
            const invented = yield* Effect.promise(() => makeKey(`invented-${i}`, "ES256"))
            yield* authenticate(yield* Effect.promise(() => sign(invented, {}, { nowSeconds: NOW })))
          }
          expect(rotating.fetches()).toBe(2)
        }),
        assertionConfig(rotating.url)
      )
      yield* Effect.promise(() => rotating.stop())
    })
  )

  it.effect(
    "the key server down after start: known keys still verify, an unknown kid is 503, /readyz's check fails; back up, it recovers",
    () =>
      Effect.gen(function* () {
        const flaky = yield* Effect.promise(() => startJwksServer([key.publicJwk]))
        const next = yield* Effect.promise(() => makeKey("key-after-outage"))
        yield* atNow(
          Effect.gen(function* () {
            const verifier = yield* AssertionVerifier
            expect(verifier.unavailable()).toBeUndefined()
            yield* Effect.promise(() => flaky.stop())
            yield* TestClock.adjust("30 seconds")
            const known = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
            expect(identityOf(yield* authenticate(known))).toBe("proxy:alice")
            const unknown = yield* Effect.promise(() => sign(next, { sub: "new" }, { nowSeconds: NOW }))
            expect(failure(yield* authenticate(unknown))).toBe("AssertionKeysUnavailable")
            expect(verifier.unavailable()).toMatch(/fetch failed|ECONNREFUSED/)
            // Within the cooldown: still 503 (we cannot tell a new key from an invented one), no fetch.
            expect(failure(yield* authenticate(unknown))).toBe("AssertionKeysUnavailable")
            flaky.keys = [key.publicJwk, next.publicJwk]
            yield* Effect.promise(() => flaky.restart())
            yield* TestClock.adjust("30 seconds")
            expect(identityOf(yield* authenticate(unknown))).toBe("proxy:new")
            expect(verifier.unavailable()).toBeUndefined()
          }),
          assertionConfig(flaky.url)
        )
        yield* Effect.promise(() => flaky.stop())
      })
  )

  it.effect("past the keys' maximum age without a successful load, nothing new verifies (503)", () =>
    Effect.gen(function* () {
      const flaky = yield* Effect.promise(() => startJwksServer([key.publicJwk]))
      yield* atNow(
        Effect.gen(function* () {
          yield* Effect.promise(() => flaky.stop())
          yield* TestClock.adjust("30 seconds")
          const other = yield* Effect.promise(() => makeKey("kid-x"))
          yield* authenticate(yield* Effect.promise(() => sign(other, {}, { nowSeconds: NOW })))
          yield* TestClock.adjust("61 minutes")
          const known = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW + 3660 }))
          expect(failure(yield* authenticate(known))).toBe("AssertionKeysUnavailable")
        }),
        assertionConfig(flaky.url)
      )
    })
  )

  it.effect(
    "a redirecting key server, one answering garbage, too much, or an empty set: start-up fails naming jwks_url",
    () =>
      Effect.gen(function* () {
        const bad = yield* Effect.promise(() => startJwksServer([key.publicJwk]))
        for (const [mode, message] of [
          ["redirect", /302 \(a redirect\); redirects are not followed/],
          ["garbage", /not JSON/],
          ["huge", /larger than 256 KiB/],
          ["empty", /key set is empty/],
          ["down", /fetch failed/]
        ] as const) {
          bad.mode = mode
          const exit = yield* Effect.exit(atNow(Effect.void, assertionConfig(bad.url)))
          const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
          expect(error, mode).toMatchObject({ _tag: "ConfigError" })
          const issue = (error as unknown as { issues: ReadonlyArray<{ path: string; message: string }> }).issues[0]!
          expect(issue.path).toBe("server.proxy_auth.assertion.jwks_url")
          expect(issue.message, mode).toMatch(message)
        }
        yield* Effect.promise(() => bad.stop())
      })
  )

  it.effect("garbage after start: the set in hand keeps verifying, the failed load is reported", () =>
    Effect.gen(function* () {
      const flaky = yield* Effect.promise(() => startJwksServer([key.publicJwk]))
      yield* atNow(
        Effect.gen(function* () {
          const verifier = yield* AssertionVerifier
          flaky.mode = "garbage"
          yield* TestClock.adjust("30 seconds")
          const other = yield* Effect.promise(() => makeKey("kid-y"))
          expect(failure(yield* authenticate(yield* Effect.promise(() => sign(other, {}, { nowSeconds: NOW }))))).toBe(
            "AssertionKeysUnavailable"
          )
          expect(verifier.unavailable()).toMatch(/not JSON/)
          expect(identityOf(yield* authenticate(yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))))).toBe(
            "proxy:alice"
          )
        }),
        assertionConfig(flaky.url)
      )
      yield* Effect.promise(() => flaky.stop())
    })
  )

  it.effect("jwks_file: keys read from a file (air-gapped)", () =>
    Effect.gen(function* () {
      const file = join(dir, "jwks.json")
      writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }))
      yield* atNow(
        Effect.gen(function* () {
          expect(identityOf(yield* authenticate(yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))))).toBe(
            "proxy:alice"
          )
        }),
        assertionConfig("unused", { keySource: { kind: "file", path: file } })
      )
    })
  )
})

describe("assertion mode: the memory of verified tokens", () => {
  it.effect(
    "a known token is answered by the step decision itself (no signature check), until its exp and never after",
    () =>
      atNow(
        Effect.gen(function* () {
          const verifier = yield* AssertionVerifier
          const token = yield* Effect.promise(() => sign(key, { exp: NOW + 60 }, { nowSeconds: NOW }))
          const facts = requestFacts("127.0.0.1", [[HEADER, token]])
          expect(verifier.read(facts)._tag).toBe("Unverified")
          expect(identityOf(yield* authenticate(token))).toBe("proxy:alice")
          const known = verifier.read(facts)
          expect(known).toMatchObject({ _tag: "Ok", remembered: true, profile: { identity: "proxy:alice" } })
          yield* TestClock.adjust("59 seconds")
          expect(verifier.read(facts)._tag).toBe("Ok")
          // At exp the memory lets go (the tolerance applies to a fresh verification only).
          yield* TestClock.adjust("1 second")
          expect(verifier.read(facts)._tag).toBe("Unverified")
          expect(identityOf(yield* authenticate(token))).toBe("proxy:alice")
          yield* TestClock.adjust("30 seconds")
          expect(failure(yield* authenticate(token))).toBe("InvalidAssertion: expired")
        })
      )
  )

  it.effect("a refused token is not remembered", () =>
    atNow(
      Effect.gen(function* () {
        const verifier = yield* AssertionVerifier
        const token = yield* Effect.promise(() => sign(stranger, {}, { nowSeconds: NOW }))
        yield* authenticate(token)
        expect(verifier.read(requestFacts("127.0.0.1", [[HEADER, token]]))._tag).toBe("Unverified")
      })
    )
  )

  it.effect("Authorization: Bearer <token> when the header is Authorization (oauth2-proxy)", () =>
    atNow(
      Effect.gen(function* () {
        const token = yield* Effect.promise(() => sign(key, {}, { nowSeconds: NOW }))
        const run = (value: string) =>
          Effect.flatMap(Authenticator, (auth) =>
            Effect.exit(auth.authenticate(requestFacts("127.0.0.1", [["authorization", value]])))
          )
        expect(identityOf(yield* run(`Bearer ${token}`))).toBe("proxy:alice")
        expect(identityOf(yield* run(`bearer ${token}`))).toBe("proxy:alice")
        expect(failure(yield* run(`Basic ${token}`))).toBe("MissingAssertion")
        expect(failure(yield* run(token))).toBe("MissingAssertion")
      }),
      assertionConfig(server.url, { header: "Authorization" })
    )
  )
})

describe("assertion mode: spans", () => {
  it.effect("the token's step has its span (outcome, kid, alg), and no span carries the token or the identity", () =>
    atNow(
      Effect.gen(function* () {
        const auth = yield* Authenticator
        const token = yield* Effect.promise(() => sign(key, { sub: "span-user-q7" }, { nowSeconds: NOW }))
        const forged = yield* Effect.promise(() => sign(stranger, { sub: "span-user-q7" }, { nowSeconds: NOW }))
        const ok = yield* recordSpans(auth.authenticate(requestFacts("127.0.0.1", [[HEADER, token]])))
        const bad = yield* recordSpans(Effect.exit(auth.authenticate(requestFacts("127.0.0.1", [[HEADER, forged]]))))
        const step = ok.spans.find((s) => s.name === "AssertionVerifier.read")
        expect(step?.attributes.get("outcome")).toBe("verified")
        expect(step?.attributes.get("assertion.kid")).toBe(key.kid)
        expect(ok.spans.some((s) => s.name === "AssertionVerifier.verify")).toBe(true)
        const refused = bad.spans.find((s) => s.name === "AssertionVerifier.read")
        expect(refused?.attributes.get("outcome")).toBe("InvalidAssertion")
        const text = allAttributeText([...ok.spans, ...bad.spans])
        for (const t of [token, forged]) expect(text).not.toContain(t.split(".")[2])
        expect(text).not.toContain("span-user-q7")
      })
    )
  )
})
