import type { User } from "../../domain/User.js"

/** The public shape of a user: what `/api/me` and `/api/users` show. */
export const meView = (u: User) => ({
  id: u.id,
  identity: u.identity,
  email: u.email,
  name: u.name,
  picture: u.picture,
  role: u.role
})

export const userView = (u: User) => ({ ...meView(u), disabled: u.disabled, createdAt: u.createdAt, lastSeenAt: u.lastSeenAt })
