import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { type ClientIpDecision, type ClientIpRejection, decideClientIp } from "../../src/domain/ClientIp.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { type ProxyAuthOverrides, testConfig } from "../../src/testing/config.js"

const proxyAuth = (overrides: ProxyAuthOverrides = {}) => testConfig(overrides).server.proxyAuth

const decide = (
  overrides: ProxyAuthOverrides,
  peer: string | undefined,
  headers: Record<string, string | ReadonlyArray<string>> = {}
) => decideClientIp(proxyAuth(overrides), requestFacts(peer, Object.entries(headers)))

const accepted = (result: Either.Either<ClientIpDecision, ClientIpRejection>): ClientIpDecision => {
  if (Either.isLeft(result)) {
    throw new Error(`expected a client IP, got ${result.left.reason}: ${result.left.error.message}`)
  }
  return result.right
}

/** The rejection, with its error instance read as tag and message. */
const rejected = (result: Either.Either<ClientIpDecision, ClientIpRejection>) => {
  if (Either.isRight(result)) throw new Error(`expected a rejection, got client ${result.right.clientIp.text}`)
  const { error, peer, reason } = result.left
  return { reason, peer, error: error._tag, message: error.message }
}

const XFF = { ipHeader: "X-Forwarded-For" } as const
const spoof = {
  "x-forwarded-for": "10.1.2.3",
  "x-real-ip": "10.1.2.3",
  forwarded: "for=10.1.2.3",
  "cf-connecting-ip": "10.1.2.3"
}

describe("the socket peer", () => {
  it("an unknown peer is rejected as ClientNotAllowed", () => {
    expect(rejected(decide({}, undefined))).toMatchObject({ reason: "peer_unknown", error: "ClientNotAllowed" })
  })

  it.each(["", "localhost", "127.1", "1.2.3.4:80", "[::1]"])(
    "an unparseable peer %j is rejected as ClientNotAllowed",
    (peer) => {
      expect(rejected(decide({}, peer))).toMatchObject({ reason: "peer_unparseable", error: "ClientNotAllowed" })
    }
  )

  it("an unknown peer is rejected even when it would have been judged by a header", () => {
    expect(rejected(decide(XFF, undefined, spoof)).error).toBe("ClientNotAllowed")
  })
})

describe("ip_header unset", () => {
  it("by default the check uses the socket address, not X-Forwarded-For, X-Real-IP, or other forwarded headers", () => {
    const decision = accepted(decide({}, "192.0.2.7", spoof))
    expect(decision).toMatchObject({ source: "socket", peerTrustedBy: undefined, headerEntry: undefined })
    expect(decision.clientIp.text).toBe("192.0.2.7")
  })

  it("the socket address is used even when the peer is a trusted proxy", () => {
    expect(accepted(decide({}, "127.0.0.1", spoof)).clientIp.text).toBe("127.0.0.1")
  })

  it("Decision 1: an IPv4 peer seen as ::ffff:127.0.0.1 is the client 127.0.0.1", () => {
    const decision = accepted(decide({}, "::ffff:127.0.0.1"))
    expect(decision.clientIp).toMatchObject({ family: 4, text: "127.0.0.1" })
    expect(decision.peer.text).toBe("127.0.0.1")
  })

  it("a zone ID on the peer is dropped", () => {
    expect(accepted(decide({}, "fe80::1%eth0")).clientIp.text).toBe("fe80::1")
  })
})

describe("ip_header set, peer not in trusted_proxy_cidrs", () => {
  it("Decision 2: the header is ignored and the socket peer is the client", () => {
    const decision = accepted(decide(XFF, "192.0.2.7", spoof))
    expect(decision).toMatchObject({ source: "socket", peerTrustedBy: undefined, headerEntry: undefined })
    expect(decision.clientIp.text).toBe("192.0.2.7")
  })

  it.each<[string, ReadonlyArray<string> | undefined]>([
    ["missing", undefined],
    ["garbage", ["not an address"]],
    ["empty", [""]],
    ["repeated", ["10.0.0.1", "10.0.0.2"]],
    ["too long", [Array.from({ length: 500 }, () => "10.0.0.1").join(",")]]
  ])("Decision 2: a %s header from an untrusted peer is ignored completely, not rejected", (_, lines) => {
    const headers = lines === undefined ? {} : { "x-forwarded-for": lines }
    expect(accepted(decide(XFF, "192.0.2.7", headers)).clientIp.text).toBe("192.0.2.7")
  })

  it("trusted_proxy_cidrs defaults to localhost: 127.0.0.2 is not trusted", () => {
    expect(accepted(decide(XFF, "127.0.0.2", spoof)).clientIp.text).toBe("127.0.0.2")
  })
})

describe("ip_header set, peer trusted", () => {
  it("trusted_proxy_cidrs defaults to localhost (127.0.0.1 and ::1): the header names the client", () => {
    for (const peer of ["127.0.0.1", "::1"]) {
      const decision = accepted(decide(XFF, peer, { "x-forwarded-for": "203.0.113.9" }))
      expect(decision).toMatchObject({ source: "header", headerEntry: "203.0.113.9" })
      expect(decision.clientIp.text).toBe("203.0.113.9")
      expect(decision.peer.text).toBe(peer)
    }
  })

  it("Decision 1: a peer seen as ::ffff:127.0.0.1 matches trusted 127.0.0.1/32", () => {
    const decision = accepted(decide(XFF, "::ffff:127.0.0.1", { "x-forwarded-for": "203.0.113.9" }))
    expect(decision.peerTrustedBy?.text).toBe("127.0.0.1/32")
    expect(decision.clientIp.text).toBe("203.0.113.9")
  })

  it("reports the trusted_proxy_cidrs rule that let the peer speak", () => {
    const decision = accepted(
      decide({ ...XFF, trustedProxyCidrs: ["10.0.0.0/8", "172.16.0.0/12"] }, "172.16.5.5", {
        "x-forwarded-for": "203.0.113.9"
      })
    )
    expect(decision.peerTrustedBy?.text).toBe("172.16.0.0/12")
  })

  it("the header name is matched case-insensitively", () => {
    const decision = accepted(decide({ ipHeader: "x-REAL-ip" }, "127.0.0.1", { "x-real-ip": "203.0.113.9" }))
    expect(decision.clientIp.text).toBe("203.0.113.9")
  })

  it("Decision 2: trusted peer with missing ip_header is rejected, never judged by the proxy address", () => {
    expect(rejected(decide(XFF, "127.0.0.1", { "x-real-ip": "203.0.113.9" }))).toMatchObject({
      reason: "header_missing",
      error: "InvalidForwardedAddress"
    })
  })

  it.each(["", "   ", "\t"])("Decision 2: trusted peer with empty ip_header %j is rejected", (value) => {
    expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": value }))).toMatchObject({
      reason: "header_empty",
      error: "InvalidForwardedAddress"
    })
  })

  it.each(["garbage", "127.1", "unknown", "_obfuscated", "0x7f000001", "[1.2.3.4]"])(
    "Decision 2: trusted peer with unparseable ip_header %j is rejected",
    (value) => {
      expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": value }))).toMatchObject({
        reason: "entry_not_an_address",
        error: "InvalidForwardedAddress"
      })
    }
  )

  it("a malformed Forwarded header from a trusted peer is rejected", () => {
    expect(rejected(decide({ ipHeader: "Forwarded" }, "127.0.0.1", { forwarded: 'for="1.2.3.4' })).reason).toBe(
      "header_malformed"
    )
  })

  it("a header with more than 100 entries from a trusted peer is rejected", () => {
    const value = Array.from({ length: 101 }, () => "203.0.113.9").join(",")
    expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": value })).reason).toBe("header_too_many_entries")
  })

  it("rejection messages name neither the CIDR configuration nor the header's addresses", () => {
    const cases = [
      decide({ ...XFF, trustedProxyCidrs: ["10.20.0.0/16"] }, "10.20.1.1", {}),
      decide({ ...XFF, trustedProxyCidrs: ["10.20.0.0/16"] }, "10.20.1.1", { "x-forwarded-for": "198.51.100.1x" }),
      decide({ ...XFF, trustedProxyCidrs: ["10.20.0.0/16"] }, "10.20.1.1", {
        "x-forwarded-for": ["1.1.1.1", "2.2.2.2"]
      })
    ]
    for (const result of cases) {
      const { message } = rejected(result)
      expect(message).not.toMatch(/10\.20|\/16|198\.51|1\.1\.1\.1|2\.2\.2\.2/)
      expect(message).toContain("X-Forwarded-For")
    }
  })
})

describe("mode first (default): the first entry is the client", () => {
  it("the spec's example: the first IP in X-Forwarded-For is the client", () => {
    const decision = accepted(decide(XFF, "127.0.0.1", { "x-forwarded-for": "10.1.2.3, 192.0.2.1, 127.0.0.1" }))
    expect(decision.clientIp.text).toBe("10.1.2.3")
    expect(decision.headerEntry).toBe("10.1.2.3")
  })

  it("entries after the first do not matter, even garbage", () => {
    expect(accepted(decide(XFF, "127.0.0.1", { "x-forwarded-for": "10.1.2.3, unknown, junk" })).clientIp.text).toBe(
      "10.1.2.3"
    )
  })

  it("a first entry that is not an address is rejected, never skipped", () => {
    for (const value of ["unknown, 10.1.2.3", "_hidden, 10.1.2.3", ", 10.1.2.3", "junk, 10.1.2.3"]) {
      expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": value })).error).toBe("InvalidForwardedAddress")
    }
  })

  it("the header sent as two lines means the proxy did not overwrite it: AmbiguousHeader", () => {
    const result = decide(XFF, "127.0.0.1", { "x-forwarded-for": ["10.1.2.3", "192.0.2.1"] })
    expect(rejected(result)).toMatchObject({ reason: "header_repeated", error: "AmbiguousHeader" })
  })

  it("two lines are ambiguous even when identical or one is empty", () => {
    expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": ["10.1.2.3", "10.1.2.3"] })).error).toBe(
      "AmbiguousHeader"
    )
    expect(rejected(decide(XFF, "127.0.0.1", { "x-forwarded-for": ["", "10.1.2.3"] })).error).toBe("AmbiguousHeader")
  })

  it("Forwarded: the first element's for= is the client; ports and brackets are not part of it", () => {
    const decision = accepted(
      decide({ ipHeader: "Forwarded" }, "127.0.0.1", {
        forwarded: 'for="[2001:db8::7]:4711";proto=https, for=127.0.0.1'
      })
    )
    expect(decision.clientIp.text).toBe("2001:db8::7")
    expect(decision.headerEntry).toBe('for="[2001:db8::7]:4711";proto=https')
  })

  it("Forwarded: a first element for=unknown is rejected", () => {
    expect(
      rejected(decide({ ipHeader: "Forwarded" }, "127.0.0.1", { forwarded: "for=unknown, for=10.1.2.3" })).error
    ).toBe("InvalidForwardedAddress")
  })

  it("X-Real-IP: one address; a comma list is rejected", () => {
    const real = { ipHeader: "X-Real-IP" } as const
    expect(accepted(decide(real, "127.0.0.1", { "x-real-ip": "::ffff:10.1.2.3" })).clientIp.text).toBe("10.1.2.3")
    expect(rejected(decide(real, "127.0.0.1", { "x-real-ip": "10.1.2.3, 10.1.2.4" })).reason).toBe("header_malformed")
  })
})

describe("mode rightmost_untrusted (opt-in): walk right to left past trusted proxies", () => {
  const walk = (
    trustedProxyCidrs: ReadonlyArray<string>,
    value: string | ReadonlyArray<string>,
    header = "x-forwarded-for"
  ) =>
    decide(
      {
        ipHeader: header === "forwarded" ? "Forwarded" : "X-Forwarded-For",
        ipHeaderMode: "rightmost_untrusted",
        trustedProxyCidrs
      },
      "10.0.0.1",
      { [header]: value }
    )
  const proxies = ["10.0.0.0/8"]

  it("Decision 3: a spoofed first entry is not the client; the rightmost untrusted entry is", () => {
    const decision = accepted(walk(proxies, "127.0.0.1, 203.0.113.9, 10.0.0.2"))
    expect(decision.clientIp.text).toBe("203.0.113.9")
    expect(decision.headerEntry).toBe("203.0.113.9")
  })

  it("the rightmost entry is the client when it is untrusted", () => {
    expect(accepted(walk(proxies, "10.9.9.9, 198.51.100.4")).clientIp.text).toBe("198.51.100.4")
  })

  it("untrusted garbage left of the client does not matter", () => {
    expect(accepted(walk(proxies, "junk, unknown, 198.51.100.4, 10.0.0.2")).clientIp.text).toBe("198.51.100.4")
  })

  it.each([
    "198.51.100.4, unknown, 10.0.0.2",
    "198.51.100.4, _hidden, 10.0.0.2",
    "198.51.100.4, junk",
    "198.51.100.4, "
  ])("the first untrusted entry from the right not being an address is rejected, never skipped: %j", (value) => {
    expect(rejected(walk(proxies, value))).toMatchObject({
      reason: "entry_not_an_address",
      error: "InvalidForwardedAddress"
    })
  })

  it("every entry trusted: the leftmost is the client (nginx real_ip_recursive)", () => {
    const decision = accepted(walk(proxies, "10.1.1.1, 10.2.2.2, 10.3.3.3"))
    expect(decision.clientIp.text).toBe("10.1.1.1")
    expect(decision.headerEntry).toBe("10.1.1.1")
  })

  it("mapped and port forms of trusted proxies are skipped (Decision 1)", () => {
    expect(accepted(walk(proxies, "198.51.100.4, ::ffff:10.0.0.3, 10.0.0.2:4444")).clientIp.text).toBe("198.51.100.4")
  })

  it("several header lines are one list (RFC 9110): the last line's entries are rightmost", () => {
    expect(accepted(walk(proxies, ["127.0.0.1", "203.0.113.9, 10.0.0.2"])).clientIp.text).toBe("203.0.113.9")
  })

  it("Forwarded: walks elements right to left; unknown as the first untrusted element is rejected", () => {
    expect(
      accepted(walk(proxies, 'for=127.0.0.1, for="[2001:db8::9]:1", for=10.0.0.2', "forwarded")).clientIp.text
    ).toBe("2001:db8::9")
    expect(rejected(walk(proxies, "for=198.51.100.4, for=unknown, for=10.0.0.2", "forwarded")).error).toBe(
      "InvalidForwardedAddress"
    )
  })

  it("a single-value header sent twice is still ambiguous", () => {
    const result = decide(
      { ipHeader: "X-Real-IP", ipHeaderMode: "rightmost_untrusted", trustedProxyCidrs: proxies },
      "10.0.0.1",
      { "x-real-ip": ["198.51.100.4", "198.51.100.5"] }
    )
    expect(rejected(result).error).toBe("AmbiguousHeader")
  })

  it("missing or empty is still rejected, never the peer", () => {
    expect(rejected(decide({ ...XFF, ipHeaderMode: "rightmost_untrusted" }, "127.0.0.1")).reason).toBe("header_missing")
    expect(rejected(walk(proxies, " ")).reason).toBe("header_empty")
  })

  it.prop(
    "the client is never a trusted address unless every entry is trusted, and never the peer by default",
    [
      fc.array(
        fc.oneof(
          fc.constantFrom("10.0.0.2", "10.200.1.1", "unknown", "junk"),
          fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `198.51.${a}.${b}`)
        ),
        { minLength: 1, maxLength: 20 }
      )
    ],
    ([entries]) => {
      const result = walk(proxies, entries.join(", "))
      const firstUntrusted = [...entries].reverse().find((e) => !e.startsWith("10."))
      if (firstUntrusted === undefined) {
        expect(accepted(result).clientIp.text).toBe(entries[0])
      } else if (firstUntrusted.startsWith("198.51.")) {
        expect(accepted(result).clientIp.text).toBe(firstUntrusted)
      } else {
        expect(rejected(result).error).toBe("InvalidForwardedAddress")
      }
    },
    { fastCheck: { numRuns: 500 } }
  )
})
