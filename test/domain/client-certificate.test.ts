import { Either } from "effect"
import { describe, expect, it } from "vitest"
import {
  type ClientCertificatePolicy,
  decideClientCertificate,
  dnsNamesOf,
  type PeerCertificate,
  peerCertificateOf
} from "../../src/domain/clientCertificate.js"
import { statusOf, UntrustedClientCertificate } from "../../src/domain/errors.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { judgeTrust, pureStepDecisions, type StepDecisions, type TrustSettings } from "../../src/domain/trust.js"
import { Identity } from "../../src/domain/User.js"
import { type ProxyAuthOverrides, testConfig } from "../../src/testing/config.js"
import { assertionConfig } from "../fixtures/jwks.js"
import { explainTrust, settled } from "../fixtures/judgement.js"

/*
 * The client-certificate step: which names count, what each refusal says, and its place in
 * the one judgement (before the client IP: a connection without the proxy's certificate
 * learns nothing about its headers; the address check still applies after it).
 */

const cert = (overrides: Partial<PeerCertificate> = {}): PeerCertificate => ({
  commonName: "proxy.internal",
  dnsNames: [],
  fingerprint256: "AA:BB",
  verifyError: undefined,
  ...overrides
})
const policy = (...names: Array<string>): ClientCertificatePolicy => ({ allowedNames: new Set(names) })

describe("dnsNamesOf (Node's subjectAltName text)", () => {
  it("reads the DNS entries and skips the others", () => {
    expect(dnsNamesOf("DNS:proxy.internal, IP Address:127.0.0.1, DNS:b.example")).toEqual([
      "proxy.internal",
      "b.example"
    ])
    expect(dnsNamesOf(undefined)).toEqual([])
  })

  it("reads a quoted value as one name: a crafted SAN cannot pass for two", () => {
    expect(dnsNamesOf('DNS:"evil, DNS:proxy.internal"')).toEqual(["evil, DNS:proxy.internal"])
  })

  it("names nothing from text it does not understand", () => {
    expect(dnsNamesOf('DNS:"unterminated')).toEqual([])
  })
})

describe("peerCertificateOf", () => {
  it("takes a single CN; a subject with two CNs names nobody by CN", () => {
    expect(peerCertificateOf({ subject: { CN: "proxy.internal" } }, undefined).commonName).toBe("proxy.internal")
    expect(peerCertificateOf({ subject: { CN: ["a", "proxy.internal"] } }, undefined).commonName).toBeUndefined()
  })
})

describe("decideClientCertificate", () => {
  const reason = (d: ReturnType<typeof decideClientCertificate>) => (Either.isLeft(d) ? d.left.reason : "accepted")

  it("refuses no certificate, an unverified one and one naming no allowed client, each 403", () => {
    expect(reason(decideClientCertificate(policy("proxy.internal"), undefined))).toBe("no_certificate")
    expect(reason(decideClientCertificate(policy("proxy.internal"), cert({ verifyError: "CERT_HAS_EXPIRED" })))).toBe(
      "not_verified"
    )
    expect(reason(decideClientCertificate(policy("other.internal"), cert()))).toBe("name_not_allowed")
    const refused = decideClientCertificate(policy(), undefined)
    if (Either.isRight(refused)) throw new Error("accepted")
    expect(refused.left.error).toBeInstanceOf(UntrustedClientCertificate)
    expect(statusOf(refused.left.error)).toBe(403)
  })

  it("accepts the CN or a DNS SAN, letters in any ASCII case, nothing else folded", () => {
    expect(reason(decideClientCertificate(policy("proxy.internal"), cert()))).toBe("accepted")
    expect(
      reason(decideClientCertificate(policy("proxy.internal"), cert({ commonName: "x", dnsNames: ["proxy.internal"] })))
    ).toBe("accepted")
    expect(reason(decideClientCertificate(policy("proxy.internal"), cert({ commonName: "PROXY.Internal" })))).toBe(
      "accepted"
    )
    expect(reason(decideClientCertificate(policy("proxy.internal"), cert({ commonName: "ｐroxy.internal" })))).toBe(
      "name_not_allowed"
    )
    expect(reason(decideClientCertificate(policy("*.internal"), cert()))).toBe("name_not_allowed")
  })

  it("with no allowed names, accepts any verified certificate and still no unverified one", () => {
    expect(reason(decideClientCertificate(policy(), cert({ commonName: "anyone" })))).toBe("accepted")
    expect(reason(decideClientCertificate(policy(), cert({ verifyError: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })))).toBe(
      "not_verified"
    )
  })
})

describe("judgeTrust with server.tls.client_ca_file", () => {
  const judge = (overrides: ProxyAuthOverrides, peer: string, headers: Record<string, string>, c?: PeerCertificate) => {
    const settings: TrustSettings = {
      ...testConfig(overrides).server.proxyAuth,
      clientCertificates: policy("proxy.internal")
    }
    const facts = { ...requestFacts(peer, Object.entries(headers)), clientCertificate: c }
    return settled(judgeTrust(settings, pureStepDecisions(settings), facts))
  }
  const steps = (j: ReturnType<typeof judge>) => j.steps.map((s) => s._tag)

  it("judges the certificate before the client IP: no header problem is revealed without it", () => {
    for (const [peer, headers] of [
      ["10.9.9.9", { "Remote-User": "alice" }],
      ["127.0.0.1", { "X-Forwarded-For": "garbage", "Remote-User": "alice" }],
      ["127.0.0.1", {}]
    ] as const) {
      const judgement = judge({ ipHeader: "X-Forwarded-For" }, peer, headers)
      if (judgement._tag !== "Rejected") throw new Error("trusted")
      expect(judgement.error).toBeInstanceOf(UntrustedClientCertificate)
      expect(steps(judgement)).toEqual(["ProxyAuth", "ClientCertificate"])
    }
  })

  it("the address check still applies to a connection with the proxy's certificate", () => {
    const judgement = judge({}, "10.9.9.9", { "Remote-User": "alice" }, cert())
    if (judgement._tag !== "Rejected") throw new Error("trusted")
    expect(judgement.error._tag).toBe("ClientNotAllowed")
  })

  it("trusted with the proxy's certificate; the step is part of the trusted judgement", () => {
    const judgement = judge({}, "127.0.0.1", { "Remote-User": "alice" }, cert())
    if (judgement._tag !== "Trusted") throw new Error(judgement.error._tag)
    expect(judgement.profile.identity).toBe("proxy:alice")
    expect(steps(judgement)).toEqual(["ProxyAuth", "ClientCertificate", "ClientIp", "AllowedCidrs", "Identity"])
  })

  it("without client_ca_file there is no certificate step", () => {
    const settings = testConfig().server.proxyAuth
    const judgement = settled(judgeTrust(settings, pureStepDecisions(settings), requestFacts("127.0.0.1", [])))
    expect(judgement.steps.map((s) => s._tag)).not.toContain("ClientCertificate")
  })

  it("explain says which certificate check failed, with the judgement's status", () => {
    const settings: TrustSettings = { ...testConfig().server.proxyAuth, clientCertificates: policy("proxy.internal") }
    const facts = {
      ...requestFacts("127.0.0.1", [["Remote-User", "alice"]]),
      clientCertificate: cert({ commonName: "x" })
    }
    const explanation = explainTrust(settings, facts)
    expect(explanation.status).toBe(403)
    expect(explanation.outcome).toBe("UntrustedClientCertificate")
    expect(explanation.steps.join("\n")).toMatch(/names no client of server\.tls\.allowed_client_names \(CN "x"\)/)
  })
})

describe("judgeTrust with a client certificate and a signed assertion together", () => {
  const token = "header.payload.signature"
  const settings: TrustSettings = {
    ...testConfig().server.proxyAuth,
    assertion: assertionConfig("https://keys.example/jwks"),
    clientCertificates: policy("proxy.internal")
  }
  // The token's step as the verifier's memory answers it: a known token, its claims already checked.
  const known: StepDecisions = {
    ...pureStepDecisions(settings),
    assertion: () => ({
      _tag: "Ok",
      profile: { identity: Identity.make("proxy:alice"), email: null, name: null, picture: null },
      dropped: [],
      facts: { kid: "k1", alg: "RS256" },
      groups: undefined,
      remembered: true
    })
  }
  const judge = (c: PeerCertificate | undefined, headers: Record<string, string>) =>
    judgeTrust(settings, known, { ...requestFacts("127.0.0.1", Object.entries(headers)), clientCertificate: c })

  it("without the proxy's certificate a valid token is never read: 403 before the identity step", () => {
    const judgement = judge(undefined, { "Cf-Access-Jwt-Assertion": token })
    if (judgement._tag !== "Rejected") throw new Error(judgement._tag)
    expect(judgement.error).toBeInstanceOf(UntrustedClientCertificate)
    expect(judgement.steps.map((s) => s._tag)).toEqual(["ProxyAuth", "ClientCertificate"])
  })

  it("with the certificate, the token is the identity; the identity headers are not", () => {
    const judgement = judge(cert(), { "Cf-Access-Jwt-Assertion": token, "Remote-User": "mallory" })
    if (judgement._tag !== "Trusted") throw new Error(judgement._tag)
    expect(judgement.profile.identity).toBe("proxy:alice")
    expect(judgement.steps.map((s) => s._tag)).toEqual([
      "ProxyAuth",
      "ClientCertificate",
      "ClientIp",
      "AllowedCidrs",
      "Assertion"
    ])
  })
})
