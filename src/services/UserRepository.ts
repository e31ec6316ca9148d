import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import * as SqlError from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Option, ParseResult, Schema, Struct } from "effect"
import type { ParseError } from "effect/ParseResult"
import { randomUUID } from "node:crypto"
import { LastOwner, UserNotFound, UserStoreUnavailable } from "../domain/errors.js"
import { Identity, type Profile, Role, User, UserId, USERS_PAGE_MAX } from "../domain/User.js"
import { DatabaseLive, retryWhileBusy } from "./Database.js"
import { countProvisioned } from "./Metrics.js"
import { spans } from "./spans.js"

/*
 * Users and their audit log, over any `SqlClient` (SQLite or PostgreSQL). Every change and
 * the audit event recording it commit in one transaction. Infrastructure failures become
 * `UserStoreUnavailable` (503); a row that does not decode is a bug, hence a defect.
 */

export const AuditKind = Schema.Literal("user_provisioned", "role_changed", "user_disabled", "user_enabled")
export type AuditKind = typeof AuditKind.Type

export class AuditEvent extends Schema.Class<AuditEvent>("AuditEvent")({
  id: Schema.String,
  at: Schema.DateFromSelf,
  kind: AuditKind,
  /** Who made the change; null when a user was provisioned by their own first login. */
  actorId: Schema.NullOr(UserId),
  actorIdentity: Schema.NullOr(Identity),
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

export interface UsersPageRequest {
  /** 1 to USERS_PAGE_MAX; USERS_PAGE_MAX when absent. */
  readonly limit?: number | undefined
  /** The last user of the previous page (its `next`); the first page when absent. */
  readonly after?: UserId | undefined
}

export interface UsersPage {
  readonly users: ReadonlyArray<User>
  /** The `after` of the following page; undefined on the last page. */
  readonly next: UserId | undefined
}

export interface LastSeen {
  readonly id: UserId
  readonly at: Date
}

/** A users row: the User's fields, with the columns stored differently renamed and retyped. */
const UserRow = Schema.Struct({
  ...Struct.omit(User.fields, "disabled", "createdAt", "lastSeenAt"),
  disabled: Schema.Number,
  created_at: Schema.Date,
  last_seen_at: Schema.Date
})
const decodeUsers = Schema.decodeUnknown(Schema.Array(UserRow))
/** The row was decoded just above: the User's fields are valid, so its constructor does not check them again. */
const toUser = (row: typeof UserRow.Type) =>
  new User(
    {
      id: row.id,
      identity: row.identity,
      email: row.email,
      name: row.name,
      picture: row.picture,
      role: row.role,
      disabled: row.disabled !== 0,
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at
    },
    true
  )
/** Users rows, as a query returns them, decoded into Users. */
const usersOf = (rows: unknown) => Effect.map(decodeUsers(rows), (decoded) => decoded.map(toUser))

const AuditRow = Schema.Struct({
  id: Schema.String,
  at: Schema.Date,
  kind: AuditKind,
  actor_id: Schema.NullOr(UserId),
  actor_identity: Schema.NullOr(Identity),
  subject_id: UserId,
  subject_identity: Identity,
  client_ip: Schema.String,
  detail: Schema.NullOr(Schema.String)
})
const decodeAudit = Schema.decodeUnknown(Schema.Array(AuditRow))

const unavailable = (error: SqlError.SqlError) =>
  Effect.logError("user store query failed", error).pipe(
    Effect.zipRight(Effect.fail(new UserStoreUnavailable({ message: "The user store is unavailable" })))
  )

/**
 * Closes a method's error channel: SqlError is an outage (503), a ParseError a bug.
 * `withTransaction` turns a failed COMMIT or ROLLBACK into a defect (`orDie`); on SQLite an
 * I/O error rolls the transaction back itself, so the explicit ROLLBACK then fails. Those are
 * the same outage, so a SqlError defect becomes a 503 too, never a 500. A write lock held by
 * another process is waited for first (retryWhileBusy), a whole method at a time.
 */
const storeErrors = <A, E, R>(
  effect: Effect.Effect<A, E | SqlError.SqlError | ParseError, R>
) =>
  effect.pipe(
    retryWhileBusy,
    Effect.catchSomeDefect((defect) =>
      defect instanceof SqlError.SqlError ? Option.some(Effect.fail(defect)) : Option.none()
    ),
    Effect.catchIf(
      (error): error is ParseError => error instanceof ParseResult.ParseError,
      (error) => Effect.die(error)
    ),
    Effect.catchIf(
      (error): error is SqlError.SqlError => error instanceof SqlError.SqlError,
      unavailable
    )
  )

type RunStatement = <A extends object>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError.SqlError>

/** Runs a statement on `connection` as it is: no span, no checkout of its own. */
const runOn =
  (connection: SqlConnection.Connection): RunStatement =>
  (statement) => {
    const [text, params] = statement.compile()
    return connection.execute(text, params, undefined)
  }

const isEnabledOwner = (user: User) => user.role === "owner" && !user.disabled

// Built once: tagging a metric allocates and hashes a new key.
const countOwnerProvisioned = countProvisioned("owner")
const countMemberProvisioned = countProvisioned("member")

export class UserRepository extends Effect.Service<UserRepository>()("headtower/UserRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const { annotate, method } = yield* spans
    const columns = sql.literal(
      "id, identity, email, name, picture, role, disabled, created_at, last_seen_at"
    )
    const selectUsers = (where: ReturnType<typeof sql.literal>) =>
      Effect.flatMap(sql`SELECT ${columns} FROM users ${where}`, usersOf)
    const byId = (id: UserId) => selectUsers(sql`WHERE id = ${id}`)

    const recordAudit = (event: Omit<AuditEvent, "id" | "at">, at: Date) =>
      sql`INSERT INTO audit_events ${sql.insert({
        id: randomUUID(),
        at: at.toISOString(),
        kind: event.kind,
        actor_id: event.actorId,
        actor_identity: event.actorIdentity,
        subject_id: event.subjectId,
        subject_identity: event.subjectIdentity,
        client_ip: event.clientIp,
        detail: event.detail
      })}`

    /*
     * Last-owner rule. In one statement, lock the target row and every enabled owner, in
     * `seq` order (one fixed order, so two such transactions cannot deadlock). On PostgreSQL
     * `FOR UPDATE` makes a concurrent demotion of another owner wait for ours; when it
     * resumes, READ COMMITTED re-checks the locked rows against the WHERE clause, so the owner
     * we just demoted is no longer counted and it fails with LastOwner. SQLite has no row
     * locks and needs none: this client runs one transaction at a time, and the file lock
     * serialises writers across processes (a stale snapshot fails with SQLITE_BUSY).
     */
    const lockTargetAndOwners = (id: UserId) =>
      selectUsers(
        sql`WHERE id = ${id} OR (role = 'owner' AND disabled = 0) ORDER BY seq ${sql.onDialectOrElse({
          pg: () => sql.literal("FOR UPDATE"),
          orElse: () => sql.literal("")
        })}`
      )

    /** Applies `change` to the target unless it would leave no enabled owner. */
    const guardedChange = (
      id: UserId,
      removesOwner: (target: User) => boolean,
      change: (target: User) => Effect.Effect<void, SqlError.SqlError>
    ) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const locked = yield* lockTargetAndOwners(id)
          const target = locked.find((user) => user.id === id)
          if (target === undefined) {
            return yield* new UserNotFound({ message: "No such user" })
          }
          if (removesOwner(target) && !locked.some((user) => user.id !== id && isEnabledOwner(user))) {
            return yield* new LastOwner({ message: "The last owner cannot be demoted or disabled" })
          }
          yield* change(target)
          const [updated] = yield* byId(id)
          return updated ?? target
        })
      )

    /*
     * `sql.withTransaction(body)`, with `body`'s statements run straight on the transaction's
     * connection: each statement through the client costs a span, a scope and a checkout
     * (measured ~25 µs, against a few µs of SQLite work for these one-row inserts). The
     * transaction itself keeps its span and @effect/sql's commit, rollback and interruption
     * handling, on both dialects.
     */
    const withDirectTransaction = <A, E>(body: (run: RunStatement) => Effect.Effect<A, E>) =>
      sql.withTransaction(
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
          Option.isSome(transaction)
            ? body(runOn(transaction.value[0]))
            : Effect.dieMessage("withTransaction provided no connection")
        )
      )

    /*
     * One owner per instance, guaranteed by a unique key rather than by reading first: every
     * newly inserted user tries to INSERT the single `instance_owner_claim` row (primary key
     * fixed at 1) with ON CONFLICT DO NOTHING, in the transaction that creates the user. Only
     * one insert can ever win; on PostgreSQL a racing insert waits for the winner's
     * transaction and then does nothing (or wins, if the winner rolled back). The user is
     * owner exactly when its claim returned a row. The same identity racing itself is settled
     * by the unique `identity` column: the losers' INSERT does nothing and they refresh the
     * winner's row instead. Locks are always taken users → claim, so no deadlock.
     */
    const provisioning = Effect.fnUntraced(
      function* (profile: Profile, context: { readonly clientIp: string }) {
        const at = new Date()
        const now = at.toISOString()
        const result = yield* withDirectTransaction((run) =>
          Effect.gen(function* () {
            const id = UserId.make(randomUUID())
            const inserted = yield* run(sql`INSERT INTO users ${sql.insert({
              id,
              identity: profile.identity,
              email: profile.email,
              name: profile.name,
              picture: profile.picture,
              role: "member",
              disabled: 0,
              created_at: now,
              last_seen_at: now
            })} ON CONFLICT (identity) DO NOTHING RETURNING id`)
            if (inserted.length === 0) {
              // Known user: the proxy's profile is the source of truth, last_seen never goes back.
              const [user] = yield* Effect.flatMap(
                run(sql`UPDATE users SET email = ${profile.email}, name = ${profile.name},
                  picture = ${profile.picture},
                  last_seen_at = CASE WHEN last_seen_at < ${now} THEN ${now} ELSE last_seen_at END
                  WHERE identity = ${profile.identity} RETURNING ${columns}`),
                usersOf
              )
              return { user: user!, created: false }
            }
            const claim = yield* run(sql`INSERT INTO instance_owner_claim ${sql.insert({
              singleton: 1,
              user_id: id,
              claimed_at: now
            })} ON CONFLICT (singleton) DO NOTHING RETURNING user_id`)
            const role: Role = claim.length > 0 ? "owner" : "member"
            if (role === "owner") yield* run(sql`UPDATE users SET role = 'owner' WHERE id = ${id}`)
            yield* run(
              recordAudit(
                {
                  kind: "user_provisioned",
                  actorId: null,
                  actorIdentity: null,
                  subjectId: id,
                  subjectIdentity: profile.identity,
                  clientIp: context.clientIp,
                  detail: `role=${role}`
                },
                at
              )
            )
            // Exactly the row just inserted (no trigger or default changes it): no need to read it back.
            const user = new User(
              {
                id,
                identity: profile.identity,
                email: profile.email,
                name: profile.name,
                picture: profile.picture,
                role,
                disabled: false,
                createdAt: at,
                lastSeenAt: at
              },
              true
            )
            return { user, created: true }
          })
        )
        // The user id, not the identity: which person that is stays in the store (telemetry.export_identity).
        yield* annotate(() => ({ "user.id": result.user.id, "user.created": result.created, "user.role": result.user.role }))
        if (result.created) yield* (result.user.role === "owner" ? countOwnerProvisioned : countMemberProvisioned)
        return result
      }
    )
    // The first-login path: no span work at all when nobody records spans (spans.ts).
    const provision = method("UserRepository.provision")(
      (profile: Profile, context: { readonly clientIp: string }) => storeErrors(provisioning(profile, context))
    )

    const get = Effect.fn("UserRepository.get")(function* (id: UserId) {
      const [user] = yield* byId(id)
      if (user === undefined) return yield* new UserNotFound({ message: "No such user" })
      return user
    }, storeErrors)

    const findByIdentity = method("UserRepository.findByIdentity")((identity: Identity) =>
      storeErrors(
        Effect.map(selectUsers(sql`WHERE identity = ${identity}`), (users) => Option.fromNullable(users[0]))
      )
    )

    /** Users in creation order, a page at a time: no listing holds the whole store in memory. */
    const list = Effect.fn("UserRepository.list")(function* (page: UsersPageRequest = {}) {
      const asked = Math.floor(page.limit ?? USERS_PAGE_MAX)
      const limit = Number.isNaN(asked) ? USERS_PAGE_MAX : Math.min(Math.max(1, asked), USERS_PAGE_MAX)
      const after = page.after === undefined ? sql.literal("") : sql`WHERE seq > (SELECT seq FROM users WHERE id = ${page.after})`
      // One row more than asked tells whether another page follows.
      const users = yield* selectUsers(sql`${after} ORDER BY seq LIMIT ${limit + 1}`)
      if (page.after !== undefined && users.length === 0 && (yield* byId(page.after)).length === 0) {
        return yield* new UserNotFound({ message: "`after` names no user" })
      }
      const shown = users.slice(0, limit)
      const last = shown.at(-1)
      return { users: shown, next: users.length > limit ? last?.id : undefined } satisfies UsersPage
    }, storeErrors)

    const setRole = Effect.fn("UserRepository.setRole")(function* (id: UserId, role: Role, actor: AuditActor) {
      yield* Effect.annotateCurrentSpan({ "user.id": id, "user.role": role })
      return yield* guardedChange(
        id,
        (target) => isEnabledOwner(target) && role !== "owner",
        (target) =>
          target.role === role
            ? Effect.void
            : Effect.zipRight(
                sql`UPDATE users SET role = ${role} WHERE id = ${id}`,
                recordAudit(
                  {
                    kind: "role_changed",
                    actorId: actor.userId,
                    actorIdentity: actor.identity,
                    subjectId: id,
                    subjectIdentity: target.identity,
                    clientIp: actor.clientIp,
                    detail: `${target.role}→${role}`
                  },
                  new Date()
                )
              )
      )
    }, storeErrors)

    const setDisabled = Effect.fn("UserRepository.setDisabled")(
      function* (id: UserId, disabled: boolean, actor: AuditActor) {
        yield* Effect.annotateCurrentSpan({ "user.id": id, "user.disabled": disabled })
        return yield* guardedChange(
          id,
          (target) => isEnabledOwner(target) && disabled,
          (target) =>
            target.disabled === disabled
              ? Effect.void
              : Effect.zipRight(
                  sql`UPDATE users SET disabled = ${disabled ? 1 : 0} WHERE id = ${id}`,
                  recordAudit(
                    {
                      kind: disabled ? "user_disabled" : "user_enabled",
                      actorId: actor.userId,
                      actorIdentity: actor.identity,
                      subjectId: id,
                      subjectIdentity: target.identity,
                      clientIp: actor.clientIp,
                      detail: null
                    },
                    new Date()
                  )
                )
        )
      },
      storeErrors
    )

    /*
     * Batched last-seen writes from the login cache. Each row is its own statement outside any
     * transaction: the writes are independent and monotonic (an older timestamp never wins),
     * and holding one row lock at a time means a batch can never deadlock with a role change
     * that locks several rows. Unknown ids are ignored.
     */
    const touchLastSeen = Effect.fn("UserRepository.touchLastSeen")(function* (entries: ReadonlyArray<LastSeen>) {
      yield* Effect.annotateCurrentSpan("users.count", entries.length)
      yield* Effect.forEach(
        entries,
        ({ at, id }) => {
          const iso = at.toISOString()
          return sql`UPDATE users SET last_seen_at = CASE WHEN last_seen_at < ${iso} THEN ${iso} ELSE last_seen_at END
            WHERE id = ${id}`
        },
        { discard: true }
      )
    }, storeErrors)

    /** The newest `limit` audit events, newest first. */
    const audit = Effect.fn("UserRepository.audit")(function* (limit: number) {
      const rows = yield* Effect.flatMap(
        sql`SELECT id, at, kind, actor_id, actor_identity, subject_id, subject_identity, client_ip, detail
          FROM audit_events ORDER BY seq DESC LIMIT ${Math.max(0, Math.floor(limit))}`,
        decodeAudit
      )
      return rows.map(
        (row) =>
          new AuditEvent({
            id: row.id,
            at: row.at,
            kind: row.kind,
            actorId: row.actor_id,
            actorIdentity: row.actor_identity,
            subjectId: row.subject_id,
            subjectIdentity: row.subject_identity,
            clientIp: row.client_ip,
            detail: row.detail
          })
      )
    }, storeErrors)

    return { provision, get, findByIdentity, list, setRole, setDisabled, touchLastSeen, audit } as const
  }),
  dependencies: [DatabaseLive]
}) {}
