import type { Role } from "./User.js"

/*
 * Roles from the proxy's groups (server.proxy_auth.role_mapping), decided once, here: the
 * first role in the mapping's order whose groups include one of the user's, else `member`.
 * Owners are outside the mapping: it never yields `owner`, and an owner's role is never
 * changed by it (signIn leaves owners alone).
 */

/** Any role but owner: what the mapping may assign. */
export type MappedRole = Exclude<Role, "owner">

/** One entry of role_mapping, in the order written (its precedence). */
export interface RoleRule {
  readonly role: MappedRole
  readonly groups: ReadonlyArray<string>
}

export interface MappedRoleDecision {
  readonly role: MappedRole
  /** The user's groups that granted `role`, in the mapping's order; empty when none matched (member). */
  readonly groups: ReadonlyArray<string>
}

/** The role `groups` map to under `mapping`, and the groups that decided it. Group names match exactly. */
export const mapRole = (mapping: ReadonlyArray<RoleRule>, groups: ReadonlyArray<string>): MappedRoleDecision => {
  const held = new Set(groups)
  for (const rule of mapping) {
    const deciding = rule.groups.filter((group) => held.has(group))
    if (deciding.length > 0) return { role: rule.role, groups: [...new Set(deciding)] }
  }
  return { role: "member", groups: [] }
}

/** The audit actor naming the groups that decided a role: `groups:ops,dev` (`groups:` when none matched). */
export const groupsActor = (groups: ReadonlyArray<string>): string => `groups:${groups.join(",")}`
