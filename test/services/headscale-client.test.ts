import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Logger, Option, Redacted } from "effect"
import type { HeadscaleCredentials } from "../../src/domain/Headscale.js"
import type { HeadscaleError } from "../../src/domain/headscaleErrors.js"
import { HeadscaleClient, headscaleHttpClientLayer, MAX_BODY_BYTES } from "../../src/services/HeadscaleClient.js"
import { TEST_API_KEY, testConfigLayer } from "../../src/testing/config.js"
import {
  type FakeHeadscale,
  type FakeHeadscaleOptions,
  sampleNodes,
  sampleUsers,
  startFakeHeadscale
} from "../../src/testing/fakeHeadscale.js"
import { allAttributeText, recordSpans } from "../fixtures/recordingTracer.js"

/*
 * HeadscaleClient against the fake Headscale on a real loopback socket, real clock (`it.live`
 * family): timeouts and retries are measured, not simulated. Each test gets its own fake.
 */

const credentials: HeadscaleCredentials = { apiKey: Redacted.make(TEST_API_KEY) }
const WRONG_KEY = "hskey-api-wrongwrongwr-0000000000000000000000000000000000000000000000000000000000000000"

const fakeHeadscale = (options: Partial<FakeHeadscaleOptions> = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      startFakeHeadscale({ apiKey: TEST_API_KEY, users: sampleUsers, nodes: sampleNodes, ...options })
    ),
    (fake) => Effect.promise(() => fake.close())
  )

/** Runs `use` with a HeadscaleClient (and its own undici agent) pointed at `url`. */
const withClient = <A, E>(url: string, use: (client: HeadscaleClient) => Effect.Effect<A, E>, timeoutMs = 2_000) =>
  Effect.flatMap(HeadscaleClient, use).pipe(
    Effect.provide(
      HeadscaleClient.Default.pipe(
        Layer.provide(headscaleHttpClientLayer),
        Layer.provide(testConfigLayer(undefined, { headscale: { url, apiKey: Option.none(), timeoutMs } }))
      )
    )
  )

/** Runs `effect` with its log lines (message and annotations) recorded into `lines`. */
const withLogs = <A, E, R>(
  lines: Array<{ message: unknown; annotations: Record<string, unknown> }>,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.provide(
    effect,
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, message }) => {
        lines.push({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      })
    )
  )

const failureOf = <A>(
  fake: FakeHeadscale,
  call: (client: HeadscaleClient) => Effect.Effect<A, HeadscaleError>,
  timeoutMs?: number
) => withClient(fake.url, (client) => Effect.flip(call(client)), timeoutMs)

describe("HeadscaleClient", () => {
  it("methods need nothing from the environment and fail only with Headscale errors", () => {
    type ListUsers = ReturnType<HeadscaleClient["listUsers"]>
    expectTypeOf<Effect.Effect.Context<ListUsers>>().toEqualTypeOf<never>()
    expectTypeOf<Effect.Effect.Error<ListUsers>>().toEqualTypeOf<HeadscaleError>()
  })

  it.scopedLive("listUsers decodes the user list, reporting an empty stored name as the email", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const users = yield* withClient(fake.url, (client) => client.listUsers(credentials))
      expect(users.map((u) => u.id)).toEqual(["1", "2", "3"])
      expect(users[0]).toMatchObject({
        name: "alice",
        createdAt: "2026-07-01T10:00:00.123456Z",
        provider: "oidc",
        providerId: "https://sso.example.com/59ac9125-5a3e-4c4f-9a5b-0d7c1f2e3a4b"
      })
      expect(users[2]?.name).toBe("carol@example.com")
    })
  )

  it.scopedLive("listUsers sends the email filter and Headscale matches it exactly", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const [exact, otherCase] = yield* withClient(fake.url, (client) =>
        Effect.all([
          client.listUsers(credentials, { email: "alice@example.com" }),
          client.listUsers(credentials, { email: "Alice@example.com" })
        ])
      )
      expect(exact.map((u) => u.name)).toEqual(["alice"])
      expect(otherCase).toEqual([])
      expect(fake.requests.map((r) => r.url)).toEqual([
        "/api/v1/user?email=alice%40example.com",
        "/api/v1/user?email=Alice%40example.com"
      ])
    })
  )

  it.scopedLive("listNodes decodes nodes with null lastSeen, pre-auth keys and the tagged-devices owner", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const nodes = yield* withClient(fake.url, (client) => client.listNodes(credentials))
      expect(nodes.map((n) => n.id)).toEqual(["1", "2", "3"])
      expect(nodes[0]?.lastSeen).toBe("2026-07-03T12:00:00.987654321Z")
      expect(nodes[1]).toMatchObject({ lastSeen: null, expiry: "2026-12-31T00:00:00Z", online: false })
      expect(nodes[1]?.preAuthKey?.key).toBe("hskey-auth-AbCdEfGhIjKl-***")
      expect(nodes[2]?.user).toMatchObject({ id: "2147455555", name: "tagged-devices", createdAt: null })
      expect(nodes[2]?.preAuthKey?.user).toBeNull()
      expect(nodes[2]?.tags).toEqual(["tag:db"])
    })
  )

  it.scopedLive("health reports database connectivity", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const health = yield* withClient(fake.url, (client) => client.health(credentials))
      expect(health.databaseConnectivity).toBe(true)
    })
  )

  it.scopedLive("sends the API key as `Authorization: Bearer <key>`", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* withClient(fake.url, (client) => client.listUsers(credentials))
      expect(fake.requests).toEqual([{ method: "GET", url: "/api/v1/user", auth: "valid" }])
    })
  )

  it.scopedLive("spans are named per method and carry route and status, never the key", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const { spans } = yield* recordSpans(withClient(fake.url, (client) => client.listNodes(credentials)))
      const span = spans.find((s) => s.name === "HeadscaleClient.listNodes")
      expect(span?.attributes.get("headscale.route")).toBe("/api/v1/node")
      expect(span?.attributes.get("http.response.status_code")).toBe(200)
      expect(span?.attributes.get("headscale.outcome")).toBe("ok")
      const everything = allAttributeText(spans)
      expect(everything).toContain("http.request.header.authorization")
      expect(everything).not.toContain(TEST_API_KEY)
    })
  )

  it.scopedLive("a rejected key fails with HeadscaleUnauthorized after one request, without the key in the error", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const error = yield* failureOf(fake, (client) => client.listUsers({ apiKey: Redacted.make(WRONG_KEY) }))
      expect(error._tag).toBe("HeadscaleUnauthorized")
      expect(error.message).toMatch(/configured API key/)
      expect(JSON.stringify(error)).not.toContain(WRONG_KEY)
      expect(fake.requests.map((r) => r.auth)).toEqual(["invalid"])
    })
  )

  it.scopedLive("an unreachable Headscale fails with HeadscaleUnavailable after three quick attempts", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ down: true }))
      const [elapsed, error] = yield* failureOf(fake, (client) => client.listNodes(credentials)).pipe(Effect.timed)
      expect(error._tag).toBe("HeadscaleUnavailable")
      // Two backoffs (≈100 + 200 ms) and refused connections: well under the 2 s timeout.
      expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(200)
      expect(Duration.toMillis(elapsed)).toBeLessThan(1_500)
    })
  )

  it.scopedLive("a Headscale that comes back up is used again", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ down: true }))
      yield* Effect.promise(() => fake.setFault({}))
      const users = yield* withClient(fake.url, (client) => client.listUsers(credentials))
      expect(users).toHaveLength(3)
    })
  )

  it.scopedLive("a connection reset is retried twice, then fails with HeadscaleUnavailable", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ reset: true }))
      const error = yield* failureOf(fake, (client) => client.listUsers(credentials))
      expect(error._tag).toBe("HeadscaleUnavailable")
      expect(fake.requests).toHaveLength(3)
    })
  )

  it.scopedLive("a Headscale slower than timeoutMs fails with HeadscaleTimeout at the deadline", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ delayMs: 10_000 }))
      const [elapsed, error] = yield* failureOf(fake, (client) => client.listUsers(credentials), 300).pipe(Effect.timed)
      expect(error._tag).toBe("HeadscaleTimeout")
      expect(error.message).toContain("300 ms")
      expect(Duration.toMillis(elapsed)).toBeGreaterThanOrEqual(290)
      expect(Duration.toMillis(elapsed)).toBeLessThan(1_500)
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("a 200 body that is not JSON fails with HeadscaleBadResponse, not retried", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ garbage: "not-json" }))
      const error = yield* failureOf(fake, (client) => client.listUsers(credentials))
      expect(error._tag).toBe("HeadscaleBadResponse")
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("a 200 body of the wrong shape fails with HeadscaleBadResponse", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ garbage: "wrong-shape" }))
      const error = yield* failureOf(fake, (client) => client.listNodes(credentials))
      expect(error._tag).toBe("HeadscaleBadResponse")
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive(
    "a persistent 500 is retried twice, then fails with HeadscaleUnavailable; Headscale's message is logged, not relayed",
    () =>
      Effect.gen(function* () {
        const fake = yield* fakeHeadscale()
        yield* Effect.promise(() => fake.setFault({ status: 500 }))
        const logs: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
        const error = yield* withLogs(
          logs,
          failureOf(fake, (client) => client.listUsers(credentials))
        )
        expect(error._tag).toBe("HeadscaleUnavailable")
        expect(error.message).toBe("Headscale answered 500 to GET /api/v1/user")
        expect(JSON.stringify(error)).not.toContain("injected failure")
        expect(logs).toContainEqual({
          message: ["Headscale answered 500 to GET /api/v1/user"],
          annotations: expect.objectContaining({ upstream_error: "injected failure" })
        })
        expect(fake.requests).toHaveLength(3)
      })
  )

  it.scopedLive("a 500 MiB answer is cut off at the size bound: HeadscaleBadResponse (502), the rest never read", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ hugeBodyBytes: 500 * 1024 * 1024 }))
      const error = yield* failureOf(fake, (client) => client.listUsers(credentials), 60_000)
      expect(error._tag).toBe("HeadscaleBadResponse")
      expect(error.message).toBe("Headscale's answer was too large (GET /api/v1/user)")
      // What the fake managed to write: the bound plus what socket buffers hold, not 500 MiB.
      expect(fake.hugeBytesSent).toBeLessThan(MAX_BODY_BYTES + 16 * 1024 * 1024)
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("a single 500 is retried and the call succeeds", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      yield* Effect.promise(() => fake.setFault({ status: 500, times: 1 }))
      const users = yield* withClient(fake.url, (client) => client.listUsers(credentials))
      expect(users).toHaveLength(3)
      expect(fake.requests).toHaveLength(2)
    })
  )

  it.scopedLive("a 404 (Headscale URL with a wrong path) fails with HeadscaleBadResponse, not retried", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const error = yield* withClient(`${fake.url}/headscale/`, (client) => Effect.flip(client.listUsers(credentials)))
      expect(error._tag).toBe("HeadscaleBadResponse")
      expect(error.message).toContain("404")
      expect(fake.requests.map((r) => r.url)).toEqual(["/headscale/api/v1/user"])
    })
  )

  it.scopedLive("0.30 problem+json: a 500 is retried and its detail logged for the operator, not relayed", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale({ mode: "0.30" })
      yield* Effect.promise(() => fake.setFault({ status: 500 }))
      const logs: Array<{ message: unknown; annotations: Record<string, unknown> }> = []
      const error = yield* withLogs(
        logs,
        failureOf(fake, (client) => client.listNodes(credentials))
      )
      expect(error._tag).toBe("HeadscaleUnavailable")
      expect(error.message).toBe("Headscale answered 500 to GET /api/v1/node")
      expect(logs.map((l) => l.annotations.upstream_error)).toContain("injected failure")
      expect(fake.requests).toHaveLength(3)
    })
  )

  it.scopedLive("0.30 problem+json: a rejected key fails with HeadscaleUnauthorized, not retried", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale({ mode: "0.30" })
      const error = yield* failureOf(fake, (client) => client.health({ apiKey: Redacted.make(WRONG_KEY) }))
      expect(error._tag).toBe("HeadscaleUnauthorized")
      expect(fake.requests).toHaveLength(1)
    })
  )

  it.scopedLive("0.26: a bad key answered with 500 `Unauthorized` is HeadscaleUnauthorized, not retried", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale({ mode: "0.26" })
      const error = yield* failureOf(fake, (client) => client.listUsers({ apiKey: Redacted.make(WRONG_KEY) }))
      expect(error._tag).toBe("HeadscaleUnauthorized")
      expect(fake.requests).toHaveLength(1)
    })
  )
})

/* The fake itself: later end-to-end tests rely on it copying the reference contract. */
describe("fake Headscale", () => {
  /** `key: null` sends no Authorization header at all. */
  const raw = (fake: FakeHeadscale, path: string, key: string | null = TEST_API_KEY) =>
    Effect.promise(async () => {
      const response = await fetch(`${fake.url}${path}`, {
        headers: key === null ? {} : { Authorization: `Bearer ${key}` }
      })
      return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
    })

  it.scopedLive("answers a missing or wrong key with 401 and the plain-text body `Unauthorized`", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const missing = yield* raw(fake, "/api/v1/health", null)
      const wrong = yield* raw(fake, "/api/v1/health", WRONG_KEY)
      for (const response of [missing, wrong]) {
        expect(response).toMatchObject({ status: 401, type: "text/plain; charset=utf-8" })
        expect(response.body.trim()).toBe("Unauthorized")
      }
      expect(fake.requests.map((r) => r.auth)).toEqual(["missing", "invalid"])
    })
  )

  it.scopedLive("serves /health and /version without a key", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const health = yield* raw(fake, "/health", null)
      const version = yield* raw(fake, "/version", null)
      expect(health).toEqual({
        status: 200,
        type: "application/health+json; charset=utf-8",
        body: '{"status":"pass"}'
      })
      expect(JSON.parse(version.body)).toMatchObject({ version: "v0.29.2", dirty: false })
    })
  )

  it.scopedLive("answers an unknown /api route with 404 code 5, and a bad id filter with 400 code 3", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const unknown = yield* raw(fake, "/api/v1/nope")
      const badId = yield* raw(fake, "/api/v1/user?id=abc")
      expect(unknown.status).toBe(404)
      expect(JSON.parse(unknown.body)).toEqual({ code: 5, message: "Not Found", details: [] })
      expect(badId.status).toBe(400)
      expect(JSON.parse(badId.body)).toMatchObject({ code: 3 })
    })
  )

  it.scopedLive("applies one user filter (name, then email, then id) and lists nodes by owner name", () =>
    Effect.gen(function* () {
      const fake = yield* fakeHeadscale()
      const byName = yield* raw(fake, "/api/v1/user?name=bob&email=alice@example.com")
      const byId = yield* raw(fake, "/api/v1/user?id=1")
      const allForZero = yield* raw(fake, "/api/v1/user?id=0")
      const bobsNodes = yield* raw(fake, "/api/v1/node?user=bob")
      const unknownOwner = yield* raw(fake, "/api/v1/node?user=zoe")
      const names = (body: string) => JSON.parse(body).users.map((u: { name: string }) => u.name)
      expect(names(byName.body)).toEqual(["bob"])
      expect(names(byId.body)).toEqual(["alice"])
      expect(names(allForZero.body)).toHaveLength(3)
      expect(JSON.parse(bobsNodes.body).nodes.map((n: { id: string }) => n.id)).toEqual(["2"])
      expect(unknownOwner.status).toBe(500)
      expect(JSON.parse(unknownOwner.body)).toEqual({ code: 2, message: "user not found", details: [] })
    })
  )
})
