import { Either } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { parseConfig } from "../../src/domain/config/parse.js"
import { shownConfig } from "../../src/domain/config/shown.js"

/*
 * server.proxy_auth.assertion: written or not is the switch; once written, every gap or
 * dangerous choice is a start-up error naming its key.
 */

const files = { readText: () => Either.left("not read") }
const parse = (assertion: Record<string, unknown>, env: Record<string, string> = {}) =>
  parseConfig({
    yaml: YAML.stringify({ headscale: { api_key: "k" }, server: { proxy_auth: { enabled: true, assertion } } }),
    env,
    files
  })
const errors = (assertion: Record<string, unknown>) =>
  Object.fromEntries(parse(assertion).errors.map((e) => [e.path, e.message]))

const VALID = {
  header: "Cf-Access-Jwt-Assertion",
  issuer: "https://team.cloudflareaccess.com",
  audience: ["aud-tag"],
  jwks_url: "https://team.cloudflareaccess.com/cdn-cgi/access/certs"
}
const P = "server.proxy_auth.assertion"

describe("assertion configuration", () => {
  it("unset is header mode; set, its defaults apply (RS256 and ES256, 30 s, sub/email/name/picture)", () => {
    expect(parse({}).config?.server.proxyAuth.assertion).toBeUndefined()
    expect(parse(VALID).config?.server.proxyAuth.assertion).toEqual({
      header: "Cf-Access-Jwt-Assertion",
      issuer: VALID.issuer,
      audience: ["aud-tag"],
      keySource: { kind: "url", url: VALID.jwks_url },
      algorithms: ["RS256", "ES256"],
      clockToleranceSeconds: 30,
      identityClaim: "sub",
      emailClaim: "email",
      nameClaim: "name",
      pictureClaim: "picture"
    })
  })

  it("issuer, audience, header and a key source are required, each error naming its key", () => {
    expect(Object.keys(errors({ identity_claim: "email" })).sort()).toEqual([
      `${P}.audience`,
      `${P}.header`,
      `${P}.issuer`,
      `${P}.jwks_url`
    ])
    expect(errors({ ...VALID, jwks_file: "/etc/jwks.json" })).toEqual({
      [`${P}.jwks_file`]: "set either jwks_url or jwks_file, not both"
    })
    expect(errors({ ...VALID, audience: [] })[`${P}.audience`]).toMatch(/is empty/)
  })

  it("HMAC algorithms and none are start-up errors", () => {
    const found = errors({ ...VALID, algorithms: ["RS256", "HS256", "none", "HS512"] })
    expect(found[`${P}.algorithms[1]`]).toMatch(/HS256 is an HMAC algorithm/)
    expect(found[`${P}.algorithms[2]`]).toMatch(/unsigned tokens/)
    expect(found[`${P}.algorithms[3]`]).toMatch(/HS512 is an HMAC algorithm/)
  })

  it("jwks_url must be https unless its host is loopback", () => {
    expect(errors({ ...VALID, jwks_url: "http://idp.internal/certs" })[`${P}.jwks_url`]).toMatch(/must be https/)
    expect(errors({ ...VALID, jwks_url: "ftp://x/certs" })[`${P}.jwks_url`]).toMatch(/must be https/)
    for (const url of ["http://127.0.0.1:9000/certs", "http://localhost/certs", "http://[::1]:9000/certs"]) {
      expect(parse({ ...VALID, jwks_url: url }).errors).toEqual([])
    }
  })

  it("jwks_file is the alternative; Authorization is allowed as the header, other HTTP headers are not", () => {
    const { jwks_url: _, ...noUrl } = VALID
    expect(
      parse({ ...noUrl, jwks_file: "/etc/headtower/jwks.json" }).config?.server.proxyAuth.assertion?.keySource
    ).toEqual({ kind: "file", path: "/etc/headtower/jwks.json" })
    expect(parse({ ...VALID, header: "Authorization" }).errors).toEqual([])
    expect(errors({ ...VALID, header: "Cookie" })[`${P}.header`]).toMatch(/HTTP itself defines/)
  })

  it("environment variables name its keys; check-config prints it and that reads back the same", () => {
    const fromEnv = parse(
      {},
      {
        HEADTOWER_SERVER__PROXY_AUTH__ASSERTION__HEADER: "X-Pomerium-Jwt-Assertion",
        HEADTOWER_SERVER__PROXY_AUTH__ASSERTION__ISSUER: "authenticate.example.com",
        HEADTOWER_SERVER__PROXY_AUTH__ASSERTION__AUDIENCE: "headtower.example.com",
        HEADTOWER_SERVER__PROXY_AUTH__ASSERTION__JWKS_URL:
          "https://headtower.example.com/.well-known/pomerium/jwks.json"
      }
    )
    expect(fromEnv.errors).toEqual([])
    const printed = shownConfig(fromEnv.config!)
    const again = parseConfig({ yaml: YAML.stringify(printed), env: {}, files })
    expect(again.errors).toEqual([])
    expect(again.config?.server.proxyAuth.assertion).toEqual(fromEnv.config?.server.proxyAuth.assertion)
  })
})

describe("assertion warnings", () => {
  it("identity header keys written beside assertion are reported as ignored", () => {
    const r = parseConfig({
      yaml: YAML.stringify({
        headscale: { api_key: "k" },
        server: { proxy_auth: { enabled: true, user_header: "X-User", email_header: "X-Email", assertion: VALID } }
      }),
      env: {},
      files
    })
    expect(r.warnings.filter((w) => /ignored: assertion is configured/.test(w.message)).map((w) => w.path)).toEqual([
      "server.proxy_auth.user_header",
      "server.proxy_auth.email_header"
    ])
    expect(parse(VALID).warnings).toEqual([])
  })
})

describe("the documented assertion configurations", () => {
  it("every complete example in docs/proxies/assertions.md and docs/proxy-authentication.md is a valid configuration", () => {
    const blocks = ["docs/proxies/assertions.md", "docs/proxy-authentication.md"].flatMap((file) =>
      [...readFileSync(join(import.meta.dirname, "..", "..", file), "utf8").matchAll(/```yaml\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .filter((yaml) => yaml.startsWith("server:") && yaml.includes("assertion:"))
    )
    expect(blocks.length).toBeGreaterThanOrEqual(6)
    for (const yaml of blocks) {
      const r = parseConfig({ yaml: `headscale:\n  api_key: k\n${yaml}`, env: {}, files })
      expect(r.errors, yaml).toEqual([])
      expect(r.config?.server.proxyAuth.assertion, yaml).toBeDefined()
    }
  })
})
