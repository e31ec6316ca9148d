import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { groupsActor, mapRole, type MappedRole, type RoleRule } from "../../src/domain/roleMapping.js"

const ISSUE_EXAMPLE: ReadonlyArray<RoleRule> = [
  { role: "admin", groups: ["headtower-admins", "ops"] },
  { role: "member", groups: ["staff"] }
]

describe("mapRole: the first role in mapping order whose groups include one of the user's, else member", () => {
  it("the issue's example", () => {
    expect(mapRole(ISSUE_EXAMPLE, ["dev", "ops"])).toEqual({ role: "admin", groups: ["ops"] })
    expect(mapRole(ISSUE_EXAMPLE, ["ops", "headtower-admins"])).toEqual({
      role: "admin",
      groups: ["headtower-admins", "ops"]
    })
    expect(mapRole(ISSUE_EXAMPLE, ["staff"])).toEqual({ role: "member", groups: ["staff"] })
    expect(mapRole(ISSUE_EXAMPLE, ["dev"])).toEqual({ role: "member", groups: [] })
    expect(mapRole(ISSUE_EXAMPLE, [])).toEqual({ role: "member", groups: [] })
  })

  it("the order written is the precedence, not the roles' rank", () => {
    const mapping: ReadonlyArray<RoleRule> = [
      { role: "viewer", groups: ["everyone"] },
      { role: "admin", groups: ["ops"] }
    ]
    expect(mapRole(mapping, ["ops", "everyone"]).role).toBe("viewer")
  })

  it("group names match exactly: no case folding, no trimming of what the reader kept", () => {
    expect(mapRole(ISSUE_EXAMPLE, ["OPS", "Ops"]).role).toBe("member")
  })

  const role = fc.constantFrom<MappedRole>("admin", "network_admin", "it_admin", "auditor", "viewer", "member")
  const group = fc.constantFrom("a", "b", "c", "d", "e", "ops", "staff")
  const mapping = fc.array(fc.record({ role, groups: fc.array(group, { minLength: 1, maxLength: 3 }) }), {
    maxLength: 5
  })
  const groups = fc.array(group, { maxLength: 6 })

  it("property: never owner; the deciding groups are the user's and the winning rule's; no earlier rule matched", () => {
    fc.assert(
      fc.property(mapping, groups, (mapping, groups) => {
        const decision = mapRole(mapping, groups)
        expect(decision.role).not.toBe("owner")
        const winner = mapping.findIndex((rule) => rule.groups.some((g) => groups.includes(g)))
        if (winner < 0) {
          expect(decision).toEqual({ role: "member", groups: [] })
        } else {
          expect(decision.role).toBe(mapping[winner]!.role)
          expect(decision.groups.length).toBeGreaterThan(0)
          for (const g of decision.groups) {
            expect(groups).toContain(g)
            expect(mapping[winner]!.groups).toContain(g)
          }
        }
      })
    )
  })

  it("property: the order of the user's groups and repeats in it do not change the decision", () => {
    fc.assert(
      fc.property(mapping, groups, (mapping, groups) => {
        const shuffled = [...groups].reverse().concat(groups)
        expect(mapRole(mapping, shuffled)).toEqual(mapRole(mapping, groups))
      })
    )
  })

  it("the audit actor names the deciding groups", () => {
    expect(groupsActor(["ops", "dev"])).toBe("groups:ops,dev")
    expect(groupsActor([])).toBe("groups:")
  })
})
