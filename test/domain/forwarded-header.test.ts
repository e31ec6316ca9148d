import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { parseIp } from "../../src/domain/Address.js"
import { type ForwardedEntry, MAX_FORWARDED_ENTRIES, parseForwardedHeader } from "../../src/domain/ForwardedHeader.js"

/** Entries as `ip text` for addresses and `!reason` otherwise, for compact tables. */
const summary = (name: string, lines: ReadonlyArray<string> | undefined) =>
  Either.match(parseForwardedHeader(name, lines), {
    onLeft: (e) => `error:${e.problem}`,
    onRight: (entries) => entries.map((e: ForwardedEntry) => (e._tag === "Address" ? e.ip.text : "!")).join(" | ")
  })

describe("X-Forwarded-For: a comma list of addresses", () => {
  it.each<[string, string]>([
    ["203.0.113.9", "203.0.113.9"],
    ["203.0.113.9, 10.0.0.1", "203.0.113.9 | 10.0.0.1"],
    ["203.0.113.9,10.0.0.1", "203.0.113.9 | 10.0.0.1"],
    ["  203.0.113.9 ,\t10.0.0.1  ", "203.0.113.9 | 10.0.0.1"],
    ["203.0.113.9:5678", "203.0.113.9"],
    ["[2001:db8::1]:80", "2001:db8::1"],
    ["[::1]", "::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["::1:80", "::1:80"], // bare IPv6 cannot carry a port: this is the address ::1:80
    ["fe80::1%eth0", "fe80::1"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["unknown, 10.0.0.1", "! | 10.0.0.1"],
    ["_hidden, 10.0.0.1", "! | 10.0.0.1"],
    ["127.1, 10.0.0.1", "! | 10.0.0.1"],
    ["0x7f.0.0.1", "!"],
    ["1.2.3.4:", "!"],
    ["1.2.3.4:123456", "!"],
    ["1.2.3.4:http", "!"],
    ["[1.2.3.4]", "!"],
    ["[::1", "!"],
    ["[::1]x", "!"],
    ['"1.2.3.4"', "!"],
    ["1.2.3.4 5.6.7.8", "!"],
    ["1.2.3.4,,5.6.7.8", "1.2.3.4 | ! | 5.6.7.8"],
    ["1.2.3.4,", "1.2.3.4 | !"],
    ["AndrÃ©", "!"]
  ])("%j → %s", (value, expected) => {
    expect(summary("X-Forwarded-For", [value])).toBe(expected)
  })

  it("the header name is case-insensitive", () => {
    expect(summary("x-forwarded-for", ["1.2.3.4, 5.6.7.8"])).toBe("1.2.3.4 | 5.6.7.8")
  })

  it("several lines are one list, concatenated in order (RFC 9110 §5.3)", () => {
    expect(summary("X-Forwarded-For", ["1.1.1.1, 2.2.2.2", "3.3.3.3"])).toBe("1.1.1.1 | 2.2.2.2 | 3.3.3.3")
  })

  it("keeps each entry's raw text for logs", () => {
    const entries = Either.getOrThrow(parseForwardedHeader("X-Forwarded-For", [" [2001:db8::1]:443 , 10.0.0.1"]))
    expect(entries.map((e) => e.raw)).toEqual(["[2001:db8::1]:443", "10.0.0.1"])
  })

  it(`accepts ${MAX_FORWARDED_ENTRIES} entries and rejects one more, whole (never truncated)`, () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(", ")
    expect(Either.getOrThrow(parseForwardedHeader("X-Forwarded-For", [list(MAX_FORWARDED_ENTRIES)]))).toHaveLength(
      MAX_FORWARDED_ENTRIES
    )
    expect(summary("X-Forwarded-For", [list(MAX_FORWARDED_ENTRIES + 1)])).toBe("error:too_many_entries")
    expect(summary("X-Forwarded-For", [list(500)])).toBe("error:too_many_entries")
    expect(summary("X-Forwarded-For", [",".repeat(8000)])).toBe("error:too_many_entries")
  })

  it("the cap counts entries across all lines", () => {
    const line = Array.from({ length: 60 }, () => "10.0.0.1").join(",")
    expect(summary("X-Forwarded-For", [line, line])).toBe("error:too_many_entries")
  })
})

describe("Forwarded: RFC 7239", () => {
  it.each<[string, string]>([
    ["for=192.0.2.60", "192.0.2.60"],
    ["For=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"],
    ["for=192.0.2.43, for=198.51.100.17", "192.0.2.43 | 198.51.100.17"],
    ['for="192.0.2.43:47011"', "192.0.2.43"],
    ['for="[2001:db8:cafe::17]"', "2001:db8:cafe::17"],
    ['for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"],
    ['for="[2001:db8:cafe::17]:_port"', "2001:db8:cafe::17"],
    ['proto=https; for="192.0.2.1" ;by=_proxy', "192.0.2.1"],
    ['for="\\1\\92.0.2.1"', "192.0.2.1"], // quoted-pair escapes are unescaped
    ["for=unknown", "!"],
    ["for=UNKNOWN, for=10.0.0.1", "! | 10.0.0.1"],
    ['for="unknown:80"', "!"],
    ["for=_hidden, for=10.0.0.1", "! | 10.0.0.1"],
    ["for=_SEVKISEK", "!"],
    ['for="_gazonk"', "!"],
    ["by=10.0.0.1;proto=https", "!"], // no for=: the element names no client
    ["for=10.0.0.1;for=10.0.0.2", "!"], // a parameter twice in one element
    ['for="2001:db8::1"', "!"], // IPv6 must be bracketed
    ['for="[1.2.3.4]"', "!"],
    ['for="[::1]:http"', "!"],
    ['for="1.2.3.4:99999999"', "!"],
    ["for=127.1", "!"],
    ['for=""', "!"],
    ["for=1.2.3.4,", "1.2.3.4 | !"]
  ])("%j → %s", (value, expected) => {
    expect(summary("Forwarded", [value])).toBe(expected)
  })

  it.each([
    "for=1.2.3.4:80", // a colon is not a token character: the value must be quoted
    "for=[::1]",
    'for="1.2.3.4',
    "for = 1.2.3.4",
    "for=",
    "for",
    "1.2.3.4",
    "for=1.2.3.4 5.6.7.8",
    'for="1.2.3.4"x'
  ])("%j is malformed: the whole header is unusable", (value) => {
    expect(summary("Forwarded", [value])).toBe("error:malformed")
  })

  it("the raw entry is the element as written", () => {
    const entries = Either.getOrThrow(parseForwardedHeader("forwarded", ['for="[::1]:80";proto=https , for=10.0.0.1']))
    expect(entries.map((e) => e.raw)).toEqual(['for="[::1]:80";proto=https', "for=10.0.0.1"])
  })

  it("several lines are one list; a quoted string cannot run from one line into the next", () => {
    expect(summary("Forwarded", ["for=1.1.1.1", "for=2.2.2.2, for=3.3.3.3"])).toBe("1.1.1.1 | 2.2.2.2 | 3.3.3.3")
    expect(summary("Forwarded", ['for="1.1.1.1', 'for=2.2.2.2"'])).toBe("error:malformed")
  })

  it(`more than ${MAX_FORWARDED_ENTRIES} elements is invalid`, () => {
    const elements = (n: number) => Array.from({ length: n }, () => "for=10.0.0.1").join(", ")
    expect(Either.getOrThrow(parseForwardedHeader("Forwarded", [elements(MAX_FORWARDED_ENTRIES)]))).toHaveLength(
      MAX_FORWARDED_ENTRIES
    )
    expect(summary("Forwarded", [elements(MAX_FORWARDED_ENTRIES + 1)])).toBe("error:too_many_entries")
    expect(summary("Forwarded", [elements(300)])).toBe("error:too_many_entries")
  })
})

describe("any other header (X-Real-IP, CF-Connecting-IP): exactly one address", () => {
  it.each<[string, string]>([
    ["203.0.113.9", "203.0.113.9"],
    [" 203.0.113.9 ", "203.0.113.9"],
    ["2001:db8::1", "2001:db8::1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["unknown", "!"],
    ["127.1", "!"],
    ["1.2.3.4:80", "!"],
    ["[::1]", "!"]
  ])("%j → %s", (value, expected) => {
    expect(summary("X-Real-IP", [value])).toBe(expected)
    expect(summary("CF-Connecting-IP", [value])).toBe(expected)
  })

  it("a comma list where one address is expected is malformed", () => {
    expect(summary("X-Real-IP", ["1.2.3.4, 5.6.7.8"])).toBe("error:malformed")
    expect(summary("X-Real-IP", ["1.2.3.4,"])).toBe("error:malformed")
  })

  it("sent twice it is ambiguous, whatever the values", () => {
    expect(summary("X-Real-IP", ["1.2.3.4", "1.2.3.4"])).toBe("error:repeated")
    expect(summary("X-Real-IP", ["1.2.3.4", ""])).toBe("error:repeated")
  })
})

describe("missing and empty headers", () => {
  it.each(["X-Forwarded-For", "Forwarded", "X-Real-IP"])("%s absent is missing, blank is empty", (name) => {
    expect(summary(name, undefined)).toBe("error:missing")
    expect(summary(name, [])).toBe("error:missing")
    expect(summary(name, [""])).toBe("error:empty")
    expect(summary(name, [" \t "])).toBe("error:empty")
    expect(summary(name, ["", "  "])).toBe("error:empty")
  })

  it("messages never echo the header's content", () => {
    const secret = "10.99.99.99"
    for (const [name, value] of [
      ["X-Real-IP", `${secret}, ${secret}`],
      ["Forwarded", `for="${secret}`]
    ] as const) {
      const result = parseForwardedHeader(name, [value])
      expect(Either.isLeft(result) && result.left.message.includes(secret)).toBe(false)
      expect(Either.isLeft(result)).toBe(true)
    }
  })
})

describe("properties", () => {
  const headerName = fc.constantFrom("X-Forwarded-For", "Forwarded", "X-Real-IP")
  const chunk = fc.oneof(
    fc.string(),
    fc.constantFrom(",", ";", "=", '"', "\\", "[", "]", ":", " ", "for=", "unknown", "_x", "%eth0", "::ffff:"),
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
  )
  const headerValue = fc.array(chunk, { maxLength: 12 }).map((parts) => parts.join(""))

  it.prop(
    "never throws, on arbitrary strings and header-like fragments",
    [headerName, fc.array(headerValue, { maxLength: 3 })],
    ([name, lines]) => {
      const result = parseForwardedHeader(name, lines)
      expect(Either.isLeft(result) || Either.isRight(result)).toBe(true)
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it.prop(
    "every address it returns re-parses strictly to itself",
    [headerName, fc.array(headerValue, { maxLength: 3 })],
    ([name, lines]) => {
      const result = parseForwardedHeader(name, lines)
      if (Either.isLeft(result)) return
      expect(result.right.length).toBeGreaterThan(0)
      expect(result.right.length).toBeLessThanOrEqual(MAX_FORWARDED_ENTRIES)
      for (const entry of result.right) {
        if (entry._tag === "Address") expect(parseIp(entry.ip.text)?.text).toBe(entry.ip.text)
      }
    },
    { fastCheck: { numRuns: 3000 } }
  )

  it.prop(
    "X-Forwarded-For: a list of written addresses comes back in order",
    [
      fc.array(
        fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join(".")),
        {
          minLength: 1,
          maxLength: MAX_FORWARDED_ENTRIES
        }
      ),
      fc.constantFrom(",", ", ", " ,\t")
    ],
    ([addresses, separator]) => {
      expect(summary("X-Forwarded-For", [addresses.join(separator)])).toBe(addresses.join(" | "))
    }
  )
})
