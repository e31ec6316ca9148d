import { Option } from "effect"
import { describe, expect, it } from "vitest"
import {
  ClientNotAllowed,
  InvalidForwardedAddress,
  MissingIdentityHeader,
  ProxyAuthDisabled,
  statusOf,
  UserDisabled
} from "../../src/domain/errors.js"
import { explainProvisioning } from "../../src/domain/explain.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { admitUser, type Judgement, judgeTrust, pureStepDecisions, trustSettings } from "../../src/domain/trust.js"
import { type ProxyAuthOverrides, testConfig } from "../../src/testing/config.js"
import { explainTrust, settled } from "../fixtures/judgement.js"

/*
 * The one judgement authenticate and explain share: the order of its checks, what it hands
 * back, and the verdicts explain derives from it.
 */

const judge = (
  overrides: ProxyAuthOverrides,
  peer: string | undefined,
  headers: Record<string, string | Array<string>>
) => {
  const settings = testConfig(overrides).server.proxyAuth
  return settled(judgeTrust(settings, pureStepDecisions(settings), requestFacts(peer, Object.entries(headers))))
}

const stepsOf = (judgement: Judgement) => judgement.steps.map((step) => step._tag)

describe("judgeTrust", () => {
  it("proxy auth off: ProxyAuthDisabled, and nothing else is looked at", () => {
    const judgement = judge({ enabled: false }, undefined, { "Remote-User": ["a", "b"] })
    expect(judgement._tag).toBe("Rejected")
    expect(judgement._tag === "Rejected" && judgement.error).toBeInstanceOf(ProxyAuthDisabled)
    expect(stepsOf(judgement)).toEqual(["ProxyAuth"])
  })

  it("a client outside allowed_cidrs is refused before its headers are read, with the client it resolved", () => {
    const judgement = judge({}, "10.1.2.3", { "Remote-User": ["a", "b"] })
    if (judgement._tag !== "Rejected") throw new Error("trusted")
    expect(judgement.error).toBeInstanceOf(ClientNotAllowed)
    expect(judgement.client?.clientIp.text).toBe("10.1.2.3")
    expect(stepsOf(judgement)).toEqual(["ProxyAuth", "ClientIp", "AllowedCidrs"])
  })

  it("a client IP that cannot be established stops at that step, with no client", () => {
    const judgement = judge({ ipHeader: "X-Forwarded-For" }, "127.0.0.1", { "Remote-User": "alice" })
    if (judgement._tag !== "Rejected") throw new Error("trusted")
    expect(judgement.error).toBeInstanceOf(InvalidForwardedAddress)
    expect(judgement.client).toBeUndefined()
    expect(stepsOf(judgement)).toEqual(["ProxyAuth", "ClientIp"])
  })

  it("header problems are judged only for an allowed client", () => {
    const judgement = judge({}, "127.0.0.1", {})
    if (judgement._tag !== "Rejected") throw new Error("trusted")
    expect(judgement.error).toBeInstanceOf(MissingIdentityHeader)
    expect(stepsOf(judgement)).toEqual(["ProxyAuth", "ClientIp", "AllowedCidrs", "Identity"])
  })

  it("trusted: the client, the rule it matched, the profile and what was dropped", () => {
    const judgement = judge({}, "::ffff:127.0.0.1", { "Remote-User": "alice", "Remote-Email": "not-an-email" })
    if (judgement._tag !== "Trusted") throw new Error(judgement.error._tag)
    expect(judgement.client.clientIp.text).toBe("127.0.0.1")
    expect(judgement.rule.text).toBe("127.0.0.1/32")
    expect(judgement.profile).toEqual({ identity: "proxy:alice", email: null, name: null, picture: null })
    expect(judgement.dropped).toEqual([{ header: "Remote-Email", reason: "Remote-Email is not an email address" }])
  })

  it("without an API key proxy auth counts as off (Decision 6, kept local)", () => {
    const config = testConfig({}, { headscale: { url: "http://127.0.0.1:1", apiKey: Option.none(), timeoutMs: 1_000 } })
    expect(trustSettings(config).enabled).toBe(false)
    expect(trustSettings(testConfig()).enabled).toBe(true)
  })

  it("a disabled user is refused after the store answers; an enabled one is admitted", () => {
    expect(admitUser({ disabled: true })).toBeInstanceOf(UserDisabled)
    expect(admitUser({ disabled: false })).toBeUndefined()
  })
})

describe("explain's verdicts come from the judgement and the errors' own statuses", () => {
  it("each rejection carries the status the API answers with", () => {
    const settings = testConfig().server.proxyAuth
    const outside = explainTrust(settings, requestFacts("10.1.2.3", [["Remote-User", "a"]]))
    expect([outside.status, outside.outcome]).toEqual([403, "ClientNotAllowed"])
    const missing = explainTrust(settings, requestFacts("127.0.0.1", []))
    expect([missing.status, missing.outcome]).toEqual([401, "MissingIdentityHeader"])
    const twice = explainTrust(settings, requestFacts("127.0.0.1", [["Remote-User", ["a", "b"]]]))
    expect([twice.status, twice.outcome]).toEqual([400, "AmbiguousHeader"])
    const ok = explainTrust(settings, requestFacts("127.0.0.1", [["Remote-User", "a"]]))
    expect([ok.status, ok.outcome, ok.identity]).toEqual([200, "Authenticated", "proxy:a"])
    expect(explainProvisioning({ role: "member", disabled: true }, true)).toMatchObject({
      status: 403,
      outcome: "UserDisabled"
    })
    expect(statusOf(new UserDisabled({ message: "x" }))).toBe(403)
  })
})
