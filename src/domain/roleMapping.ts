import type { Role, RoleSource } from "./User.js"

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

const sameGroups = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((group, i) => group === b[i])

/**
 * The mapping's decision when it would change `user`'s role, its source or the groups shown
 * beside it; undefined when it changes nothing: no groups known, an owner (outside the
 * mapping), a disabled user (nothing is written for them), or the same mapped role.
 */
export const mappedChange = (
  user: {
    readonly role: Role
    readonly roleSource: RoleSource
    readonly roleGroups: ReadonlyArray<string>
    readonly disabled: boolean
  },
  decision: MappedRoleDecision | undefined
): MappedRoleDecision | undefined =>
  decision === undefined ||
  user.role === "owner" ||
  user.disabled ||
  (user.roleSource === "groups" && user.role === decision.role && sameGroups(user.roleGroups, decision.groups))
    ? undefined
    : decision

/** The decision for a sign-in: undefined when the mapping is off or the groups are unknown (roles stay). */
export const decideRole = (
  mapping: ReadonlyArray<RoleRule> | undefined,
  groups: ReadonlyArray<string> | undefined
): MappedRoleDecision | undefined =>
  mapping === undefined || groups === undefined ? undefined : mapRole(mapping, groups)

/** The audit detail of a mapped role change: `member→admin (groups: ops)`. */
export const mappedDetail = (from: Role, decision: MappedRoleDecision): string =>
  `${from}→${decision.role} (${decision.groups.length === 0 ? "no mapped group" : `groups: ${decision.groups.join(", ")}`})`
