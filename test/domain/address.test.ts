import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { BlockList, isIP as isIpFamily } from "node:net"
import {
  cidrListUnsafe,
  compileCidrs,
  type IpAddress,
  LOCALHOST_CIDRS,
  parseCidr,
  parseIp
} from "../../src/domain/Address.js"

const ip = (text: string): IpAddress => {
  const parsed = parseIp(text)
  if (parsed === undefined) throw new Error(`test address ${text} does not parse`)
  return parsed
}

const cidrText = (text: string) => Either.getOrThrow(parseCidr(text)).cidr.text

describe("parseIp", () => {
  it.each([
    ["127.0.0.1", 4, "127.0.0.1"],
    ["::1", 6, "::1"],
    ["2001:DB8:0:0:0:0:0:1", 6, "2001:db8::1"],
    ["::ffff:127.0.0.1", 4, "127.0.0.1"],
    ["::FFFF:7f00:1", 4, "127.0.0.1"],
    ["0:0:0:0:0:ffff:10.1.2.3", 4, "10.1.2.3"],
    ["fe80::1%eth0", 6, "fe80::1"],
    ["fe80::1%25", 6, "fe80::1"]
  ] as const)("%s is the %s-family address %s", (text, family, canonical) => {
    expect(parseIp(text)).toMatchObject({ family, text: canonical })
  })

  it("an IPv4-compatible ::1.2.3.4 stays IPv6 (::102:304), it is not the IPv4 address 1.2.3.4", () => {
    expect(parseIp("::1.2.3.4")).toMatchObject({ family: 6, text: "::102:304" })
    expect(cidrListUnsafe(["1.2.3.4/32"]).match(ip("::1.2.3.4"))).toBeUndefined()
  })

  it.each([
    "127.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "127.000.0.1",
    "2130706433",
    "1.2.3.4:80",
    "[::1]",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.256",
    "1.2.3.4%eth0",
    "fe80::1%",
    "fe80::1%eth0 x",
    "fe80::1%eth0]",
    "::ffff:01.2.3.4",
    "1:2:3:4:5:6:7:8:9",
    "unknown",
    ""
  ])("rejects %j: strict dotted-decimal or RFC 4291 text only", (text) => {
    expect(parseIp(text)).toBeUndefined()
  })
})

describe("parseCidr", () => {
  it("normalises host bits away and reports that they were set", () => {
    const parsed = Either.getOrThrow(parseCidr("10.1.2.3/8"))
    expect(parsed.cidr.text).toBe("10.0.0.0/8")
    expect(parsed.hostBitsSet).toBe(true)
    expect(Either.getOrThrow(parseCidr("10.0.0.0/8")).hostBitsSet).toBe(false)
    expect(cidrText("2001:db8::1/32")).toBe("2001:db8::/32")
  })

  it("a bare address is a host route", () => {
    expect(cidrText("192.0.2.7")).toBe("192.0.2.7/32")
    expect(cidrText("::1")).toBe("::1/128")
  })

  it("a mapped IPv6 range inside ::ffff:0:0/96 is the IPv4 range it denotes", () => {
    expect(cidrText("::ffff:127.0.0.1/128")).toBe("127.0.0.1/32")
    expect(cidrText("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8")
    expect(cidrText("::ffff:0:0/96")).toBe("0.0.0.0/0")
  })

  it.each([
    "1.2.3.4/33",
    "::1/129",
    "fe80::/10%eth0",
    "fe80::%eth0/10",
    "127.1/32",
    "10.0.0.0/",
    "10.0.0.0/-1",
    "10.0.0.0/8/8",
    "x/8"
  ])("rejects %j", (text) => {
    expect(Either.isLeft(parseCidr(text))).toBe(true)
  })
})

describe("CidrList", () => {
  it("Decision 1: localhost means 127.0.0.1/32 and ::1/128 and nothing else", () => {
    const localhost = cidrListUnsafe(LOCALHOST_CIDRS)
    expect(localhost.cidrs.map((c) => c.text)).toEqual(["127.0.0.1/32", "::1/128"])
    expect(localhost.match(ip("127.0.0.1"))?.text).toBe("127.0.0.1/32")
    expect(localhost.match(ip("::1"))?.text).toBe("::1/128")
    expect(localhost.match(ip("127.0.0.2"))).toBeUndefined()
    expect(localhost.match(ip("::2"))).toBeUndefined()
  })

  it("Decision 1: an IPv4 peer seen as ::ffff:127.0.0.1 matches 127.0.0.1/32", () => {
    expect(cidrListUnsafe(["127.0.0.1/32"]).match(ip("::ffff:127.0.0.1"))?.text).toBe("127.0.0.1/32")
  })

  it("Decision 1, other direction: a rule written ::ffff:10.0.0.0/104 matches the IPv4 peer 10.9.9.9", () => {
    expect(cidrListUnsafe(["::ffff:10.0.0.0/104"]).match(ip("10.9.9.9"))?.text).toBe("10.0.0.0/8")
  })

  it("an IPv4 address is ::ffff:a.b.c.d, so an IPv6 rule spanning the mapped range (::/0) covers it", () => {
    expect(cidrListUnsafe(["::/0"]).match(ip("203.0.113.9"))?.text).toBe("::/0")
    expect(cidrListUnsafe(["2001:db8::/32"]).match(ip("203.0.113.9"))).toBeUndefined()
    // …but an IPv4 rule never covers a true IPv6 address.
    expect(cidrListUnsafe(["0.0.0.0/0"]).match(ip("::1"))).toBeUndefined()
  })

  it("zone IDs do not take part in matching", () => {
    expect(cidrListUnsafe(["fe80::/10"]).match(ip("fe80::1%eth0"))?.text).toBe("fe80::/10")
  })

  it("returns the first matching rule in configuration order", () => {
    expect(cidrListUnsafe(["10.0.0.0/8", "10.1.0.0/16"]).match(ip("10.1.2.3"))?.text).toBe("10.0.0.0/8")
    expect(cidrListUnsafe(["10.1.0.0/16", "::/0", "10.0.0.0/8"]).match(ip("10.1.2.3"))?.text).toBe("10.1.0.0/16")
    expect(compileCidrs([]).match(ip("10.1.2.3"))).toBeUndefined()
  })
})

// ---- properties ------------------------------------------------------------------------------

const v4Text = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
// Biased towards the interesting corners of the IPv6 space: zero runs, the mapped range, loopback.
const hextet = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.nat(0xffff))
const v6Text = fc.oneof(
  fc.array(hextet, { minLength: 8, maxLength: 8 }).map((h) => h.map((x) => x.toString(16)).join(":")),
  v4Text.map((v4) => `::ffff:${v4}`),
  fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => `::ffff:${a.toString(16)}:${b.toString(16)}`),
  fc.nat(0xffff).map((x) => `::${x.toString(16)}`)
)
const addressText = fc.oneof(v4Text, v6Text)
const cidrArb = fc.oneof(
  fc.tuple(v4Text, fc.nat(32)).map(([a, p]) => `${a}/${p}`),
  fc.tuple(v6Text, fc.nat(128)).map(([a, p]) => `${a}/${p}`)
)

/** What node's BlockList says, given the same texts. */
const blockListMatches = (cidrs: ReadonlyArray<string>, address: string): boolean => {
  const list = new BlockList()
  for (const c of cidrs) {
    const [net, prefix] = c.split("/") as [string, string]
    list.addSubnet(net, Number(prefix), net.includes(":") ? "ipv6" : "ipv4")
  }
  return list.check(address, address.includes(":") ? "ipv6" : "ipv4")
}

describe("CIDR matching, differential against node's net.BlockList", () => {
  it.prop(
    "a single rule matches exactly when BlockList says so",
    [cidrArb, addressText],
    ([cidr, address]) => {
      expect(cidrListUnsafe([cidr]).match(ip(address)) !== undefined).toBe(blockListMatches([cidr], address))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "an address inside a rule (by construction) matches in both forms, with and without ::ffff:",
    [v4Text, fc.nat(32), fc.nat(0xffffffff)],
    ([base, prefix, noise]) => {
      // An address in base/prefix: keep the prefix bits of base, take the host bits from noise.
      const b = base.split(".").reduce((acc, o) => acc * 256 + Number(o), 0)
      const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0
      const inside = ((b & mask) | (noise & ~mask)) >>> 0
      const text = [24, 16, 8, 0].map((s) => (inside >>> s) & 255).join(".")
      for (const rule of [`${base}/${prefix}`, `::ffff:${base}/${prefix + 96}`]) {
        const list = cidrListUnsafe([rule])
        expect(list.match(ip(text))).toBeDefined()
        expect(list.match(ip(`::ffff:${text}`))).toBeDefined()
        expect(blockListMatches([rule], text)).toBe(true)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )

  it.prop(
    "a list matches when any of its rules matches, as BlockList",
    [fc.array(cidrArb, { maxLength: 5 }), addressText],
    ([cidrs, address]) => {
      expect(cidrListUnsafe(cidrs).match(ip(address)) !== undefined).toBe(blockListMatches(cidrs, address))
    },
    { fastCheck: { numRuns: 1000 } }
  )
})

describe("parseIp, properties", () => {
  it.prop(
    "agrees with net.isIP on what is an address (no zone)",
    [fc.oneof(addressText, fc.string())],
    ([text]) => {
      const family = parseIp(text) === undefined ? 0 : 1
      expect(family).toBe(isIpFamily(text) === 0 ? 0 : 1)
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "canonical text re-parses to itself",
    [addressText],
    ([text]) => {
      const canonical = ip(text).text
      expect(ip(canonical).text).toBe(canonical)
    },
    { fastCheck: { numRuns: 1000 } }
  )
})
