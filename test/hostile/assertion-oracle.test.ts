import { Cause, Effect, Exit, FastCheck as fc, Layer, Logger, LogLevel, Option } from "effect"
import { SignJWT } from "jose"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { AssertionVerifier } from "../../src/services/AssertionVerifier.js"
import { type Authenticated, Authenticator } from "../../src/services/Authenticator.js"
import { quietTracer } from "../../src/services/spans.js"
import { InMemoryUserStore, testConfigLayer } from "../../src/testing/index.js"
import { assertionConfig, AUDIENCE, ISSUER, makeKey, sign, type TestKey, unsigned } from "../fixtures/jwks.js"
import { blockList, inList, referenceClientIp } from "./referenceClientIp.js"

/*
 * The property oracle for assertion mode: over random peers, allowed_cidrs, tokens (valid,
 * tampered, forged, expired, early, unsigned, HMAC-confused, for another issuer or audience,
 * garbage, absent, sent twice) and identity headers beside them, the real authenticate never
 * admits a request without a valid token from an allowed client, never anyone but the token's
 * subject, never dies — and answers the same first and from memory, with spans or without.
 */

const HEADER = "cf-access-jwt-assertion"
let dir: string
let keysFile: string
let key: TestKey
const pool: Array<{ readonly kind: string; readonly token: string; readonly sub?: string }> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headtower-assertion-oracle-"))
  key = await makeKey("oracle-key")
  const stranger = await makeKey("oracle-key")
  const other = await makeKey("other-key", "ES256")
  keysFile = join(dir, "jwks.json")
  writeFileSync(keysFile, JSON.stringify({ keys: [key.publicJwk] }))
  const now = Math.floor(Date.now() / 1000)
  for (const sub of ["owner", "alice", "bob"]) pool.push({ kind: "valid", token: await sign(key, { sub }), sub })
  const valid = pool[1]!.token
  const [h, p, s] = valid.split(".") as [string, string, string]
  const tamperedPayload = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), sub: "owner" })
  ).toString("base64url")
  pool.push(
    { kind: "tampered", token: `${h}.${tamperedPayload}.${s}` },
    { kind: "cut signature", token: `${h}.${p}.` },
    { kind: "forged", token: await sign(stranger, { sub: "owner" }) },
    { kind: "unknown kid", token: await sign(other, { sub: "owner" }) },
    { kind: "expired", token: await sign(key, { exp: now - 3600 }) },
    { kind: "early", token: await sign(key, { nbf: now + 3600 }) },
    { kind: "issuer", token: await sign(key, { iss: "https://evil.example" }) },
    { kind: "audience", token: await sign(key, { aud: "other" }) },
    { kind: "no sub", token: await sign(key, { sub: undefined }) },
    { kind: "none", token: unsigned({ sub: "owner" }) },
    {
      kind: "hs256",
      token: await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "owner", exp: now + 600 })
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .sign(Buffer.from(JSON.stringify(key.publicJwk)))
    }
  )
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const peers = fc.oneof(
  { weight: 4, arbitrary: fc.constant("127.0.0.1") },
  fc.constantFrom("127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.5", "192.168.1.7"),
  fc.ipV4(),
  fc.ipV6()
)
const cidrs = fc.array(fc.constantFrom("127.0.0.1/32", "::1/128", "10.0.0.0/8", "0.0.0.0/0", "192.168.1.7/32"), {
  minLength: 1,
  maxLength: 3
})
const tokenLines = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 2 }).map((i) => ({ pick: i, raw: undefined as string | undefined })) },
  { weight: 6, arbitrary: fc.nat().map((i) => ({ pick: i, raw: undefined as string | undefined })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((raw) => ({ pick: -1, raw })) }
)
const scenario = fc.record({
  peer: peers,
  allowed: cidrs,
  tokens: fc.oneof(
    { weight: 4, arbitrary: fc.array(tokenLines, { minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.array(tokenLines, { maxLength: 2 }) }
  ),
  userHeader: fc.option(fc.constantFrom("owner", "admin", "alice"), { nil: undefined }),
  bearer: fc.boolean()
})

const outcome = (exit: Exit.Exit<Authenticated, { readonly _tag: string }>) =>
  Exit.match(exit, {
    onSuccess: ({ user }) => user.identity,
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), { onNone: () => Cause.pretty(cause), onSome: (e) => e._tag })
  })

const ERRORS = new Set(["ClientNotAllowed", "MissingAssertion", "InvalidAssertion", "AmbiguousHeader"])

describe("authenticate oracle, assertion mode", () => {
  it("never admits a request without a valid token from an allowed client, nor anyone but its subject", async () => {
    let admitted = 0
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const header = s.bearer ? "authorization" : HEADER
        const chosen = s.tokens.map((t) =>
          t.raw !== undefined ? { kind: "garbage", token: t.raw } : pool[t.pick % pool.length]!
        )
        const headers: Array<[string, string]> = chosen.map((t) => [header, s.bearer ? `Bearer ${t.token}` : t.token])
        if (s.userHeader !== undefined) headers.push(["remote-user", s.userHeader])
        const facts = requestFacts(s.peer, headers)
        const layer = (quiet: boolean) =>
          Layer.merge(Authenticator.Default, AssertionVerifier.Default).pipe(
            Layer.provide(InMemoryUserStore),
            Layer.provide(
              testConfigLayer({
                allowedCidrs: s.allowed,
                syncTtlSeconds: 3600,
                assertion: assertionConfig("unused", {
                  keySource: { kind: "file", path: keysFile },
                  header: s.bearer ? "Authorization" : "Cf-Access-Jwt-Assertion"
                })
              })
            ),
            Layer.provide(quiet ? Layer.setTracer(quietTracer) : Layer.empty)
          )
        const twice = (quiet: boolean) =>
          Effect.runPromise(
            Effect.gen(function* () {
              const auth = yield* Authenticator
              return [yield* Effect.exit(auth.authenticate(facts)), yield* Effect.exit(auth.authenticate(facts))]
            }).pipe(Effect.provide(layer(quiet)), Effect.scoped, Logger.withMinimumLogLevel(LogLevel.None))
          )
        const [first, again] = await twice(false)
        const [quietFirst, quietAgain] = await twice(true)
        expect([again!, quietFirst!, quietAgain!].map(outcome)).toEqual([
          outcome(first!),
          outcome(first!),
          outcome(first!)
        ])

        const client = referenceClientIp(
          { allowed: s.allowed, trusted: [], ipHeader: undefined, mode: "first" },
          s.peer,
          facts.headers
        )
        const exit = first!
        if (Exit.isFailure(exit)) {
          expect(Cause.isDie(exit.cause), Cause.pretty(exit.cause)).toBe(false)
          const tag = Option.getOrThrow(Cause.failureOption(exit.cause))._tag
          expect(ERRORS.has(tag), tag).toBe(true)
          return
        }
        admitted++
        expect(client !== undefined && inList(blockList(s.allowed), client)).toBe(true)
        expect(chosen).toHaveLength(1)
        expect(chosen[0]!.kind).toBe("valid")
        expect(exit.value.user.identity).toBe(`proxy:${chosen[0]!.sub}`)
      }),
      { numRuns: 300, interruptAfterTimeLimit: 100_000 }
    )
    expect(admitted).toBeGreaterThan(20)
  }, 150_000)
})
