import { Schema } from "effect"
import { Identity, UserId } from "./User.js"

export const AuditKind = Schema.Literal("user_provisioned", "role_changed", "user_disabled", "user_enabled")
export type AuditKind = typeof AuditKind.Type

/** The proxy's groups as an audit actor (src/domain/roleMapping.ts, groupsActor). */
export const GroupsActor = Schema.String.pipe(Schema.startsWith("groups:"))

/** One change to a user, as the store keeps it and `/api/audit` shows it. */
export class AuditEvent extends Schema.Class<AuditEvent>("AuditEvent")({
  id: Schema.String,
  at: Schema.Date,
  kind: AuditKind,
  /** Who made the change; null when a user was provisioned by their own first login or by the mapping. */
  actorId: Schema.NullOr(UserId),
  /** The actor's identity, or for a role from role_mapping the groups that decided it (`groups:ops`). */
  actorIdentity: Schema.NullOr(Schema.Union(Identity, GroupsActor)),
  subjectId: UserId,
  subjectIdentity: Identity,
  clientIp: Schema.String,
  /** What changed, for people: `role=owner`, `member→admin`. */
  detail: Schema.NullOr(Schema.String)
}) {}

/** The signed-in user making an administrative change, as the audit log records them. */
export interface AuditActor {
  readonly userId: UserId
  readonly identity: Identity
  readonly clientIp: string
}
