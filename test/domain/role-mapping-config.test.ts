import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import YAML from "yaml"
import type { FileReader } from "../../src/domain/config/fields.js"
import { parseConfig } from "../../src/domain/config/parse.js"
import { shownConfig } from "../../src/domain/config/shown.js"

const noFiles: FileReader = { readText: (p) => Either.left(`ENOENT: no such file, open '${p}'`) }
const parse = (proxyAuth: string, env: Record<string, string> = {}) =>
  parseConfig({
    yaml: `headscale: { api_key: k }\nserver:\n  proxy_auth:\n    enabled: true\n${proxyAuth.replace(/^/gm, "    ")}`,
    env,
    files: noFiles
  })
const BASE = "server.proxy_auth"

describe("role_mapping, groups_header and groups_separator", () => {
  it("the issue's example decodes into rules in the order written, separator defaulting to ','", () => {
    const r = parse(
      `groups_header: Remote-Groups\nrole_mapping:\n  admin: ["headtower-admins", "ops"]\n  member: [staff]`
    )
    expect(r.errors).toEqual([])
    const pa = r.config!.server.proxyAuth
    expect(pa.groupsHeader).toBe("Remote-Groups")
    expect(pa.groupsSeparator).toBe(",")
    expect(pa.roleMapping).toEqual([
      { role: "admin", groups: ["headtower-admins", "ops"] },
      { role: "member", groups: ["staff"] }
    ])
  })

  it("the written order is the precedence, whatever the role", () => {
    const r = parse(`groups_header: X-Groups\nrole_mapping:\n  viewer: [a]\n  admin: [b]`)
    expect(r.config!.server.proxyAuth.roleMapping!.map((rule) => rule.role)).toEqual(["viewer", "admin"])
  })

  it("owner in role_mapping is a start-up error saying owners are outside the mapping", () => {
    const r = parse(`groups_header: X-Groups\nrole_mapping:\n  owner: [root]\n  admin: [ops]`)
    expect(r.config).toBeUndefined()
    expect(r.errors).toContainEqual({
      path: `${BASE}.role_mapping.owner`,
      message: expect.stringContaining("owners are outside the mapping")
    })
  })

  it("an unknown role, an empty group list and a non-list are errors naming the role", () => {
    const r = parse(`groups_header: X-Groups\nrole_mapping:\n  admn: [ops]\n  admin: []\n  viewer: ops`)
    expect(r.errors).toEqual(
      expect.arrayContaining([
        { path: `${BASE}.role_mapping.admn`, message: expect.stringContaining('unknown role "admn"') },
        { path: `${BASE}.role_mapping.admin`, message: expect.stringContaining("is empty") },
        { path: `${BASE}.role_mapping.viewer`, message: expect.stringContaining("must be a list of group names") }
      ])
    )
  })

  it("a group name with a control or formatting character is an error (no header could carry it)", () => {
    expect(parse(`groups_header: X-Groups\nrole_mapping: { admin: ["ops\\u202e"] }`).errors).toContainEqual({
      path: `${BASE}.role_mapping.admin`,
      message: expect.stringContaining("without control or formatting characters")
    })
    expect(
      parse(`groups_header: X-Groups\nrole_mapping: { admin: ["  ops  "] }`).config!.server.proxyAuth.roleMapping
    ).toEqual([{ role: "admin", groups: ["ops"] }])
  })

  it("role_mapping without groups_header is an error; in assertion mode it needs assertion.groups_claim", () => {
    expect(parse(`role_mapping: { admin: [ops] }`).errors).toContainEqual({
      path: `${BASE}.role_mapping`,
      message: expect.stringContaining("groups_header is not set")
    })
    const assertion = `assertion: { header: X-Token, issuer: https://idp.example, audience: [ht], jwks_url: https://idp.example/jwks }`
    expect(parse(`${assertion}\nrole_mapping: { admin: [ops] }`).errors).toContainEqual({
      path: `${BASE}.role_mapping`,
      message: expect.stringContaining("groups_claim is not set")
    })
    const ok = parse(`${assertion}\nrole_mapping: { admin: [ops] }\n`.replace("jwks }", "jwks, groups_claim: groups }"))
    expect(ok.errors).toEqual([])
    expect(ok.config!.server.proxyAuth.assertion!.groupsClaim).toBe("groups")
  })

  it("groups_header equal to another identity header (any case) is an error; HTTP's own headers are refused", () => {
    expect(parse(`groups_header: remote-user`).errors).toContainEqual({
      path: `${BASE}.groups_header`,
      message: expect.stringContaining(`already used by ${BASE}.user_header`)
    })
    expect(errorPathsOf(parse(`groups_header: Cookie`))).toContain(`${BASE}.groups_header`)
  })

  it("groups_separator is one printable non-alphanumeric character", () => {
    expect(parse(`groups_separator: "|"`).config!.server.proxyAuth.groupsSeparator).toBe("|")
    for (const bad of ['"a"', '"1"', '" "', '",,"', '""', '"\\t"']) {
      expect(errorPathsOf(parse(`groups_separator: ${bad}`)), bad).toContain(`${BASE}.groups_separator`)
    }
  })

  it("a mapped group holding the separator warns: the header would split it, so it never matches", () => {
    const r = parse(`groups_header: X-Groups\nrole_mapping: { admin: ["ops,eu", ops] }`)
    expect(r.errors).toEqual([])
    expect(r.warnings).toContainEqual({
      path: `${BASE}.role_mapping.admin`,
      message: expect.stringContaining('"ops,eu"')
    })
    expect(
      parse(`groups_header: X-Groups\ngroups_separator: "|"\nrole_mapping: { admin: ["ops,eu"] }`).warnings
    ).toEqual([])
  })

  it("a misspelt key gets a did-you-mean", () => {
    expect(parse(`role_mapings: { admin: [ops] }`).errors).toContainEqual({
      path: `${BASE}.role_mapings`,
      message: 'unknown key; did you mean "role_mapping"?'
    })
  })

  it("environment: role_mapping as a JSON object (order kept), the header and separator as text", () => {
    const r = parse("", {
      HEADTOWER_SERVER__PROXY_AUTH__GROUPS_HEADER: "X-authentik-groups",
      HEADTOWER_SERVER__PROXY_AUTH__GROUPS_SEPARATOR: "|",
      HEADTOWER_SERVER__PROXY_AUTH__ROLE_MAPPING: '{"auditor":["audit"],"admin":["ops"]}'
    })
    expect(r.errors).toEqual([])
    expect(r.config!.server.proxyAuth.roleMapping).toEqual([
      { role: "auditor", groups: ["audit"] },
      { role: "admin", groups: ["ops"] }
    ])
    expect(parse("", { HEADTOWER_SERVER__PROXY_AUTH__ROLE_MAPPING: "admin=ops" }).errors).toContainEqual({
      path: "HEADTOWER_SERVER__PROXY_AUTH__ROLE_MAPPING",
      message: expect.stringContaining("must be a JSON object")
    })
  })

  it("check-config prints the mapping as written, and it reads back to the same configuration", () => {
    const r = parse(`groups_header: Remote-Groups\nrole_mapping:\n  admin: [ops]\n  member: [staff]`)
    const shown = shownConfig(r.config!) as { server: { proxy_auth: Record<string, unknown> } }
    expect(shown.server.proxy_auth.role_mapping).toEqual({ admin: ["ops"], member: ["staff"] })
    expect(shown.server.proxy_auth.groups_separator).toBe(",")
    const again = parseConfig({ yaml: YAML.stringify(shown), env: {}, files: noFiles })
    expect(again.config!.server.proxyAuth.roleMapping).toEqual(r.config!.server.proxyAuth.roleMapping)
  })
})

const errorPathsOf = (r: ReturnType<typeof parse>) => r.errors.map((e) => e.path)
