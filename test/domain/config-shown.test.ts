import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import YAML from "yaml"
import type { FileReader } from "../../src/domain/config/fields.js"
import { parseConfig } from "../../src/domain/config/parse.js"
import { shownConfig } from "../../src/domain/config/shown.js"

/* What `check-config` prints: the effective configuration in the file's shape, secrets redacted. */

const files: FileReader = { readText: (p) => (p === "/run/key" ? Either.right("hskey-from-file\n") : Either.left("ENOENT")) }
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
          allowed_cidrs: ["127.0.0.1/32", "::1/128"],
          ip_header: null,
          ip_header_mode: "first",
          trusted_proxy_cidrs: ["127.0.0.1/32", "::1/128"],
          logout_url: null,
          sync_ttl_seconds: 10
        }
      },
      database: { url: "sqlite:./data/headtower.db" },
      telemetry: { otlp_endpoint: null, service_name: "headtower" }
    })
  })

  it("redacts the API key (inline, from a file or from the environment) and a PostgreSQL URL", () => {
    const fromFile = shown(`headscale: { api_key_path: /run/key }\ndatabase: { url: "postgres://u:pw-secret@127.0.0.1/db" }`)
    expect(fromFile).toMatchObject({ headscale: { api_key: "<redacted>" }, database: { url: "postgres://<redacted>" } })
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
  proxy_auth: { allowed_cidrs: ["10.1.2.3/8"], ip_header: X-Forwarded-For, ip_header_mode: rightmost_untrusted, logout_url: /bye }
telemetry: { otlp_endpoint: "http://127.0.0.1:4318", service_name: ht }
`)
    expect(printed).toMatchObject({
      headscale: { url: "http://hs.internal:8080" },
      server: { listen: "[::1]:4000", proxy_auth: { allowed_cidrs: ["10.0.0.0/8"], logout_url: "/bye" } }
    })
    expect(shown(YAML.stringify(printed))).toEqual(printed)
  })
})
