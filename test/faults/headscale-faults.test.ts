import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { E2E_API_KEY } from "../e2e/support/headtower.js"
import { type Headtower as HeadtowerProcess, startHeadtower } from "../e2e/support/headtower.js"
import { rawRequest, type RawResponse } from "../e2e/support/net.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import {
  type FakeHeadscale,
  type FakeHeadscaleFault,
  sampleNodes,
  sampleUsers,
  startFakeHeadscale
} from "../../src/testing/fakeHeadscale.js"

/*
 * Headscale misbehaving under a real Headtower process, over real sockets. Every failure must
 * be a typed gateway error within a bounded time, and must not touch what does not need
 * Headscale (/api/me): the console stays usable while its upstream is sick.
 */

/*
 * Low, but not so low that "down" becomes a timeout: the deadline covers the retries too
 * (three refused attempts, ~300 ms of backoff), and with 500 ms a loaded machine sometimes
 * ran out of deadline first and answered 504 HeadscaleTimeout for a refused connection.
 */
const TIMEOUT_MS = 1_000
/** Generous so a loaded machine does not flake; the point is "bounded", not "fast". */
const BOUND_MS = TIMEOUT_MS + 2_000

const work = makeWorkDir("headscale-faults")
let headscale: FakeHeadscale
let headtower: HeadtowerProcess | undefined
let port = 0

const timed = async (path: string, user = "operator"): Promise<RawResponse & { readonly ms: number }> => {
  const started = performance.now()
  const response = await rawRequest({ port: headtower!.port, path, headers: [["Remote-User", user]] })
  return { ...response, ms: performance.now() - started }
}

/** Polls until /readyz answers `status` (readiness follows Headscale, remembered for a few seconds). */
const readyzBecomes = async (status: number): Promise<RawResponse> => {
  const deadline = Date.now() + 15_000
  let last: RawResponse | undefined
  while (Date.now() < deadline) {
    last = await rawRequest({ port: headtower!.port, path: "/readyz" })
    if (last.status === status) return last
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`/readyz never answered ${status}; last ${last?.status} ${last?.body}`)
}

beforeAll(async () => {
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  port = Number(new URL(headscale.url).port)
  headtower = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    databaseUrl: `sqlite:${work.path("data/headtower.db")}`,
    headscaleTimeoutMs: TIMEOUT_MS,
    proxyAuth: { sync_ttl_seconds: 0 }
  })
})

afterAll(async () => {
  await headtower?.stop()
  await headscale?.close()
  work.remove()
})

describe("Headscale faults, seen through GET /api/headscale/users", () => {
  const cases: ReadonlyArray<{
    readonly name: string
    readonly fault: FakeHeadscaleFault
    readonly status: number
    readonly tag: string
  }> = [
    { name: "down (connection refused)", fault: { down: true }, status: 502, tag: "HeadscaleUnavailable" },
    { name: "resetting connections", fault: { reset: true }, status: 502, tag: "HeadscaleUnavailable" },
    { name: "slower than timeout_ms", fault: { delayMs: TIMEOUT_MS * 6 }, status: 504, tag: "HeadscaleTimeout" },
    { name: "answering non-JSON", fault: { garbage: "not-json" }, status: 502, tag: "HeadscaleBadResponse" },
    {
      name: "answering JSON of the wrong shape",
      fault: { garbage: "wrong-shape" },
      status: 502,
      tag: "HeadscaleBadResponse"
    },
    { name: "answering 500", fault: { status: 500 }, status: 502, tag: "HeadscaleUnavailable" }
  ]

  for (const c of cases) {
    it(`Headscale ${c.name} → ${c.status} ${c.tag} within ${BOUND_MS} ms, /api/me still 200, then healthy again`, async () => {
      expect((await timed("/api/headscale/users")).status).toBe(200)
      await headscale.setFault(c.fault)
      try {
        const failed = await timed("/api/headscale/users")
        expect(failed.status).toBe(c.status)
        expect(failed.json).toMatchObject({ _tag: c.tag })
        expect(failed.body).not.toMatch(/at .*\.ts:\d+|stack/i)
        expect(failed.ms).toBeLessThan(BOUND_MS)
        const me = await timed("/api/me")
        expect(me.status).toBe(200)
        expect(me.json).toMatchObject({ identity: "proxy:operator" })
      } finally {
        await headscale.setFault({})
      }
      const healed = await timed("/api/headscale/users")
      expect(healed.status).toBe(200)
      expect(healed.json.users).toHaveLength(sampleUsers.length)
    })
  }

  it("Headscale's error text is logged for the operator, escaped, and never relayed in the 502", async () => {
    const hostile = "open /var/lib/headscale/db.sqlite: \x1b]0;pwned\x07\u202e hskey-api-fragment"
    await headscale.setFault({ status: 500, errorMessage: hostile })
    try {
      const failed = await timed("/api/headscale/users")
      expect(failed.status).toBe(502)
      expect(failed.json).toEqual({
        _tag: "HeadscaleUnavailable",
        message: "Headscale answered 500 to GET /api/v1/user"
      })
    } finally {
      await headscale.setFault({})
    }
    const logged = headtower!
      .log()
      .split("\n")
      .filter((line) => line.includes("/var/lib/headscale/db.sqlite"))
    expect(logged.length).toBeGreaterThan(0)
    for (const line of logged) {
      expect(line).not.toMatch(/[\u001b\u0007\u202e]/)
      expect(JSON.parse(line).annotations.upstream_error).toBe(
        "open /var/lib/headscale/db.sqlite: \\x1b]0;pwned\\x07\\u{202e} hskey-api-fragment"
      )
    }
  })

  it(`Headscale rejecting the key (rotated on its side) → 502 HeadscaleUnauthorized, 0.26's 500 "Unauthorized" too`, async () => {
    // Same address, a different accepted key: what an operator rotating the key on Headscale does.
    await headscale.close()
    headscale = await startFakeHeadscale({ apiKey: "hskey-api-rotated", users: sampleUsers, port })
    try {
      const rejected = await timed("/api/headscale/users")
      expect(rejected.status).toBe(502)
      expect(rejected.json).toMatchObject({ _tag: "HeadscaleUnauthorized" })
      expect(rejected.body).not.toContain(E2E_API_KEY)
      expect(rejected.ms).toBeLessThan(BOUND_MS)
      headscale.setMode("0.26")
      const legacy = await timed("/api/headscale/users")
      expect(legacy.status).toBe(502)
      expect(legacy.json).toMatchObject({ _tag: "HeadscaleUnauthorized" })
      expect((await timed("/api/me")).status).toBe(200)
    } finally {
      await headscale.close()
      headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port })
    }
    expect((await timed("/api/headscale/users")).status).toBe(200)
  })
})

describe("readiness follows Headscale", () => {
  it("/readyz is 503 NotReady while Headscale is down and 200 ready once it is back, same process", async () => {
    expect((await readyzBecomes(200)).json).toMatchObject({ status: "ready" })
    await headscale.setFault({ down: true })
    try {
      const down = await readyzBecomes(503)
      expect(down.json).toEqual({ _tag: "NotReady", message: "a dependency is not ready" })
      expect(headtower!.log()).toContain("not ready: Headscale check: HeadscaleUnavailable")
    } finally {
      await headscale.setFault({})
    }
    expect((await readyzBecomes(200)).json).toEqual({ status: "ready" })
    expect(headtower!.hasExited()).toBe(false)
  })
})
