import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import YAML from "yaml"
import type { FileReader } from "../../src/domain/config/fields.js"
import { parseConfig } from "../../src/domain/config/parse.js"
import { shownConfig } from "../../src/domain/config/shown.js"

/* What the one description of the configuration (ConfigSchema) gives beyond each key's checks. */

const files: FileReader = {
  readText: (p) => (p === "/run/key" ? Either.right("hskey-from-file\n") : Either.left("ENOENT"))
}
const shown = (yaml: string | undefined, env: Record<string, string> = {}) => {
  const r = parseConfig({ yaml, env, files })
  expect(r.errors).toEqual([])
  return shownConfig(r.config!)
}

describe("check-config's effective configuration", () => {
  it("shows every key with its default, unset ones as null, in the file's own shape", () => {
    expect(shown(undefined)).toEqual({
      headscale: { url: "http://127.0.0.1:8080", api_key: null, timeout_ms: 5000 },
      server: {
        listen: "127.0.0.1:3000",
        proxy_auth: {
          enabled: false,
          user_header: "Remote-User",
          email_header: null,
          name_header: null,
          picture_header: null,
          groups_header: null,
          groups_separator: ",",
          role_mapping: null,
          header_encoding: "none",
          allowed_cidrs: ["127.0.0.1/32", "::1/128"],
          ip_header: null,
          ip_header_mode: "first",
          trusted_proxy_cidrs: ["127.0.0.1/32", "::1/128"],
          logout_url: null,
          sync_ttl_seconds: 10,
          // Unset: header mode. Its defaults apply once the section is written.
          assertion: {
            header: null,
            issuer: null,
            audience: null,
            jwks_url: null,
            jwks_file: null,
            algorithms: null,
            clock_tolerance_seconds: null,
            identity_claim: null,
            email_claim: null,
            name_claim: null,
            picture_claim: null,
            groups_claim: null
          }
        },
        tls: { cert_file: null, key_file: null, client_ca_file: null, allowed_client_names: [] }
      },
      database: { url: "sqlite:./data/headtower.db" },
      telemetry: { otlp_endpoint: null, service_name: "headtower", export_identity: false }
    })
  })

  it("redacts the API key (inline, from a file or from the environment) and a PostgreSQL URL", () => {
    const fromFile = shown(
      `headscale: { api_key_path: /run/key }\ndatabase: { url: "postgres://u:pw-secret@127.0.0.1/db" }`
    )
    expect(fromFile).toMatchObject({
      headscale: { api_key: "<redacted>" },
      database: { url: "postgres://***@127.0.0.1/db" }
    })
    expect(JSON.stringify(fromFile)).not.toMatch(/hskey|pw-secret/)
    const fromEnv = shown(undefined, { HEADTOWER_HEADSCALE__API_KEY: "hskey-env" })
    expect(fromEnv).toMatchObject({ headscale: { api_key: "<redacted>" } })
    expect(JSON.stringify(fromEnv)).not.toContain("hskey-env")
  })

  it("prints normalised values (CIDRs, listen, base URL), and what it prints reads back as the same configuration", () => {
    const printed = shown(`
headscale: { url: "http://hs.internal:8080/" }
server:
  listen: "[::1]:4000"
  proxy_auth: { allowed_cidrs: ["10.1.2.3/8"], ip_header: X-Forwarded-For, ip_header_mode: rightmost_untrusted, logout_url: "https://auth.example/bye" }
telemetry: { otlp_endpoint: "http://127.0.0.1:4318", service_name: ht }
`)
    expect(printed).toMatchObject({
      headscale: { url: "http://hs.internal:8080" },
      server: {
        listen: "[::1]:4000",
        proxy_auth: { allowed_cidrs: ["10.0.0.0/8"], logout_url: "https://auth.example/bye" }
      }
    })
    expect(shown(YAML.stringify(printed))).toEqual(printed)
  })
})

describe("relations between keys", () => {
  const paths = (yaml: string) => parseConfig({ yaml, env: {}, files }).errors.map((e) => e.path)

  it("are reported together with every other error, not only once the section is valid", () => {
    const found = paths(`server: { proxy_auth: { user_header: X-User, email_header: x-user, sync_ttl_seconds: -1 } }`)
    expect(found.sort()).toEqual(["server.proxy_auth.email_header", "server.proxy_auth.sync_ttl_seconds"])
  })

  it("api_key with api_key_path is refused even when the key file cannot be read", () => {
    const r = parseConfig({ yaml: `headscale: { api_key: k, api_key_path: /nope }`, env: {}, files })
    expect(r.errors).toContainEqual({
      path: "headscale.api_key_path",
      message: "set either headscale.api_key or headscale.api_key_path, not both"
    })
  })
})

describe("environment variables, named after every key's path", () => {
  it("numbers and strings of any section are read from HEADTOWER_<SECTION>__<KEY>", () => {
    const r = parseConfig({
      yaml: undefined,
      env: {
        HEADTOWER_HEADSCALE__TIMEOUT_MS: "2500",
        HEADTOWER_SERVER__PROXY_AUTH__SYNC_TTL_SECONDS: "0",
        HEADTOWER_TELEMETRY__SERVICE_NAME: "edge"
      },
      files
    })
    expect(r.errors).toEqual([])
    expect(r.config!.headscale.timeoutMs).toBe(2500)
    expect(r.config!.server.proxyAuth.syncTtlSeconds).toBe(0)
    expect(r.config!.telemetry.serviceName).toBe("edge")
  })

  it("a variable's value gets the key's own checks, named by the key's path", () => {
    const r = parseConfig({ yaml: undefined, env: { HEADTOWER_HEADSCALE__TIMEOUT_MS: "5" }, files })
    expect(r.errors).toEqual([
      { path: "headscale.timeout_ms", message: "must be a whole number of milliseconds from 100 to 120000, got 5" }
    ])
  })
})
