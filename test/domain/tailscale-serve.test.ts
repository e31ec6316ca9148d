import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseConfig } from "../../src/domain/config/parse.js"
import { extractProfile } from "../../src/domain/IdentityHeaders.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"

/*
 * docs/proxies/tailscale-serve.md's configuration, read from the page, with the headers as
 * `tailscale serve` sends them (tailscaled itself needs a tailnet and cannot run here).
 */

const page = readFileSync(join(import.meta.dirname, "..", "..", "docs", "proxies", "tailscale-serve.md"), "utf8")
const yaml = /```yaml\n([\s\S]*?)```/.exec(page)![1]!
const parsed = parseConfig({ yaml, env: {}, files: { readText: () => Either.left("no files") } })
const proxyAuth = parsed.config!.server.proxyAuth

const read = (headers: Array<[string, string]>) => extractProfile(proxyAuth, requestFacts("127.0.0.1", headers))

describe("docs/proxies/tailscale-serve.md", () => {
  it("its configuration loads without errors", () => {
    expect(parsed.errors).toEqual([])
    expect(proxyAuth.headerEncoding).toBe("rfc2047")
  })

  it("a tailnet user with a non-ASCII name signs in with it decoded", () => {
    const r = read([
      ["Tailscale-User-Login", "renee@example.com"],
      ["Tailscale-User-Name", "=?utf-8?q?Ren=C3=A9e_Dupr=C3=A9?="],
      ["Tailscale-User-Profile-Pic", "https://lh3.googleusercontent.com/a/renee"]
    ])
    expect(r).toMatchObject({
      _tag: "Ok",
      profile: {
        identity: "proxy:renee@example.com",
        name: "Renée Dupré",
        picture: "https://lh3.googleusercontent.com/a/renee"
      },
      dropped: []
    })
  })

  it("a non-ASCII login is decoded into the identity", () => {
    expect(read([["Tailscale-User-Login", "=?utf-8?q?andr=C3=A9@example.com?="]])).toMatchObject({
      _tag: "Ok",
      profile: { identity: "proxy:andré@example.com" }
    })
  })

  it("a malformed encoded login is refused with InvalidHeader (400), never kept raw", () => {
    const r = read([["Tailscale-User-Login", "=?iso-8859-1?q?andr=E9?="]])
    expect(r._tag === "Rejected" && r.rejection.error._tag).toBe("InvalidHeader")
  })

  it("a control character hidden in an encoded-word is refused like a raw one", () => {
    const r = read([["Tailscale-User-Login", "=?utf-8?q?alice=0Aadmin?="]])
    expect(r._tag === "Rejected" && r.rejection.error._tag).toBe("InvalidHeader")
    const bidi = read([["Tailscale-User-Login", "=?utf-8?q?alice=E2=80=AE?="]])
    expect(bidi._tag === "Rejected" && bidi.rejection.error._tag).toBe("InvalidHeader")
  })

  it("a malformed encoded name is dropped, and the user signs in without it", () => {
    expect(
      read([
        ["Tailscale-User-Login", "renee@example.com"],
        ["Tailscale-User-Name", "=?utf-8?q?Ren=C3?="]
      ])
    ).toMatchObject({ _tag: "Ok", profile: { name: null }, dropped: [{ header: "Tailscale-User-Name" }] })
  })

  it("the login sent twice is ambiguous, encoded or not", () => {
    const r = read([
      ["Tailscale-User-Login", "=?utf-8?q?alice@example.com?="],
      ["Tailscale-User-Login", "alice@example.com"]
    ])
    expect(r._tag === "Rejected" && r.rejection._tag).toBe("Ambiguous")
  })

  it("off by default: encoded-words stay text for every other proxy", () => {
    const off = { ...proxyAuth, headerEncoding: "none" as const }
    const r = extractProfile(off, requestFacts("127.0.0.1", [["Tailscale-User-Login", "=?utf-8?q?bob?="]]))
    expect(r).toMatchObject({ _tag: "Ok", profile: { identity: "proxy:=?utf-8?q?bob?=" } })
  })
})
