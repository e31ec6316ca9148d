import { Layer, Logger, LogLevel } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AssertionKeyTiming } from "../../src/services/AssertionVerifier.js"
import { DEFAULT_KEY_TIMING } from "../../src/services/assertion/keySet.js"
import { rawRequest } from "../e2e/support/net.js"
import { TEST_API_KEY, testConfig } from "../../src/testing/config.js"
import { type FakeHeadscale, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { assertionConfig, type JwksServer, makeKey, sign, startJwksServer, type TestKey } from "../fixtures/jwks.js"
import { serveRoutes } from "./support/servedRoutes.js"

/*
 * The key server's outage seen over HTTP, with the server built in process from the layers
 * `headtower serve` uses (the key timing shortened): a token nobody can verify is 503
 * AssertionKeysUnavailable, /readyz is not ready while /healthz answers, and both recover when
 * the key server is back, without a restart.
 */

const HEADER = "Cf-Access-Jwt-Assertion"
let dir: string
let headscale: FakeHeadscale
let keys: JwksServer
let key: TestKey
let server: Awaited<ReturnType<typeof serveRoutes>> | undefined
let port: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headtower-assertion-http-"))
  key = await makeKey("k1")
  keys = await startJwksServer([key.publicJwk])
  headscale = await startFakeHeadscale({ apiKey: TEST_API_KEY, users: [], nodes: [], port: 0 })
  const config = testConfig(
    { assertion: assertionConfig(keys.url) },
    {
      database: { kind: "sqlite", path: join(dir, "users.db") },
      headscale: { ...testConfig().headscale, url: headscale.url, timeoutMs: 1_000 }
    }
  )
  server = await serveRoutes(
    config,
    Layer.mergeAll(
      Layer.succeed(AssertionKeyTiming, {
        ...DEFAULT_KEY_TIMING,
        cooldownMs: 200,
        refreshEveryMs: 200,
        maxAgeMs: 60_000
      }),
      Logger.minimumLogLevel(LogLevel.None)
    )
  )
  port = server.port
})

afterAll(async () => {
  await server?.stop()
  await headscale?.close()
  await keys?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const get = (path: string, token?: string) =>
  rawRequest({ port, path, headers: token === undefined ? [] : [[HEADER, token]] })

const until = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 100))
}

describe("assertion keys over HTTP", () => {
  it("an outage: 503 for a token nobody can verify, /readyz not ready, /healthz fine; recovery without a restart", async () => {
    expect((await get("/api/me", await sign(key))).status).toBe(200)
    expect((await get("/readyz")).status).toBe(200)

    await keys.stop()
    const next = await makeKey("k2")
    const newToken = await sign(next, { sub: "dora" })
    await until(async () => (await get("/readyz")).status === 503)
    expect((await get("/healthz")).status).toBe(200)
    const refused = await get("/api/me", newToken)
    expect(refused.status).toBe(503)
    expect(refused.json).toEqual({ _tag: "AssertionKeysUnavailable", message: expect.any(String) })
    const page = await get("/users", newToken)
    expect(page.status).toBe(503)
    expect(page.body).toContain("signing keys")

    keys.keys = [key.publicJwk, next.publicJwk]
    await keys.restart()
    await until(async () => (await get("/readyz")).status === 200)
    const after = await get("/api/me", newToken)
    expect([after.status, after.json.identity]).toEqual([200, "proxy:dora"])
  })

  it("no token is 401 MissingAssertion, a forged one 401 InvalidAssertion with its reason", async () => {
    const missing = await get("/api/me")
    expect([missing.status, missing.json._tag]).toEqual([401, "MissingAssertion"])
    const forged = await sign(await makeKey("k1"))
    const invalid = await get("/api/me", forged)
    expect(invalid.status).toBe(401)
    expect(invalid.json).toEqual({ _tag: "InvalidAssertion", reason: "bad signature", message: expect.any(String) })
  })
})
