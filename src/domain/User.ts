import { Schema } from "effect"

/**
 * The roles, as Headscale operators know them from Headplane; what each may do is its set of
 * capabilities (permissions.ts). `owner`, `admin` and `member` mean what they meant before the
 * others existed: the owner changes users, admins see them, members see only themselves.
 */
export const Role = Schema.Literal("owner", "admin", "network_admin", "it_admin", "auditor", "viewer", "member")
export type Role = typeof Role.Type

/** The stable proxy identity, `proxy:<header value>`. */
export const Identity = Schema.String.pipe(Schema.startsWith("proxy:"), Schema.brand("Identity"))
export type Identity = typeof Identity.Type

export const UserId = Schema.String.pipe(Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** The most users one page of a listing holds, and its size when none is asked for. */
export const USERS_PAGE_MAX = 1000

/** The longest search (`q`) a listing takes, in characters; a longer one is refused with a 400. */
export const USERS_QUERY_MAX = 100

/**
 * What the proxy says about a user: the identity, and profile facts that are each optional
 * metadata. Read from the headers on every request; a user's stored profile is the last one read.
 */
export const Profile = Schema.Struct({
  identity: Identity,
  email: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String),
  picture: Schema.NullOr(Schema.String)
})
export type Profile = typeof Profile.Type

/**
 * Where a user's role came from: `manual` (provisioning or an owner, on the Users page) or
 * `groups` (server.proxy_auth.role_mapping, at sign-in).
 */
export const RoleSource = Schema.Literal("manual", "groups")
export type RoleSource = typeof RoleSource.Type

export class User extends Schema.Class<User>("User")({
  id: UserId,
  ...Profile.fields,
  role: Role,
  roleSource: Schema.optionalWith(RoleSource, { default: () => "manual" }),
  /** The groups that decided a `groups` role (empty for a manual one, or when none matched: member). */
  roleGroups: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  disabled: Schema.Boolean,
  // ISO-8601 text when encoded, as the API sends them and the store keeps them.
  createdAt: Schema.Date,
  lastSeenAt: Schema.Date
}) {}
