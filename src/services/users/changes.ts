import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { AuditActor } from "../../domain/AuditEvent.js"
import { LastOwner, UserNotFound } from "../../domain/errors.js"
import type { Role, User, UserId } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { selectUsers } from "./accounts.js"
import { auditInsert } from "./audit.js"
import { storeErrors } from "./storeErrors.js"

const isEnabledOwner = (user: User) => user.role === "owner" && !user.disabled

/** Role and disabled changes by an owner or admin, each with its audit event, never leaving no owner. */
export const makeChanges = (sql: SqlClient.SqlClient, { annotate, method }: Spans) => {
  const select = selectUsers(sql)

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
    select(
      sql`WHERE id = ${id} OR (role = 'owner' AND disabled = 0) ORDER BY seq ${sql.onDialectOrElse({
        pg: () => sql.literal("FOR UPDATE"),
        orElse: () => sql.literal("")
      })}`
    )

  /** Applies `change` to the target unless it would leave no enabled owner. */
  const guardedChange = (
    id: UserId,
    removesOwner: (target: User) => boolean,
    change: (target: User) => Effect.Effect<unknown, SqlError.SqlError>
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
        const [updated] = yield* select(sql`WHERE id = ${id}`)
        return updated ?? target
      })
    )

  const setRole = method("UserRepository.setRole")((id: UserId, role: Role, actor: AuditActor) =>
    storeErrors(Effect.zipRight(
      annotate(() => ({ "user.id": id, "user.role": role })),
      guardedChange(
        id,
        (target) => isEnabledOwner(target) && role !== "owner",
        (target) =>
          target.role === role ? Effect.void : Effect.zipRight(
            sql`UPDATE users SET role = ${role} WHERE id = ${id}`,
            auditInsert(sql, {
              kind: "role_changed",
              actorId: actor.userId,
              actorIdentity: actor.identity,
              subjectId: id,
              subjectIdentity: target.identity,
              clientIp: actor.clientIp,
              detail: `${target.role}→${role}`
            }, new Date())
          )
      )
    ))
  )

  const setDisabled = method("UserRepository.setDisabled")((id: UserId, disabled: boolean, actor: AuditActor) =>
    storeErrors(Effect.zipRight(
      annotate(() => ({ "user.id": id, "user.disabled": disabled })),
      guardedChange(
        id,
        (target) => isEnabledOwner(target) && disabled,
        (target) =>
          target.disabled === disabled ? Effect.void : Effect.zipRight(
            sql`UPDATE users SET disabled = ${disabled ? 1 : 0} WHERE id = ${id}`,
            auditInsert(sql, {
              kind: disabled ? "user_disabled" : "user_enabled",
              actorId: actor.userId,
              actorIdentity: actor.identity,
              subjectId: id,
              subjectIdentity: target.identity,
              clientIp: actor.clientIp,
              detail: null
            }, new Date())
          )
      )
    ))
  )

  return { setRole, setDisabled } as const
}
