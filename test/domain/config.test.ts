import { describe, expect, it } from "@effect/vitest"
import { Either, Option, Redacted } from "effect"
import type { FileReader } from "../../src/domain/config/fields.js"
import { parseConfig } from "../../src/domain/config/parse.js"

const noFiles: FileReader = { readText: (p) => Either.left(`ENOENT: no such file, open '${p}'`) }
const parse = (yaml: string | undefined, env: Record<string, string> = {}, files: FileReader = noFiles) =>
  parseConfig({ yaml, env, files })

const SPEC_EXAMPLE = `
headscale:
  api_key: "hskey-api-abc-def"
server:
  proxy_auth:
    enabled: true
    user_header: "Remote-User"
    email_header: "Remote-Email"
    name_header: "Remote-Name"
    allowed_cidrs:
      - "127.0.0.1/32"
      - "::1/128"
`
const errorPaths = (r: ReturnType<typeof parse>) => r.errors.map((e) => e.path)

describe("Config parsing", () => {
  it("keys are matched against the known set only: inherited names such as constructor, __proto__, toString are unknown keys", () => {
    for (const [yaml, path] of [
      ["constructor: {}", "constructor"],
      ["__proto__: {}", "__proto__"],
      ["toString: {}", "toString"],
      ["server: { toString: {} }", "server.toString"],
      ["headscale: { hasOwnProperty: {} }", "headscale.hasOwnProperty"],
      ["server: { proxy_auth: { __proto__: { enabled: true } } }", "server.proxy_auth.__proto__"]
    ] as const) {
      expect(parse(yaml).errors, yaml).toContainEqual({ path, message: expect.stringMatching(/^unknown key/) })
    }
  })

  it("accepts the spec's basic configuration", () => {
    const r = parse(SPEC_EXAMPLE)
    expect(r.errors).toEqual([])
    const pa = r.config!.server.proxyAuth
    expect(pa.enabled).toBe(true)
    expect(pa.allowedCidrs.cidrs.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1/128"])
    expect(pa.emailHeader).toBe("Remote-Email")
    expect(pa.pictureHeader).toBeUndefined()
  })

  it("proxy auth is opt-in: disabled unless enabled is set", () => {
    const r = parse(undefined)
    expect(r.errors).toEqual([])
    expect(r.config!.server.proxyAuth.enabled).toBe(false)
  })

  it("user_header defaults to Remote-User; both CIDR lists default to localhost (127.0.0.1/32, ::1/128)", () => {
    const r = parse(`headscale: { api_key: k }\nserver: { proxy_auth: { enabled: true } }`)
    const pa = r.config!.server.proxyAuth
    expect(pa.userHeader).toBe("Remote-User")
    expect(pa.allowedCidrs.cidrs.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1/128"])
    expect(pa.trustedProxyCidrs.cidrs.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1/128"])
    expect(pa.ipHeader).toBeUndefined()
    expect(pa.ipHeaderMode).toBe("first")
  })

  it("Decision 6: enabling proxy auth without headscale.api_key is a start-up error", () => {
    const r = parse(`server: { proxy_auth: { enabled: true } }`)
    expect(r.config).toBeUndefined()
    expect(errorPaths(r)).toContain("headscale.api_key")
  })

  it("Decision 6 is reported even when other proxy_auth keys are invalid too", () => {
    const r = parse(`server: { proxy_auth: { enabled: true, user_header: "Bad Header" } }`)
    expect(errorPaths(r)).toEqual(["server.proxy_auth.user_header", "headscale.api_key"])
  })

  it("reads the API key from headscale.api_key_path, trimmed, and keeps it Redacted", () => {
    const files: FileReader = {
      readText: (p) => (p === "/run/key" ? Either.right("hskey-api-x-y\n") : noFiles.readText(p))
    }
    const r = parse(`headscale: { api_key_path: /run/key }\nserver: { proxy_auth: { enabled: true } }`, {}, files)
    const key = Option.getOrThrow(r.config!.headscale.apiKey)
    expect(Redacted.value(key)).toBe("hskey-api-x-y")
    expect(String(key)).not.toContain("hskey")
    expect(JSON.stringify(r.config)).not.toContain("hskey-api-x-y")
  })

  it("an unreadable api_key_path names the key and the file", () => {
    const r = parse(`headscale: { api_key_path: /nope }`)
    expect(r.errors[0]!.path).toBe("headscale.api_key_path")
    expect(r.errors[0]!.message).toContain("/nope")
  })

  it("rejects api_key and api_key_path together", () => {
    expect(errorPaths(parse(`headscale: { api_key: a, api_key_path: /b }`))).toContain("headscale.api_key_path")
  })

  it("an unknown key is an error with a did-you-mean for typos such as allowed_cidr", () => {
    const r = parse(`server:\n  proxy_auth:\n    allowed_cidr: ["10.0.0.0/8"]`)
    expect(r.errors).toEqual([
      { path: "server.proxy_auth.allowed_cidr", message: 'unknown key; did you mean "allowed_cidrs"?' }
    ])
  })

  it("an invalid CIDR names its path and value", () => {
    const r = parse(`server: { proxy_auth: { allowed_cidrs: ["127.0.0.1/32", "10.0.0.0/33", "banana"] } }`)
    expect(errorPaths(r)).toEqual(["server.proxy_auth.allowed_cidrs[1]", "server.proxy_auth.allowed_cidrs[2]"])
    expect(r.errors[1]!.message).toContain("banana")
  })

  it("an empty CIDR list is an error, not 'trust nobody' or 'trust everybody' by accident", () => {
    expect(errorPaths(parse(`server: { proxy_auth: { allowed_cidrs: [] } }`))).toEqual([
      "server.proxy_auth.allowed_cidrs"
    ])
  })

  it("a header name that is not an HTTP token is an error", () => {
    const r = parse(`server: { proxy_auth: { user_header: "Remote User" } }`)
    expect(errorPaths(r)).toEqual(["server.proxy_auth.user_header"])
  })

  it("one header cannot serve two meanings", () => {
    const r = parse(`server: { proxy_auth: { user_header: X-User, email_header: x-user } }`)
    expect(errorPaths(r)).toEqual(["server.proxy_auth.email_header"])
  })

  it("a key written twice is an error", () => {
    expect(parse(`server:\n  listen: "127.0.0.1:1"\n  listen: "127.0.0.1:2"`).errors.length).toBe(1)
  })

  it("wrong types name the path", () => {
    expect(parse(`server: { proxy_auth: { enabled: "yes please" } }`).errors[0]!.path).toBe("server.proxy_auth.enabled")
    expect(parse(`server: { proxy_auth: { allowed_cidrs: "127.0.0.1/32" } }`).errors[0]!.path).toBe(
      "server.proxy_auth.allowed_cidrs"
    )
  })

  describe("warnings (start-up continues)", () => {
    const warned = (yaml: string) => parse(yaml).warnings.map((w) => w.path)
    it("0.0.0.0/0 or ::/0 in allowed_cidrs", () => {
      expect(warned(`server: { proxy_auth: { allowed_cidrs: ["0.0.0.0/0", "::/0"] } }`)).toEqual([
        "server.proxy_auth.allowed_cidrs[0]",
        "server.proxy_auth.allowed_cidrs[1]"
      ])
    })
    it("an IPv6 range that contains every IPv4-mapped address warns like 0.0.0.0/0", () => {
      expect(warned(`server: { proxy_auth: { allowed_cidrs: ["::/64", "::ffff:0:0/97", "fd00::/48"] } }`)).toEqual([
        "server.proxy_auth.allowed_cidrs[0]",
        // ::ffff:0:0/97 is 0.0.0.0/1: not everyone, but half of IPv4, hence the "wide" warning.
        "server.proxy_auth.allowed_cidrs[1]"
      ])
    })
    it("ranges wider than /8 (IPv4) or /32 (IPv6) warn: 0.0.0.0/1 + 128.0.0.0/1 is everyone", () => {
      expect(
        warned(
          `server: { proxy_auth: { allowed_cidrs: ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8", "2001::/16", "fd00::/32"] } }`
        )
      ).toEqual([
        "server.proxy_auth.allowed_cidrs[0]",
        "server.proxy_auth.allowed_cidrs[1]",
        "server.proxy_auth.allowed_cidrs[3]"
      ])
    })
    it("header names containing _ (nginx drops them by default)", () => {
      expect(warned(`server: { proxy_auth: { user_header: Remote_User } }`)).toEqual(["server.proxy_auth.user_header"])
    })
    it("CIDRs with host bits set are normalised", () => {
      const r = parse(`server: { proxy_auth: { allowed_cidrs: ["10.1.2.3/8"] } }`)
      expect(r.warnings[0]!.message).toContain("10.0.0.0/8")
      expect(r.config!.server.proxyAuth.allowedCidrs.cidrs[0]!.text).toBe("10.0.0.0/8")
    })
    it("Decision 3: ip_header in first-entry mode warns about client-chosen entries", () => {
      expect(warned(`server: { proxy_auth: { ip_header: X-Forwarded-For } }`)).toEqual([
        "server.proxy_auth.ip_header_mode"
      ])
      expect(
        warned(`server: { proxy_auth: { ip_header: X-Forwarded-For, ip_header_mode: rightmost_untrusted } }`)
      ).toEqual([])
    })
  })

  describe("issue 11: settings that let a client choose what it is judged on", () => {
    const warned = (yaml: string) => parse(yaml).warnings
    it("trusted_proxy_cidrs containing an allowed_cidrs network warns: any host of the range can claim the allowed address", () => {
      const w = warned(
        `server: { proxy_auth: { allowed_cidrs: ["10.20.30.40/32"], trusted_proxy_cidrs: ["10.0.0.0/8"], ip_header: X-Forwarded-For, ip_header_mode: rightmost_untrusted } }`
      )
      expect(w.map((x) => x.path)).toEqual(["server.proxy_auth.trusted_proxy_cidrs[0]"])
      expect(w[0]!.message).toContain("10.20.30.40/32")
    })
    it("trusted_proxy_cidrs wider than /24 or /64 warns; /24, /64 and single proxies do not", () => {
      const w = warned(
        `server: { proxy_auth: { allowed_cidrs: ["192.0.2.7/32"], trusted_proxy_cidrs: ["10.1.0.0/23", "fd00::/63", "10.2.0.0/24", "fd01::/64", "10.3.0.9/32"] } }`
      )
      expect(w.map((x) => x.path)).toEqual([
        "server.proxy_auth.trusted_proxy_cidrs[0]",
        "server.proxy_auth.trusted_proxy_cidrs[1]"
      ])
    })
    it.each([
      "Host",
      "authorization",
      "Cookie",
      "Content-Type",
      "content-length",
      "Transfer-Encoding",
      "Connection",
      "TE",
      "Upgrade",
      "Proxy-Authorization",
      "User-Agent"
    ])("%s is refused as user_header, email_header, name_header, picture_header and ip_header", (name) => {
      for (const key of ["user_header", "email_header", "name_header", "picture_header", "ip_header"]) {
        const r = parse(`server: { proxy_auth: { ${key}: "${name}" } }`)
        expect(errorPaths(r)).toEqual([`server.proxy_auth.${key}`])
        expect(r.errors[0]!.message).toContain("the client would choose its value")
      }
    })
    it("headers only a proxy sets stay accepted", () => {
      for (const name of ["Remote-User", "X-Forwarded-User", "X-Auth-Request-Email", "Forwarded", "X-Real-IP"]) {
        expect(errorPaths(parse(`server: { proxy_auth: { user_header: "${name}" } }`))).toEqual([])
      }
    })
    it.each(["//evil.example/logout", "/logout", "javascript:alert(1)", "evil.example/logout"])(
      "logout_url %s is refused: absolute http(s) only",
      (url) => {
        const r = parse(`server: { proxy_auth: { logout_url: "${url}" } }`)
        expect(errorPaths(r)).toEqual(["server.proxy_auth.logout_url"])
        expect(r.errors[0]!.message).toContain("must be an absolute http(s) URL")
      }
    )
    it("an absolute https logout_url is accepted", () => {
      expect(parse(`server: { proxy_auth: { logout_url: "https://auth.example.com/logout" } }`).errors).toEqual([])
    })
  })

  describe("environment overrides", () => {
    it("HEADTOWER_<PATH> with __ between segments overrides the file; lists are comma-separated", () => {
      const r = parse(SPEC_EXAMPLE, {
        HEADTOWER_SERVER__PROXY_AUTH__ALLOWED_CIDRS: "10.0.0.0/8, ::1",
        HEADTOWER_SERVER__LISTEN: "[::1]:4000",
        HEADTOWER_HEADSCALE__API_KEY: "from-env"
      })
      expect(r.errors).toEqual([])
      expect(r.config!.server.proxyAuth.allowedCidrs.cidrs.map((c) => c.text)).toEqual(["10.0.0.0/8", "::1/128"])
      expect(r.config!.server).toMatchObject({ host: "::1", port: 4000 })
      expect(Redacted.value(Option.getOrThrow(r.config!.headscale.apiKey))).toBe("from-env")
    })
    it("names differing only in letter case do not both count: variables match in upper case only", () => {
      const r = parse(undefined, {
        HEADTOWER_headscale__url: "http://a.example",
        HEADTOWER_HEADSCALE__URL: "http://b.example"
      })
      expect(r.errors).toEqual([
        {
          path: "HEADTOWER_headscale__url",
          message: "unknown variable; did you mean HEADTOWER_HEADSCALE__URL?"
        }
      ])
      expect(parse(undefined, { HEADTOWER_Headscale__Url: "http://a.example" }).errors.map((e) => e.path)).toEqual([
        "HEADTOWER_Headscale__Url"
      ])
    })

    it("an unknown HEADTOWER_ variable is an error with a suggestion", () => {
      const r = parse(undefined, { HEADTOWER_SERVER__PROXY_AUTH__ENABLE: "true" })
      expect(r.errors[0]!.message).toContain("HEADTOWER_SERVER__PROXY_AUTH__ENABLED")
    })
    it("a boolean variable that is not one is an error", () => {
      expect(parse(undefined, { HEADTOWER_SERVER__PROXY_AUTH__ENABLED: "maybe" }).errors.length).toBe(1)
    })
    it("OTEL_EXPORTER_OTLP_ENDPOINT feeds telemetry", () => {
      expect(
        parse(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).config!.telemetry.otlpEndpoint
      ).toBe("http://127.0.0.1:4318")
    })
  })

  it("database.url selects SQLite by default and PostgreSQL for postgres:// (password never in messages)", () => {
    expect(parse(undefined).config!.database).toEqual({ kind: "sqlite", path: "./data/headtower.db" })
    expect(parse(`database: { url: "postgres://u:pw@127.0.0.1/db" }`).config!.database.kind).toBe("postgres")
    const bad = parse(`database: { url: "mysql://u:secretpw@h/db" }`)
    expect(bad.errors[0]!.message).not.toContain("secretpw")
  })
})
