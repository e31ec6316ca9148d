import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import { decideClientIp } from "../../src/domain/ClientIp.js"
import { extractProfile } from "../../src/domain/IdentityHeaders.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import type { Profile } from "../../src/domain/User.js"
import { AssertionVerifier } from "../../src/services/AssertionVerifier.js"
import { Authenticator } from "../../src/services/Authenticator.js"
import { ClientIpResolver } from "../../src/services/ClientIpResolver.js"
import { IdentityExtractor } from "../../src/services/IdentityExtractor.js"
import { untraced } from "../../src/services/Tracing.js"
import { UserCache } from "../../src/services/UserCache.js"
import { UserRepository } from "../../src/services/UserRepository.js"
import { type ProxyAuthOverrides, TEST_API_KEY, testConfig, testConfigLayer } from "../../src/testing/config.js"
import { InMemoryUserStore, UnavailableUserStore } from "../../src/testing/index.js"
import { allAttributeText, recordSpans } from "../fixtures/recordingTracer.js"

/**
 * The in-memory user store of headtower/testing, built for one test: `provisioned` reads who
 * was provisioned, and from which client IP, from its audit log.
 */
const inMemoryUsers = Effect.gen(function* () {
  const context = yield* Layer.build(InMemoryUserStore)
  const repository = Context.get(context, UserRepository)
  const provisioned = Effect.map(repository.audit(100), (events) =>
    events
      .filter((event) => event.kind === "user_provisioned")
      .map((event) => ({ identity: event.subjectIdentity, clientIp: event.clientIp }))
  )
  return { layer: Layer.succeedContext(context), repository, provisioned }
})

/** The in-memory store with alice disabled by its owner (whom the last-owner rule keeps enabled). */
const withAliceDisabled = Effect.gen(function* () {
  const users = yield* inMemoryUsers
  const { repository } = users
  const root = (yield* repository.provision(profile("root"), { clientIp: "127.0.0.1" })).user
  const alice = (yield* repository.provision(profile("alice"), { clientIp: "127.0.0.1" })).user
  yield* repository.setDisabled(alice.id, true, { userId: root.id, identity: root.identity, clientIp: "127.0.0.1" })
  return users
})

const profile = (name: string): Profile => ({
  identity: `proxy:${name}` as Profile["identity"],
  email: null,
  name: null,
  picture: null
})

const run = (
  peer: string | undefined,
  headers: Record<string, string | ReadonlyArray<string>>,
  config: ProxyAuthOverrides = {},
  users: { readonly layer: Layer.Layer<UserRepository> } = { layer: InMemoryUserStore.pipe(Layer.orDie) }
) =>
  Effect.gen(function* () {
    const auth = yield* Authenticator
    return yield* recordSpans(auth.authenticate(requestFacts(peer, Object.entries(headers))))
  }).pipe(
    Effect.provide(Authenticator.Default.pipe(Layer.provide(users.layer), Layer.provide(testConfigLayer(config))))
  )

/** The failure's tag, "success", or the whole cause when it is not a typed failure (a defect). */
const failureTag = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string =>
  Exit.match(exit, {
    onSuccess: () => "success",
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: (e) => e._tag })
  })

describe("Authenticator.authenticate", () => {
  it.scoped(
    "a localhost request with Remote-User authenticates as proxy:<value> and carries the configured API key",
    () =>
      Effect.gen(function* () {
        const users = yield* inMemoryUsers
        const { exit } = yield* run("127.0.0.1", { "Remote-User": "alice", "Remote-Email": "a@example.com" }, {}, users)
        const result = Exit.getOrElse(exit, () => {
          throw new Error("rejected")
        })
        expect(result.user.identity).toBe("proxy:alice")
        expect(result.user.role).toBe("owner")
        expect(Redacted.value(result.credentials.apiKey)).toBe(TEST_API_KEY)
        expect(yield* users.provisioned).toEqual([{ identity: "proxy:alice", clientIp: "127.0.0.1" }])
        const stored = yield* users.repository.findByIdentity(result.user.identity)
        expect(Option.map(stored, (user) => user.email)).toEqual(Option.some("a@example.com"))
      })
  )

  it.scoped("proxy auth disabled → ProxyAuthDisabled and nothing provisioned", () =>
    Effect.gen(function* () {
      const users = yield* inMemoryUsers
      const { exit } = yield* run("127.0.0.1", { "Remote-User": "alice" }, { enabled: false }, users)
      expect(failureTag(exit)).toBe("ProxyAuthDisabled")
      expect(yield* users.provisioned).toEqual([])
    })
  )

  it.scoped("a peer outside allowed_cidrs → ClientNotAllowed before headers are even read, nothing provisioned", () =>
    Effect.gen(function* () {
      const users = yield* inMemoryUsers
      for (const headers of [{ "Remote-User": "alice" }, {}, { "Remote-User": ["a", "b"] }]) {
        const { exit } = yield* run("10.1.2.3", headers, {}, users)
        expect(failureTag(exit)).toBe("ClientNotAllowed")
      }
      expect(yield* users.provisioned).toEqual([])
    })
  )

  it.scoped("an IPv4 peer reported as ::ffff:127.0.0.1 is 127.0.0.1 for allowed_cidrs (Decision 1)", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("::ffff:127.0.0.1", { "Remote-User": "alice" })
      expect(Exit.isSuccess(exit)).toBe(true)
    })
  )

  it.scoped("an unknown peer (no socket address) fails closed", () =>
    Effect.gen(function* () {
      const { exit } = yield* run(undefined, { "Remote-User": "alice" })
      expect(failureTag(exit)).toBe("ClientNotAllowed")
    })
  )

  it.scoped("an allowed client without the user header → MissingIdentityHeader, nothing provisioned", () =>
    Effect.gen(function* () {
      const users = yield* inMemoryUsers
      const { exit } = yield* run("::1", { "Remote-Email": "a@example.com" }, {}, users)
      expect(failureTag(exit)).toBe("MissingIdentityHeader")
      expect(yield* users.provisioned).toEqual([])
    })
  )

  it.scoped("Decision 4: the identity header twice → AmbiguousHeader, nothing provisioned", () =>
    Effect.gen(function* () {
      const users = yield* inMemoryUsers
      const { exit } = yield* run("127.0.0.1", { "Remote-User": ["alice", "bob"] }, {}, users)
      expect(failureTag(exit)).toBe("AmbiguousHeader")
      expect(yield* users.provisioned).toEqual([])
    })
  )

  it.scoped("by default X-Forwarded-For and X-Real-IP are ignored: the socket address decides", () =>
    Effect.gen(function* () {
      const spoofed = { "Remote-User": "alice", "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1" }
      expect(failureTag((yield* run("10.0.0.9", spoofed)).exit)).toBe("ClientNotAllowed")
      const fromLocal = { "Remote-User": "alice", "X-Forwarded-For": "10.0.0.9", "X-Real-IP": "10.0.0.9" }
      expect(Exit.isSuccess((yield* run("127.0.0.1", fromLocal)).exit)).toBe(true)
    })
  )

  describe("with ip_header", () => {
    const config: ProxyAuthOverrides = {
      ipHeader: "X-Forwarded-For",
      trustedProxyCidrs: ["127.0.0.1/32"],
      allowedCidrs: ["10.0.0.0/8"]
    }
    it.scoped("a trusted proxy's header names the client, checked against allowed_cidrs", () =>
      Effect.gen(function* () {
        const ok = yield* run("127.0.0.1", { "Remote-User": "alice", "X-Forwarded-For": "10.1.1.1" }, config)
        expect(Exit.isSuccess(ok.exit)).toBe(true)
        const outside = yield* run("127.0.0.1", { "Remote-User": "alice", "X-Forwarded-For": "192.0.2.1" }, config)
        expect(failureTag(outside.exit)).toBe("ClientNotAllowed")
      })
    )

    it.scoped("Decision 2: from an untrusted peer the header is ignored and the peer is the client", () =>
      Effect.gen(function* () {
        const inside = yield* run("10.2.2.2", { "Remote-User": "alice", "X-Forwarded-For": "192.0.2.1" }, config)
        expect(Exit.isSuccess(inside.exit)).toBe(true)
        const outside = yield* run("192.0.2.7", { "Remote-User": "alice", "X-Forwarded-For": "10.1.1.1" }, config)
        expect(failureTag(outside.exit)).toBe("ClientNotAllowed")
      })
    )

    it.scoped(
      "Decision 2: a trusted peer with the header missing, empty or garbage is rejected, never judged by its own address",
      () =>
        Effect.gen(function* () {
          const users = yield* inMemoryUsers
          // allowed_cidrs contains the proxy itself here: a fallback to the peer would let these in.
          const lax = { ...config, allowedCidrs: ["10.0.0.0/8", "127.0.0.1/32"] }
          for (const xff of [undefined, "", "  ", "garbage", "unknown"]) {
            const headers: Record<string, string> = { "Remote-User": "alice" }
            if (xff !== undefined) headers["X-Forwarded-For"] = xff
            const { exit } = yield* run("127.0.0.1", headers, lax, users)
            expect(failureTag(exit)).toBe("InvalidForwardedAddress")
          }
          expect(yield* users.provisioned).toEqual([])
        })
    )

    it.scoped("Decision 3: rightmost_untrusted skips trusted proxies and ignores a client-chosen first entry", () =>
      Effect.gen(function* () {
        const mode = { ...config, ipHeaderMode: "rightmost_untrusted" as const }
        const forged = { "Remote-User": "alice", "X-Forwarded-For": "10.9.9.9, 192.0.2.1" }
        expect(failureTag((yield* run("127.0.0.1", forged, mode)).exit)).toBe("ClientNotAllowed")
        // first-entry mode believes the forged entry: the documented risk check-config warns about.
        expect(Exit.isSuccess((yield* run("127.0.0.1", forged, config)).exit)).toBe(true)
      })
    )
  })

  it.scoped("a disabled user → UserDisabled", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("127.0.0.1", { "Remote-User": "alice" }, {}, yield* withAliceDisabled)
      expect(failureTag(exit)).toBe("UserDisabled")
    })
  )

  it.scoped("a failing user store → UserStoreUnavailable (typed, not a defect)", () =>
    Effect.gen(function* () {
      const { exit } = yield* run("127.0.0.1", { "Remote-User": "alice" }, {}, { layer: UnavailableUserStore })
      expect(failureTag(exit)).toBe("UserStoreUnavailable")
    })
  )

  it.scoped("spans: named steps with the decision as attributes, never the API key or header values dumped", () =>
    Effect.gen(function* () {
      const ok = yield* run("::ffff:127.0.0.1", { "Remote-User": "alice", "X-Secret-Header": "s3cr3t" })
      const names = ok.spans.map((s) => s.name)
      expect(names).toEqual(
        expect.arrayContaining(["Authenticator.authenticate", "ClientIpResolver.resolve", "IdentityExtractor.extract"])
      )
      const auth = ok.spans.find((s) => s.name === "Authenticator.authenticate")!
      expect(Object.fromEntries(auth.attributes)).toMatchObject({
        "auth.peer": "127.0.0.1",
        "auth.client_ip": "127.0.0.1",
        "auth.allowed_rule": "127.0.0.1/32",
        "auth.outcome": "authenticated"
      })
      const rejected = yield* run("10.0.0.1", { "Remote-User": "alice" })
      const rejectedSpan = rejected.spans.find((s) => s.name === "Authenticator.authenticate")!
      expect(Object.fromEntries(rejectedSpan.attributes)).toMatchObject({
        "auth.outcome": "rejected",
        "auth.reason": "ClientNotAllowed"
      })
      const text = allAttributeText([...ok.spans, ...rejected.spans])
      expect(text).not.toContain(TEST_API_KEY)
      expect(text).not.toContain("s3cr3t")
    })
  )

  it.scoped("spans name the user by user id; the identity only when telemetry.export_identity is on", () =>
    Effect.gen(function* () {
      const spansWith = (exportIdentity: boolean) =>
        Effect.gen(function* () {
          const auth = yield* Authenticator
          const { exit, spans } = yield* recordSpans(
            auth.authenticate(requestFacts("127.0.0.1", [["Remote-User", "ident-k4pw"]]))
          )
          return { spans, userId: Exit.isSuccess(exit) ? exit.value.user.id : undefined }
        }).pipe(
          Effect.provide(
            Authenticator.Default.pipe(
              Layer.provide(InMemoryUserStore),
              Layer.provide(testConfigLayer({}, { telemetry: { ...testConfig().telemetry, exportIdentity } }))
            )
          )
        )
      const off = yield* spansWith(false)
      expect(allAttributeText(off.spans)).not.toContain("ident-k4pw")
      const authOff = off.spans.find((s) => s.name === "Authenticator.authenticate")!
      expect(off.userId).toBeDefined()
      expect(authOff.attributes.get("auth.user_id")).toBe(off.userId)
      const on = yield* spansWith(true)
      const authOn = on.spans.find((s) => s.name === "Authenticator.authenticate")!
      expect(authOn.attributes.get("auth.identity")).toBe("proxy:ident-k4pw")
    })
  )

  it.scoped("authenticate needs nothing from its caller (R = never)", () =>
    Effect.gen(function* () {
      const auth = yield* Authenticator
      const effect: Effect.Effect<unknown, { readonly _tag: string }, never> = auth.authenticate(
        requestFacts("127.0.0.1", [])
      )
      expect(Effect.isEffect(effect)).toBe(true)
    }).pipe(
      Effect.provide(Authenticator.Default.pipe(Layer.provide(InMemoryUserStore), Layer.provide(testConfigLayer())))
    )
  )

  describe("the judgement's steps are layers a spec can swap", () => {
    /** Authenticator over the given step layers, a fake store and the default test config. */
    const withSteps = (
      steps: Layer.Layer<ClientIpResolver | IdentityExtractor, never, never>,
      users: { readonly layer: Layer.Layer<UserRepository> }
    ) =>
      Authenticator.DefaultWithoutDependencies.pipe(
        Layer.provide(Layer.mergeAll(UserCache.Default, AssertionVerifier.Default, steps)),
        Layer.provide(users.layer),
        Layer.provide(testConfigLayer())
      )
    const authenticate = (peer: string, headers: Record<string, string>) =>
      Effect.flatMap(Authenticator, (auth) =>
        Effect.exit(auth.authenticate(requestFacts(peer, Object.entries(headers))))
      )

    it.scoped("a swapped ClientIpResolver names the client, and allowed_cidrs still judges it after", () => {
      const settings = testConfig().server.proxyAuth
      // This resolver says every request comes from 10.0.0.9, whatever the socket peer.
      const resolver = Layer.succeed(
        ClientIpResolver,
        ClientIpResolver.make({ decide: (facts) => decideClientIp(settings, { ...facts, peer: "10.0.0.9" }) })
      )
      return Effect.gen(function* () {
        const users = yield* inMemoryUsers
        const exit = yield* authenticate("127.0.0.1", { "Remote-User": "alice" }).pipe(
          Effect.provide(
            withSteps(Layer.merge(resolver, IdentityExtractor.Default.pipe(Layer.provide(testConfigLayer()))), users)
          )
        )
        expect(failureTag(exit)).toBe("ClientNotAllowed")
        expect(yield* users.provisioned).toEqual([])
      })
    })

    it.scoped("a swapped IdentityExtractor decides who the user is", () => {
      const other = testConfig({ userHeader: "X-Spec-User" }).server.proxyAuth
      const extractor = Layer.succeed(
        IdentityExtractor,
        IdentityExtractor.make({ read: (facts) => extractProfile(other, facts) })
      )
      return Effect.gen(function* () {
        const exit = yield* authenticate("127.0.0.1", { "Remote-User": "alice", "X-Spec-User": "bob" })
        expect(Exit.isSuccess(exit) && exit.value.user.identity).toBe("proxy:bob")
      }).pipe(
        Effect.provide(
          withSteps(Layer.merge(ClientIpResolver.Default.pipe(Layer.provide(testConfigLayer())), extractor), {
            layer: InMemoryUserStore.pipe(Layer.orDie)
          })
        )
      )
    })
  })

  describe("authenticateNow, the cached half without an effect", () => {
    const alice = requestFacts("127.0.0.1", [["Remote-User", "alice"]])
    const stranger = requestFacts("203.0.113.9", [["Remote-User", "alice"]])
    const bob = requestFacts("127.0.0.1", [["Remote-User", "bob"]])
    // The cache on (the test config turns it off), so that alice is held after her sign-in.
    const authenticator = Authenticator.Default.pipe(
      Layer.provide(InMemoryUserStore),
      Layer.provide(testConfigLayer({ syncTtlSeconds: 10 }))
    )

    /** authenticateNow's answers for alice (after authenticate signed her in), a stranger and bob. */
    const answers = Effect.gen(function* () {
      const auth = yield* Authenticator
      const signedIn = yield* auth.authenticate(alice)
      const now = yield* Clock.currentTimeMillis
      return {
        signedIn,
        alice: auth.authenticateNow(alice, now),
        stranger: auth.authenticateNow(stranger, now),
        bob: auth.authenticateNow(bob, now),
        bobLater: yield* Effect.exit(auth.authenticate(bob))
      }
    })

    it.scoped("quiet: a cached user is answered as authenticate answers; anything else is left to authenticate", () =>
      Effect.gen(function* () {
        const context = yield* Layer.build(untraced(authenticator))
        const result = yield* Effect.provide(answers, context)
        expect(result.alice?.user).toBe(result.signedIn.user)
        expect(result.alice?.credentials.apiKey).toBe(result.signedIn.credentials.apiKey)
        expect(result.stranger).toBeUndefined()
        // Unknown to the cache: nothing decided here, and authenticate then signs bob in.
        expect(result.bob).toBeUndefined()
        expect(Exit.isSuccess(result.bobLater)).toBe(true)
      })
    )

    it.scoped("with spans recorded it answers nothing, so every request goes through authenticate and its spans", () =>
      Effect.gen(function* () {
        const result = yield* Effect.provide(answers, authenticator)
        expect(result.signedIn.user.identity).toBe("proxy:alice")
        expect(result.alice).toBeUndefined()
      })
    )
  })
})
