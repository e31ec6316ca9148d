import { Schema, SchemaAST as AST, Struct } from "effect"
import { AuditEvent } from "../../domain/AuditEvent.js"
import { RoleSource, User } from "../../domain/User.js"

/*
 * How users and audit events are stored: one schema each, decoding a row (as SQLite and
 * PostgreSQL both return it: snake_case columns, ISO-8601 text, 0/1 integers) into the domain
 * class, and encoding one into the row an INSERT writes.
 */

/** A 0/1 INTEGER column (portable: PostgreSQL and SQLite store it alike). */
const BooleanFromInteger = Schema.transform(Schema.Number, Schema.Boolean, {
  strict: true,
  decode: (n) => n !== 0,
  encode: (b) => (b ? 1 : 0)
})

/** A field stored under a snake_case column name. */
const column = <S extends Schema.Schema.Any, const Key extends string>(schema: S, key: Key) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(key))

/** `schema`'s struct as the domain class, trusting the fields the struct just decoded. */
const intoClass = <From extends Schema.Schema.Any, A>(
  from: From,
  to: Schema.Schema<A, any> & (new (props: Schema.Schema.Type<From>, disableValidation: boolean) => A)
) =>
  Schema.transform(from, Schema.typeSchema(to), {
    strict: false,
    decode: (row) => new to(row as Schema.Schema.Type<From>, true),
    encode: (value) => value
  })

export const UserFromRow = intoClass(
  Schema.Struct({
    ...Struct.omit(User.fields, "roleSource", "roleGroups", "disabled", "createdAt", "lastSeenAt"),
    roleSource: column(RoleSource, "role_source"),
    roleGroups: column(Schema.parseJson(Schema.Array(Schema.String)), "role_groups"),
    disabled: BooleanFromInteger,
    createdAt: column(User.fields.createdAt, "created_at"),
    lastSeenAt: column(User.fields.lastSeenAt, "last_seen_at")
  }),
  User
)

export const AuditEventFromRow = intoClass(
  Schema.Struct({
    ...Struct.pick(AuditEvent.fields, "id", "at", "kind", "detail"),
    actorId: column(AuditEvent.fields.actorId, "actor_id"),
    actorIdentity: column(AuditEvent.fields.actorIdentity, "actor_identity"),
    subjectId: column(AuditEvent.fields.subjectId, "subject_id"),
    subjectIdentity: column(AuditEvent.fields.subjectIdentity, "subject_identity"),
    clientIp: column(AuditEvent.fields.clientIp, "client_ip")
  }),
  AuditEvent
)

/** Users rows, as a query returns them, decoded into Users. */
export const decodeUsers = Schema.decodeUnknown(Schema.Array(UserFromRow))

/*
 * The rows an INSERT writes, built directly: `Schema.encodeSync` of these schemas re-validates
 * every field of a value this process has just built, ~15 µs of each first login (measured with
 * npm run bench:compare). The return types are the schemas' encoded sides, so the compiler
 * refuses a missing, extra or renamed column; test/services/rows.test.ts holds each equal to
 * the schema's own encoding and decoding back to the same value.
 */
export const encodeUserRow = (user: User): typeof UserFromRow.Encoded => ({
  id: user.id,
  identity: user.identity,
  email: user.email,
  name: user.name,
  picture: user.picture,
  role: user.role,
  role_source: user.roleSource,
  role_groups: JSON.stringify(user.roleGroups),
  disabled: user.disabled ? 1 : 0,
  created_at: user.createdAt.toISOString(),
  last_seen_at: user.lastSeenAt.toISOString()
})

export const encodeAuditRow = (event: AuditEvent): typeof AuditEventFromRow.Encoded => ({
  id: event.id,
  at: event.at.toISOString(),
  kind: event.kind,
  detail: event.detail,
  actor_id: event.actorId,
  actor_identity: event.actorIdentity,
  subject_id: event.subjectId,
  subject_identity: event.subjectIdentity,
  client_ip: event.clientIp
})

/** The columns a row schema reads, for a SELECT list: the encoded side's keys. */
const columnsOf = (schema: Schema.Schema.Any): string =>
  AST.getPropertySignatures(Schema.encodedSchema(schema).ast)
    .map((p) => String(p.name))
    .join(", ")

export const USER_COLUMNS = columnsOf(UserFromRow)
export const AUDIT_COLUMNS = columnsOf(AuditEventFromRow)
