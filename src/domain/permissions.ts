import { Schema } from "effect"
import type { Role } from "./User.js"

/**
 * What a signed-in user may do, by Headplane's names where it has them. `read_users` covers the
 * Users page and the audit log; `write_users` changes roles and disables users (owners only:
 * whoever has it can make anyone an owner).
 */
export const Capability = Schema.Literal(
  "read_users",
  "write_users",
  "read_machines",
  "write_machines",
  "read_policy",
  "write_policy",
  "generate_authkeys"
)
export type Capability = typeof Capability.Type

/** Each role's capabilities: the compiler refuses a role without an entry. */
const CAPABILITIES: { readonly [R in Role]: ReadonlyArray<Capability> } = {
  owner: Capability.literals,
  admin: ["read_users", "read_machines", "write_machines", "read_policy", "write_policy", "generate_authkeys"],
  network_admin: ["read_machines", "read_policy", "write_policy", "generate_authkeys"],
  it_admin: ["read_users", "read_machines", "write_machines", "generate_authkeys"],
  auditor: ["read_users", "read_machines", "read_policy"],
  viewer: ["read_machines", "read_policy"],
  member: []
}

const SETS = new Map(Object.entries(CAPABILITIES).map(([role, capabilities]) => [role, new Set(capabilities)]))

/** Whether `role` has `capability`. */
export const can = (role: Role, capability: Capability): boolean => SETS.get(role)?.has(capability) ?? false

/** The capabilities of `role`. */
export const capabilitiesOf = (role: Role): ReadonlyArray<Capability> => CAPABILITIES[role]

/** Who may do what on the Users page: the roles with `read_users` see users and the audit log; those with `write_users` change them. */
export const canViewUsers = (role: Role): boolean => can(role, "read_users")
export const canManageUsers = (role: Role): boolean => can(role, "write_users")
