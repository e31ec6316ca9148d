import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { AuditActor, AuditKind } from "../../domain/AuditEvent.js"
import { LastOwner, RoleManagedByGroups, UserNotFound } from "../../domain/errors.js"
import type { Role, User, UserId } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { selectUsers } from "./accounts.js"
import { auditInsert } from "./audit.js"
import { storeErrors } from "./storeErrors.js"

const isEnabledOwner = (user: User) => user.role === "owner" && !user.disabled

/*
 * Last-owner rule. In one statement, lock the target row and every enabled owner, in
 * `seq` order (one fixed order, so two such transactions cannot deadlock). On PostgreSQL
 * `FOR UPDATE` makes a concurrent demotion of another owner wait for ours; when it
 * resumes, READ COMMITTED re-checks the locked rows against the WHERE clause, so the owner
 * we just demoted is no longer counted and it fails with LastOwner. SQLite has no row
 * locks and needs none: this client runs one transaction at a time, and the file lock
 * serialises writers across processes (a stale snapshot fails with SQLITE_BUSY).
 */
const lockTargetAndOwners = (sql: SqlClient.SqlClient, id: UserId) =>
  selectUsers(sql)(
    sql`WHERE id = ${id} OR (role = 'owner' AND disabled = 0) ORDER BY seq ${sql.onDialectOrElse({
      pg: () => sql.literal("FOR UPDATE"),
      orElse: () => sql.literal("")
    })}`
  )

/** What one change writes: its UPDATE and the audit event's kind and detail. */
interface Update {
  readonly statement: Effect.Effect<unknown, SqlError.SqlError>
  readonly kind: AuditKind
  readonly detail: string | null
}

/**
 * Applies `update` to the target with its audit event, in one transaction, unless it would
 * leave no enabled owner; nothing is written when `update` finds nothing to change.
 */
const guardedChange = (
  sql: SqlClient.SqlClient,
  id: UserId,
  actor: AuditActor,
  removesOwner: (target: User) => boolean,
  update: (target: User) => Update | RoleManagedByGroups | undefined
) =>
  sql.withTransaction(
    Effect.gen(function* () {
      const locked = yield* lockTargetAndOwners(sql, id)
      const target = locked.find((user) => user.id === id)
      if (target === undefined) {
        return yield* new UserNotFound({ message: "No such user" })
      }
      if (removesOwner(target) && !locked.some((user) => user.id !== id && isEnabledOwner(user))) {
        return yield* new LastOwner({ message: "The last owner cannot be demoted or disabled" })
      }
      const change = update(target)
      if (change === undefined) return target
      if (change instanceof RoleManagedByGroups) return yield* change
      yield* change.statement
      yield* auditInsert(
        sql,
        {
          kind: change.kind,
          actorId: actor.userId,
          actorIdentity: actor.identity,
          subjectId: id,
          subjectIdentity: target.identity,
          clientIp: actor.clientIp,
          detail: change.detail
        },
        new Date()
      )
      const [updated] = yield* selectUsers(sql)(sql`WHERE id = ${id}`)
      return updated ?? target
    })
  )

/** Judged on the locked row, so a sign-in that maps the role meanwhile is seen. */
const managedByGroups = (target: User, role: Role, roleMapping: boolean) =>
  roleMapping && target.roleSource === "groups" && target.role !== "owner" && role !== "owner"
    ? new RoleManagedByGroups({
        message: `This role comes from the proxy's groups (${target.roleGroups.join(", ") || "none mapped"}) under server.proxy_auth.role_mapping; change the user's groups at the proxy, or promote them to owner`
      })
    : undefined

/** Role and disabled changes by an owner or admin, each with its audit event, never leaving no owner. */
export const makeChanges = (sql: SqlClient.SqlClient, { annotate, method }: Spans) => {
  /**
   * `roleMapping`: whether server.proxy_auth.role_mapping is on; then a mapped user's role is
   * refused (RoleManagedByGroups) unless it becomes owner. A role set here is manual.
   */
  const setRole = method("UserRepository.setRole")((id: UserId, role: Role, actor: AuditActor, roleMapping = false) =>
    storeErrors(
      Effect.zipRight(
        annotate(() => ({ "user.id": id, "user.role": role })),
        guardedChange(
          sql,
          id,
          actor,
          (target) => isEnabledOwner(target) && role !== "owner",
          (target) =>
            managedByGroups(target, role, roleMapping) ??
            (target.role === role
              ? undefined
              : {
                  statement: sql`UPDATE users SET role = ${role}, role_source = 'manual', role_groups = '[]' WHERE id = ${id}`,
                  kind: "role_changed",
                  detail: `${target.role}→${role}`
                })
        )
      )
    )
  )

  const setDisabled = method("UserRepository.setDisabled")((id: UserId, disabled: boolean, actor: AuditActor) =>
    storeErrors(
      Effect.zipRight(
        annotate(() => ({ "user.id": id, "user.disabled": disabled })),
        guardedChange(
          sql,
          id,
          actor,
          (target) => isEnabledOwner(target) && disabled,
          (target) =>
            target.disabled === disabled
              ? undefined
              : {
                  statement: sql`UPDATE users SET disabled = ${disabled ? 1 : 0} WHERE id = ${id}`,
                  kind: disabled ? "user_disabled" : "user_enabled",
                  detail: null
                }
        )
      )
    )
  )

  return { setRole, setDisabled } as const
}
