import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  E2E_API_KEY as PROCESS_API_KEY,
  type Headtower as HeadtowerProcess,
  startHeadtower
} from "../e2e/support/headtower.js"
import { type RawRequest, rawRequest } from "../e2e/support/net.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"

/*
 * GET /metrics of a real `headtower serve`, scraped before and after a known set of requests:
 * each counter must move by exactly what those requests did.
 */

const STRANGER = "127.0.0.2"
const work = makeWorkDir("metrics")
const stops: Array<() => Promise<unknown>> = []
let headscale: FakeHeadscale
let server: HeadtowerProcess

const send = (request: Omit<RawRequest, "port">) => rawRequest({ port: server.port, ...request })
const as = (user: string): ReadonlyArray<readonly [string, string]> => [["Remote-User", user]]

/** `name{a="x",b="y"} 3` → map of `name{a="x",b="y"}` to 3 (labels as rendered, sorted by name). */
const parse = (text: string) =>
  new Map(
    text
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => {
        const at = line.lastIndexOf(" ")
        return [line.slice(0, at), Number(line.slice(at + 1))] as const
      })
  )
const scrape = async () => {
  const response = await send({ path: "/metrics" })
  expect(response.status).toBe(200)
  return { text: response.body, values: parse(response.body), headers: response.headers }
}

let before: Awaited<ReturnType<typeof scrape>>
let after: Awaited<ReturnType<typeof scrape>>
const delta = (series: string) => (after.values.get(series) ?? 0) - (before.values.get(series) ?? 0)

beforeAll(async () => {
  headscale = await startFakeHeadscale({ apiKey: PROCESS_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  server = await startHeadtower({
    workDir: work.dir,
    name: "metrics",
    headscaleUrl: headscale.url,
    databaseUrl: `sqlite:${work.path("metrics.db")}`,
    onSpawn: (stop) => stops.push(stop)
  })

  before = await scrape()
  const statuses = [
    (await send({ path: "/api/me", headers: as("metrics-alice") })).status, // provisioned: owner
    (await send({ path: "/api/me", headers: as("metrics-bob") })).status, // provisioned: member
    (await send({ path: "/api/me", headers: as("metrics-alice") })).status, // known user
    (await send({ path: "/users", headers: as("metrics-bob") })).status, // the page authenticates too
    (await send({ path: "/api/me", localAddress: STRANGER, headers: as("metrics-alice") })).status,
    (await send({ path: "/api/me", headers: [["Remote-Email", "x@example.test"]] })).status,
    (await send({ path: "/api/headscale/users", headers: as("metrics-alice") })).status
  ]
  await headscale.setFault({ garbage: "not-json" })
  statuses.push((await send({ path: "/api/headscale/users", headers: as("metrics-alice") })).status)
  await headscale.setFault({})
  expect(statuses).toEqual([200, 200, 200, 200, 403, 401, 200, 502])
  after = await scrape()
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

describe("GET /metrics", () => {
  it("answers any client in Prometheus text format, without authentication", async () => {
    const response = await send({ path: "/metrics", localAddress: STRANGER })
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8")
    expect(response.body).toContain("# TYPE headtower_authentications_total counter")
    expect(response.body).toContain("# TYPE headtower_authenticate_duration_seconds histogram")
  })

  it("counts authentication outcomes by reason, from the API and the Users page", () => {
    expect(delta('headtower_authentications_total{outcome="authenticated",reason="none"}')).toBe(6)
    expect(delta('headtower_authentications_total{outcome="rejected",reason="ClientNotAllowed"}')).toBe(1)
    expect(delta('headtower_authentications_total{outcome="rejected",reason="MissingIdentityHeader"}')).toBe(1)
  })

  it("times every authentication in the latency histogram", () => {
    expect(delta("headtower_authenticate_duration_seconds_count")).toBe(8)
    expect(delta('headtower_authenticate_duration_seconds_bucket{le="+Inf"}')).toBe(8)
    expect(delta("headtower_authenticate_duration_seconds_sum")).toBeGreaterThan(0)
  })

  it("counts users provisioned by first login, by role, and not known users", () => {
    expect(delta('headtower_users_provisioned_total{role="owner"}')).toBe(1)
    expect(delta('headtower_users_provisioned_total{role="member"}')).toBe(1)
  })

  it("counts Headscale calls by route and outcome", () => {
    expect(delta('headtower_headscale_requests_total{outcome="ok",route="/api/v1/user"}')).toBe(1)
    expect(delta('headtower_headscale_requests_total{outcome="HeadscaleBadResponse",route="/api/v1/user"}')).toBe(1)
  })

  it("names no user or address in any series", () => {
    expect(after.text).not.toMatch(/metrics-alice|metrics-bob|127\.0\.0\./)
  })
})
