import type { Role } from "./User.js"

/** Who may do what on the Users page: owners and admins see users and the audit log; owners change them. */
export const canViewUsers = (role: Role): boolean => role === "owner" || role === "admin"
export const canManageUsers = (role: Role): boolean => role === "owner"
