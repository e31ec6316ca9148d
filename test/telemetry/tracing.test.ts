import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  E2E_API_KEY as PROCESS_API_KEY,
  type Headtower as HeadtowerProcess,
  startHeadtower
} from "../e2e/support/headtower.js"
import { type RawRequest, rawRequest } from "../e2e/support/net.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import {
  type AttributeValue,
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver
} from "../fixtures/otlpReceiver.js"

/*
 * A real `headtower serve` exporting to a loopback OTLP/HTTP receiver, configured only by the
 * standard OTEL_* variables. The profile values below are distinctive so that a leak of any of
 * them into any span (attribute, event or resource) is found by a plain substring search.
 */

const IDENT = "trace-ident-q7zx"
const EMAIL = "mail-q7zx@example.test"
const NAME = "Private Name Q7ZX"
const STRANGER = "127.0.0.2"
const SERVICE_NAME = "headtower-trace-test"

const work = makeWorkDir("tracing")
const stops: Array<() => Promise<unknown>> = []
let receiver: OtlpReceiver
let headscale: FakeHeadscale
let server: HeadtowerProcess

const send = (request: Omit<RawRequest, "port">) => rawRequest({ port: server.port, ...request })
const profileHeaders: ReadonlyArray<readonly [string, string]> = [
  ["Remote-User", IDENT],
  ["Remote-Email", EMAIL],
  ["Remote-Name", NAME]
]

const named = (name: string) => receiver.spans.filter((span) => span.name === name)
const waitFor = async (what: string, done: () => boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`${what} not seen within ${timeoutMs} ms; got: ${receiver.spans.map((s) => s.name).join(", ")}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Every string a span carries anywhere, with where it was found. */
const strings = (span: ReceivedSpan): Array<{ where: string; value: string }> => {
  const out: Array<{ where: string; value: string }> = []
  const walk = (where: string, value: AttributeValue) => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(`${where}[${i}]`, v))
    else if (value !== null) out.push({ where, value: String(value) })
  }
  for (const [key, value] of Object.entries(span.attributes)) walk(`${span.name} ${key}`, value)
  for (const event of span.events) {
    for (const [key, value] of Object.entries(event.attributes)) walk(`${span.name} event ${event.name} ${key}`, value)
  }
  for (const [key, value] of Object.entries(span.resource)) walk(`resource ${key}`, value)
  out.push({ where: `${span.name} status`, value: span.status.message ?? "" })
  return out
}

beforeAll(async () => {
  receiver = await startOtlpReceiver()
  stops.push(() => receiver.close())
  headscale = await startFakeHeadscale({ apiKey: PROCESS_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  server = await startHeadtower({
    workDir: work.dir,
    name: "traced",
    headscaleUrl: headscale.url,
    databaseUrl: `sqlite:${work.path("traced.db")}`,
    // A short batch delay so the test need not wait the default 5 s per export.
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: SERVICE_NAME, OTEL_BSP_SCHEDULE_DELAY: "100" },
    onSpawn: (stop) => stops.push(stop)
  })

  expect((await send({ path: "/api/me", headers: profileHeaders })).status).toBe(200)
  expect((await send({ path: "/api/me", localAddress: STRANGER, headers: profileHeaders })).status).toBe(403)
  expect((await send({ path: "/api/me", headers: [["Remote-Email", EMAIL]] })).status).toBe(401)
  expect((await send({ path: "/api/headscale/users", headers: profileHeaders })).status).toBe(200)
  await waitFor(
    "every expected span",
    () =>
      named("Authenticator.authenticate").length >= 4 &&
      named("HeadscaleClient.listUsers").length >= 1 &&
      named("http.server GET").filter((s) => String(s.attributes["url.path"]).startsWith("/api/")).length >= 4
  )
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

describe("span export over OTLP/HTTP", () => {
  it("sends JSON to /v1/traces under the configured service name", () => {
    expect(receiver.refused).toEqual([])
    expect(new Set(receiver.spans.map((s) => s.resource["service.name"]))).toEqual(new Set([SERVICE_NAME]))
  })

  it("exports the authentication steps, the HTTP request span and the Headscale call", () => {
    const names = new Set(receiver.spans.map((s) => s.name))
    for (const name of [
      "http.server GET",
      "Authenticator.authenticate",
      "ClientIpResolver.resolve",
      "IdentityExtractor.extract",
      "UserRepository.provision",
      "HeadscaleClient.listUsers"
    ])
      expect(names, name).toContain(name)
  })

  it("nests authenticate under the request's HTTP span and the decision steps under authenticate", () => {
    const byId = new Map(receiver.spans.map((s) => [s.spanId, s]))
    const ancestors = (span: ReceivedSpan) => {
      const out: Array<string> = []
      for (let p = span.parentSpanId && byId.get(span.parentSpanId); p; p = p.parentSpanId && byId.get(p.parentSpanId))
        out.push(p.name)
      return out
    }
    for (const span of named("Authenticator.authenticate")) expect(ancestors(span)).toContain("http.server GET")
    for (const span of [
      ...named("ClientIpResolver.resolve"),
      ...named("IdentityExtractor.extract"),
      ...named("UserRepository.provision")
    ]) {
      expect(ancestors(span)).toContain("Authenticator.authenticate")
    }
    expect(ancestors(named("HeadscaleClient.listUsers")[0]!)).toContain("http.server GET")
  })

  it("records the decision on authenticate: peer, client IP and outcome", () => {
    const outcomes = named("Authenticator.authenticate").map((s) => s.attributes)
    expect(outcomes).toContainEqual(
      expect.objectContaining({
        "auth.peer": "127.0.0.1",
        "auth.client_ip": "127.0.0.1",
        "auth.allowed_rule": "127.0.0.1/32",
        "auth.outcome": "authenticated"
      })
    )
    expect(outcomes).toContainEqual(
      expect.objectContaining({
        "auth.peer": STRANGER,
        "auth.client_ip": STRANGER,
        "auth.allowed_rule": "none",
        "auth.outcome": "rejected",
        "auth.reason": "ClientNotAllowed"
      })
    )
    expect(outcomes).toContainEqual(
      expect.objectContaining({ "auth.outcome": "rejected", "auth.reason": "MissingIdentityHeader" })
    )
    expect(named("ClientIpResolver.resolve").map((s) => s.attributes)).toContainEqual(
      expect.objectContaining({
        "client_ip.outcome": "resolved",
        "client_ip.peer": STRANGER,
        "client_ip.client": STRANGER
      })
    )
  })

  it("records the Headscale route and outcome, and the HTTP status on the request span", () => {
    expect(named("HeadscaleClient.listUsers")[0]!.attributes).toMatchObject({
      "headscale.route": "/api/v1/user",
      "headscale.outcome": "ok"
    })
    const statuses = named("http.server GET").map((s) => [
      s.attributes["url.path"],
      s.attributes["http.response.status_code"]
    ])
    expect(statuses).toContainEqual(["/api/me", 403])
    expect(statuses).toContainEqual(["/api/headscale/users", 200])
  })

  it("never exports the Headscale API key, in any attribute, event, status or resource", () => {
    const leaks = receiver.spans.flatMap(strings).filter(({ value }) => value.includes(PROCESS_API_KEY))
    expect(leaks).toEqual([])
  })

  it("never exports profile headers nor the identity: the user is named by user id (telemetry.export_identity is off)", () => {
    const found = receiver.spans.flatMap(strings)
    expect(found.filter(({ value }) => value.includes(EMAIL) || value.includes(NAME))).toEqual([])
    expect(found.filter(({ value }) => value.includes(IDENT))).toEqual([])
    const authenticated = named("Authenticator.authenticate").filter(
      (s) => s.attributes["auth.outcome"] === "authenticated"
    )
    expect(authenticated.length).toBeGreaterThan(0)
    for (const span of authenticated) expect(span.attributes["auth.user_id"]).toMatch(/^[0-9a-f-]{36}$/)
  })

  it("honours an incoming traceparent from a trusted proxy only; a stranger's starts a trace of its own", async () => {
    const traceparent = (traceId: string) => ["traceparent", `00-${traceId}-00f067aa0ba902b7-01`] as const
    const trustedTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    const strangerTrace = "5ce0a3f0a0b34da6a3ce929d0e0e4737"
    expect((await send({ path: "/api/me", headers: [...profileHeaders, traceparent(trustedTrace)] })).status).toBe(200)
    expect(
      (
        await send({
          path: "/api/me",
          localAddress: STRANGER,
          headers: [...profileHeaders, traceparent(strangerTrace)]
        })
      ).status
    ).toBe(403)
    const requestSpans = () => named("http.server GET").filter((s) => s.attributes["url.path"] === "/api/me")
    await waitFor("the trusted proxy's request span", () => requestSpans().some((s) => s.traceId === trustedTrace))
    // beforeAll's stranger request and this one: two refused /api/me spans.
    await waitFor(
      "the stranger's request span",
      () => requestSpans().filter((s) => s.attributes["http.response.status_code"] === 403).length >= 2
    )
    expect(receiver.spans.filter((s) => s.traceId === strangerTrace)).toEqual([])
  })

  it("shows a request span's header names but not their values, except harmless ones", () => {
    const me = named("http.server GET").find(
      (s) => s.attributes["url.path"] === "/api/me" && s.attributes["http.response.status_code"] === 200
    )!
    expect(me.attributes["http.request.header.remote-user"]).toBe("<redacted>")
    expect(me.attributes["http.request.header.host"]).toBe(`127.0.0.1:${server.port}`)
  })
})
