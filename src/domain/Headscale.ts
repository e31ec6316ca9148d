import type { Redacted } from "effect"
import { Schema } from "effect"

/*
 * Headscale's REST objects as 0.29.2 sends them (grpc-gateway protojson, EmitUnpopulated):
 * uint64 ids as strings, every field present, unset timestamps and messages as `null`.
 * Structs ignore unknown fields on decode, so a newer Headscale adding fields still decodes.
 * Timestamps stay RFC 3339 strings: Go emits up to nanosecond precision, which a Date would
 * truncate, and the console only displays them.
 */

/** A uint64 rendered as decimal digits, as protojson does. */
const Uint64String = Schema.String.pipe(Schema.pattern(/^\d+$/))

export const HeadscaleUserId = Uint64String.pipe(Schema.brand("HeadscaleUserId"))
export type HeadscaleUserId = typeof HeadscaleUserId.Type

export const HeadscaleNodeId = Uint64String.pipe(Schema.brand("HeadscaleNodeId"))
export type HeadscaleNodeId = typeof HeadscaleNodeId.Type

/** RFC 3339 in UTC; `null` when Headscale has no value. */
const Timestamp = Schema.NullOr(Schema.String)

/**
 * `name` is the stored name, or (0.28+) the email / providerId / id when that is empty, so it
 * is a label, not a key: match users on `providerId` or `email` instead.
 */
export class HeadscaleUser extends Schema.Class<HeadscaleUser>("HeadscaleUser")({
  id: HeadscaleUserId,
  name: Schema.String,
  createdAt: Timestamp,
  displayName: Schema.String,
  email: Schema.String,
  providerId: Schema.String,
  provider: Schema.String,
  profilePicUrl: Schema.String
}) {}

export class HeadscalePreAuthKey extends Schema.Class<HeadscalePreAuthKey>("HeadscalePreAuthKey")({
  user: Schema.NullOr(HeadscaleUser),
  id: Uint64String,
  /** Masked by Headscale (`hskey-auth-<prefix>-***`); never the usable key. */
  key: Schema.String,
  reusable: Schema.Boolean,
  ephemeral: Schema.Boolean,
  used: Schema.Boolean,
  expiration: Timestamp,
  createdAt: Timestamp,
  aclTags: Schema.Array(Schema.String)
}) {}

export class HeadscaleNode extends Schema.Class<HeadscaleNode>("HeadscaleNode")({
  id: HeadscaleNodeId,
  machineKey: Schema.String,
  nodeKey: Schema.String,
  discoKey: Schema.String,
  ipAddresses: Schema.Array(Schema.String),
  name: Schema.String,
  /** The synthetic "tagged-devices" user for tagged nodes in lists; `null` on single-node reads. */
  user: Schema.NullOr(HeadscaleUser),
  lastSeen: Timestamp,
  expiry: Timestamp,
  preAuthKey: Schema.NullOr(HeadscalePreAuthKey),
  createdAt: Timestamp,
  /** `REGISTER_METHOD_*`; a plain string so a new method does not fail a whole node list. */
  registerMethod: Schema.String,
  givenName: Schema.String,
  online: Schema.Boolean,
  approvedRoutes: Schema.Array(Schema.String),
  availableRoutes: Schema.Array(Schema.String),
  subnetRoutes: Schema.Array(Schema.String),
  tags: Schema.Array(Schema.String)
}) {}

export const ListUsersResponse = Schema.Struct({ users: Schema.Array(HeadscaleUser) })
export const ListNodesResponse = Schema.Struct({ nodes: Schema.Array(HeadscaleNode) })

export class HeadscaleHealth extends Schema.Class<HeadscaleHealth>("HeadscaleHealth")({
  databaseConnectivity: Schema.Boolean
}) {}

/** The key a request's Headscale calls are made with; unwrapped only to build the header. */
export interface HeadscaleCredentials {
  readonly apiKey: Redacted.Redacted<string>
}
