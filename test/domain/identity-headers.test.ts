import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { decodeHeaderValue, extractProfile, LIMITS } from "../../src/domain/IdentityHeaders.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { testConfig } from "../../src/testing/config.js"

const config = testConfig().server.proxyAuth
/** Headers as Node delivers them: UTF-8 bytes read as Latin-1. */
const wire = (s: string) => Buffer.from(s, "utf8").toString("latin1")
const extract = (headers: Array<[string, string | Array<string>]>) =>
  extractProfile(config, requestFacts("127.0.0.1", headers))
const profileOf = (headers: Array<[string, string | Array<string>]>) => {
  const r = extract(headers)
  if (r._tag !== "Ok") throw new Error(`rejected: ${r.rejection.reason}`)
  return { ...r.profile, dropped: r.dropped }
}
const rejectionOf = (headers: Array<[string, string | Array<string>]>) => {
  const r = extract(headers)
  if (r._tag !== "Rejected") throw new Error("accepted")
  return r.rejection
}

describe("identity headers", () => {
  it("the user_header value becomes the stable identity proxy:<value>", () => {
    expect(profileOf([["Remote-User", "alice"]]).identity).toBe("proxy:alice")
  })

  it("header names match case-insensitively (HTTP semantics)", () => {
    expect(profileOf([["remote-user", "alice"]]).identity).toBe("proxy:alice")
  })

  it("user_header is required: missing → Missing", () => {
    expect(rejectionOf([["Remote-Email", "a@example.com"]])._tag).toBe("Missing")
  })

  it("Remote_User never stands in for Remote-User", () => {
    expect(rejectionOf([["Remote_User", "alice"]])._tag).toBe("Missing")
  })

  it("empty and whitespace-only values count as missing", () => {
    expect(rejectionOf([["Remote-User", ""]])._tag).toBe("Missing")
    expect(rejectionOf([["Remote-User", "   "]])._tag).toBe("Missing")
    expect(rejectionOf([["Remote-User", wire("\u00a0\u3000")]])._tag).toBe("Missing")
  })

  it("Decision 4: the identity header sent twice is rejected, same or different values", () => {
    expect(rejectionOf([["Remote-User", ["alice", "alice"]]])._tag).toBe("Ambiguous")
    expect(
      rejectionOf([
        ["Remote-User", "alice"],
        ["remote-user", "bob"]
      ])._tag
    ).toBe("Ambiguous")
  })

  it("Decision 4: a profile header sent twice rejects the request too", () => {
    expect(
      rejectionOf([
        ["Remote-User", "alice"],
        ["Remote-Email", ["a@x.io", "b@x.io"]]
      ])._tag
    ).toBe("Ambiguous")
  })

  it("UTF-8 values that Node hands over as Latin-1 arrive intact", () => {
    const p = profileOf([
      ["Remote-User", wire("André")],
      ["Remote-Name", wire("André Ünïcødé 日本")]
    ])
    expect(p.identity).toBe("proxy:André")
    expect(p.name).toBe("André Ünïcødé 日本")
  })

  it("invalid UTF-8 in the identity is rejected (never guessed as Latin-1)", () => {
    expect(rejectionOf([["Remote-User", "Andr\u00e9"]])._tag).toBe("Invalid")
  })

  it("a proxy's unfilled placeholder is refused, never believed as an identity (Caddy 2.6 copy_headers)", () => {
    for (const placeholder of ["{http.reverse_proxy.header.Remote-User}", " {http.request.header.X-User} "]) {
      expect(rejectionOf([["Remote-User", placeholder]])).toMatchObject({
        _tag: "Invalid",
        reason: "Remote-User is a proxy's unfilled placeholder"
      })
    }
    // Braces alone are a name like any other.
    expect(profileOf([["Remote-User", "{alice}"]]).identity).toBe("proxy:{alice}")
  })

  it("control characters, tab included, and bidi overrides are rejected", () => {
    for (const bad of [
      "al\tice",
      "al\u0001ice",
      "al\u007fice",
      wire("al\u0085ice"),
      wire("al\u202eice"),
      wire("a\u2028b")
    ]) {
      expect(rejectionOf([["Remote-User", bad]])._tag).toBe("Invalid")
    }
  })

  it(`identities up to ${LIMITS.identityBytes} UTF-8 bytes are accepted, longer ones rejected`, () => {
    expect(profileOf([["Remote-User", "a".repeat(LIMITS.identityBytes)]]).identity.length).toBe(
      6 + LIMITS.identityBytes
    )
    expect(rejectionOf([["Remote-User", "a".repeat(LIMITS.identityBytes + 1)]])._tag).toBe("Invalid")
    expect(rejectionOf([["Remote-User", wire("é".repeat(LIMITS.identityBytes / 2 + 1))]])._tag).toBe("Invalid")
  })

  it("percent-encoded values are taken literally, not decoded", () => {
    expect(profileOf([["Remote-User", "alice%40example.com"]]).identity).toBe("proxy:alice%40example.com")
  })

  it("look-alike identities stay distinct: NFC vs NFD, full-width vs ASCII, case", () => {
    const id = (s: string) => profileOf([["Remote-User", wire(s)]]).identity
    expect(id("Andr\u00e9")).not.toBe(id("Andre\u0301"))
    expect(id("ａｌｉｃｅ")).not.toBe(id("alice"))
    expect(id("Alice")).not.toBe(id("alice"))
  })

  describe("optional metadata", () => {
    it("email, name and picture are read when valid; absent ones are null", () => {
      const p = profileOf([
        ["Remote-User", "alice"],
        ["Remote-Email", "alice@example.com"],
        ["Remote-Picture", "https://img.example.com/a.png"]
      ])
      expect(p).toMatchObject({
        email: "alice@example.com",
        name: null,
        picture: "https://img.example.com/a.png",
        dropped: []
      })
    })

    it("an invalid email is dropped with a reason and does not block login", () => {
      const p = profileOf([
        ["Remote-User", "alice"],
        ["Remote-Email", "not-an-email"]
      ])
      expect(p.email).toBeNull()
      expect(p.dropped).toEqual([{ header: "Remote-Email", reason: "Remote-Email is not an email address" }])
    })

    it("javascript:, data: and credential-carrying picture URLs are dropped", () => {
      for (const url of [
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "https://u:p@x.io/a.png",
        "/relative.png"
      ]) {
        const p = profileOf([
          ["Remote-User", "alice"],
          ["Remote-Picture", url]
        ])
        expect(p.picture).toBeNull()
        expect(p.dropped.length).toBe(1)
      }
    })

    it("a control character in metadata drops that field only", () => {
      const p = profileOf([
        ["Remote-User", "alice"],
        ["Remote-Name", "Al\tice"]
      ])
      expect(p.name).toBeNull()
      expect(p.identity).toBe("proxy:alice")
    })

    it("headers not configured are ignored", () => {
      const cfg = testConfig({ emailHeader: undefined }).server.proxyAuth
      const r = extractProfile(
        cfg,
        requestFacts("127.0.0.1", [
          ["Remote-User", "a"],
          ["Remote-Email", "a@x.io"]
        ])
      )
      expect(r._tag === "Ok" && r.profile.email).toBeNull()
    })
  })

  it("property: any printable identity survives the Latin-1 wire round trip exactly", () => {
    const printable = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
      .map((s) => s.trim())
      .filter(
        (s) =>
          s !== "" &&
          !/[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069\ufeff]/u.test(s) &&
          s.trim() === s &&
          /\S/u.test(s)
      )
      .filter((s) => Buffer.byteLength(s) <= LIMITS.identityBytes)
    fc.assert(
      fc.property(printable, (s) => {
        expect(profileOf([["Remote-User", wire(s)]]).identity).toBe(`proxy:${s}`)
      })
    )
  })

  it("property: decoding never throws on arbitrary Latin-1 input", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => void decodeHeaderValue(s)))
  })
})
