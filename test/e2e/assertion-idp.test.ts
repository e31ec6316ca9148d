import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { OAuth2Server } from "oauth2-mock-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { type FakeHeadscale, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { rawRequest } from "./support/net.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * Assertion mode end to end, with tokens and keys from a real identity provider package
 * (oauth2-mock-server: its own key generation, signing and JWKS endpoint), not the project's
 * signing code: `headtower serve` as a child process verifies them; `headtower explain` judges
 * the same tokens the same way.
 */

const AUDIENCE = "headtower-e2e"
const HEADER = "X-Pomerium-Jwt-Assertion"
const work = makeWorkDir("assertion-idp")
let idp: OAuth2Server
let headscale: FakeHeadscale
let server: Headtower
let issuer: string
let stopServer: (() => Promise<void>) | undefined

/** A token the provider signs: audience and subject set, as an identity-aware proxy forwards it. */
const token = (claims: Record<string, unknown> = {}, expiresIn = 600) =>
  idp.issuer.buildToken({
    expiresIn,
    scopesOrTransform: (_header, payload) => {
      Object.assign(payload, { aud: AUDIENCE, sub: "carol", email: "carol@example.com", name: "Carol" }, claims)
    }
  })

const assertion = () => ({
  header: HEADER,
  issuer,
  audience: [AUDIENCE],
  jwks_url: `${issuer}/jwks`
})

beforeAll(async () => {
  idp = new OAuth2Server()
  await idp.issuer.keys.generate("RS256")
  await idp.start(0, "127.0.0.1")
  issuer = idp.issuer.url!
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: [], nodes: [], port: 0 })
  server = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    proxyAuth: { assertion: assertion() },
    onSpawn: (stop) => (stopServer = stop)
  })
}, 180_000)

afterAll(async () => {
  await stopServer?.()
  await headscale?.close()
  await idp?.stop()
  work.remove()
})

const me = (headers: ReadonlyArray<readonly [string, string]>) =>
  rawRequest({ port: server.port, path: "/api/me", headers })

describe("assertion mode with a real identity provider's tokens", () => {
  it("a provider-signed token signs in proxy:<sub>; /readyz is ready", async () => {
    const res = await me([[HEADER, await token()]])
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ identity: "proxy:carol", email: "carol@example.com", name: "Carol" })
    expect(res.headers["vary"]).toContain(HEADER)
    expect((await rawRequest({ port: server.port, path: "/readyz" })).status).toBe(200)
  })

  it("identity headers alone, or beside a token, never sign anyone in as the header says", async () => {
    const alone = await me([["Remote-User", "admin"]])
    expect([alone.status, alone.json._tag]).toEqual([401, "MissingAssertion"])
    const beside = await me([
      ["Remote-User", "admin"],
      [HEADER, await token()]
    ])
    expect(beside.json.identity).toBe("proxy:carol")
  })

  it("a token for another audience, or expired, is 401 with the reason; the log has expected and received aud, never the token", async () => {
    const other = await token({ aud: "another-app" })
    const res = await me([[HEADER, other]])
    expect(res.status).toBe(401)
    expect(res.json).toMatchObject({ _tag: "InvalidAssertion", reason: "wrong audience" })
    const expired = await me([[HEADER, await token({}, -120)]])
    expect(expired.json).toMatchObject({ _tag: "InvalidAssertion", reason: "expired" })
    await expect.poll(() => server.log()).toContain("another-app")
    const log = server.log()
    expect(log).toContain(`expected_aud`)
    expect(log).toContain(AUDIENCE)
    expect(log).not.toContain(other.split(".")[2]!)
  })

  it("a token signed by the provider with a key it no longer publishes: unknown key, 401", async () => {
    const stale = new OAuth2Server()
    await stale.issuer.keys.generate("RS256")
    stale.issuer.url = issuer
    const forged = await stale.issuer.buildToken({
      scopesOrTransform: (_h, p) => Object.assign(p, { aud: AUDIENCE, sub: "carol" })
    })
    const res = await me([[HEADER, forged]])
    expect(res.status).toBe(401)
    expect(res.json._tag).toBe("InvalidAssertion")
    expect(["unknown key", "bad signature"]).toContain(res.json.reason)
  })
})

describe("headtower explain judges a token as the server does, fetching the keys and writing nothing", () => {
  const run = promisify(execFile)
  const ROOT = join(import.meta.dirname, "..", "..")
  const explain = async (...headers: Array<string>) => {
    const configFile = work.path("explain.yaml")
    writeFileSync(
      configFile,
      stringify({
        headscale: { url: "http://127.0.0.1:1", api_key: E2E_API_KEY },
        server: { proxy_auth: { enabled: true, allowed_cidrs: ["127.0.0.1/32"], assertion: assertion() } },
        database: { url: `sqlite:${work.path("explain-never-created.db")}` }
      })
    )
    const args = ["--import", "tsx", "src/main.ts", "explain", "--config", configFile, "--peer", "127.0.0.1"]
    for (const h of headers) args.push("-H", h)
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEADTOWER_")))
    const result = await run(process.execPath, args, { cwd: ROOT, env, encoding: "utf8" }).catch(
      (e: { stdout: string }) => e
    )
    return result.stdout
  }

  it("verifies a good token step by step, and names what was expected for a bad one", async () => {
    const good = await explain(`${HEADER}: ${await token()}`, "Remote-User: admin")
    expect(good).toMatch(/assertion: X-Pomerium-Jwt-Assertion verified/)
    expect(good).toContain("identity: proxy:carol (from the sub claim)")
    expect(good).toMatch(/=> 200 Authenticated \(nothing was written\)/)
    const bad = await explain(`${HEADER}: ${await token({ aud: "another-app" })}`)
    expect(bad).toMatch(/refused \(InvalidAssertion: wrong audience\)/)
    expect(bad).toContain(`aud: expected one of ${AUDIENCE}, received another-app`)
    expect(bad).toMatch(/=> 401 InvalidAssertion/)
    const none = await explain("Remote-User: admin")
    expect(none).toMatch(/=> 401 MissingAssertion/)
  }, 120_000)
})
