import { describe, expect, it } from "@effect/vitest"
import { explainJudgement, explainProvisioning } from "../../src/domain/explain.js"
import { requestFacts } from "../../src/domain/RequestFacts.js"
import { judgeTrust, pureStepDecisions, type Judgement } from "../../src/domain/trust.js"
import { testConfig } from "../../src/testing/config.js"

const mapping = [
  { role: "admin", groups: ["ops"] },
  { role: "viewer", groups: ["staff"] }
] as const
const settings = testConfig({ groupsHeader: "Remote-Groups", roleMapping: mapping }).server.proxyAuth
const explain = (headers: Array<[string, string]>, s = settings) => {
  const facts = requestFacts("127.0.0.1", [["Remote-User", "alice"], ...headers])
  return explainJudgement(s, facts, judgeTrust(s, pureStepDecisions(s), facts) as Judgement)
}

describe("explain: the groups it read and the role they map to", () => {
  it("names the groups and the mapped role with the deciding groups", () => {
    const e = explain([["Remote-Groups", "dev,ops"]])
    expect(e.steps).toContain('groups: "dev", "ops" (from Remote-Groups)')
    expect(e.steps).toContain("role mapping: admin (groups: ops)")
    expect(e.mapped).toEqual({ role: "admin", groups: ["ops"] })
  })

  it("absent: the role stays; empty: no groups, member", () => {
    expect(explain([]).steps).toContain("groups: not sent (Remote-Groups absent); the role stays as it is")
    expect(explain([]).mapped).toBeUndefined()
    const empty = explain([["Remote-Groups", ""]])
    expect(empty.steps).toContain("groups: none (from Remote-Groups)")
    expect(empty.steps).toContain("role mapping: member (no mapped group)")
  })

  it("a refused groups header is the verdict (400)", () => {
    const e = explain([["Remote-Groups", "ops\tdev"]])
    expect([e.status, e.outcome]).toEqual([400, "InvalidHeader"])
  })

  it("provisioning: what the mapping would do to the stored user; owners are outside it", () => {
    const decision = { role: "admin", groups: ["ops"] } as const
    expect(explainProvisioning(undefined, true, decision).step).toBe(
      "user: new; would be created as admin (groups: ops), from role_mapping"
    )
    expect(explainProvisioning(undefined, false, decision).step).toContain("OWNER")
    const member = { role: "member", disabled: false, roleSource: "manual", roleGroups: [] } as const
    expect(explainProvisioning(member, true, decision).step).toBe(
      "user: exists, role member; would become admin (groups: ops)"
    )
    const owner = { ...member, role: "owner" } as const
    expect(explainProvisioning(owner, true, decision).step).toBe(
      "user: exists, role owner (owners are outside role_mapping: unchanged)"
    )
    const mapped = { ...member, role: "admin", roleSource: "groups", roleGroups: ["ops"] } as const
    expect(explainProvisioning(mapped, true, decision).step).toBe("user: exists, role admin from groups: ops")
  })
})
