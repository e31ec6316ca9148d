import type * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import type * as Statement from "@effect/sql/Statement"
import { Effect } from "effect"
import { UserNotFound } from "../../domain/errors.js"
import { Identity, type User, UserId, USERS_PAGE_MAX } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { decodeUsers, USER_COLUMNS, UserFromRow } from "./rows.js"
import { storeErrors } from "./storeErrors.js"

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

/** Users rows selected by `where` (and whatever follows it), decoded into Users. */
export const selectUsers = (sql: SqlClient.SqlClient) => {
  const columns = sql.literal(USER_COLUMNS)
  return (where: Statement.Fragment) => Effect.flatMap(sql`SELECT ${columns} FROM users ${where}`, decodeUsers)
}

/** Reading users: one by id or identity, or a page of them. */
export const makeAccounts = (sql: SqlClient.SqlClient, { method }: Spans) => {
  const select = selectUsers(sql)
  const columns = sql.literal(USER_COLUMNS)
  const byId = SqlSchema.findOne({
    Request: UserId,
    Result: UserFromRow,
    execute: (id) => sql`SELECT ${columns} FROM users WHERE id = ${id}`
  })
  const byIdentity = SqlSchema.findOne({
    Request: Identity,
    Result: UserFromRow,
    execute: (identity) => sql`SELECT ${columns} FROM users WHERE identity = ${identity}`
  })

  const get = method("UserRepository.get")((id: UserId) =>
    storeErrors(
      Effect.flatMap(byId(id), (user) =>
        user._tag === "Some" ? Effect.succeed(user.value) : Effect.fail(new UserNotFound({ message: "No such user" }))
      )
    )
  )

  const findByIdentity = method("UserRepository.findByIdentity")((identity: Identity) =>
    storeErrors(byIdentity(identity))
  )

  /** Users in creation order, a page at a time: no listing holds the whole store in memory. */
  const list = method("UserRepository.list")((page: UsersPageRequest = {}) =>
    storeErrors(
      Effect.gen(function* () {
        const asked = Math.floor(page.limit ?? USERS_PAGE_MAX)
        const limit = Number.isNaN(asked) ? USERS_PAGE_MAX : Math.min(Math.max(1, asked), USERS_PAGE_MAX)
        const after =
          page.after === undefined ? sql.literal("") : sql`WHERE seq > (SELECT seq FROM users WHERE id = ${page.after})`
        // One row more than asked tells whether another page follows.
        const users = yield* select(sql`${after} ORDER BY seq LIMIT ${limit + 1}`)
        if (page.after !== undefined && users.length === 0 && (yield* byId(page.after))._tag === "None") {
          return yield* new UserNotFound({ message: "`after` names no user" })
        }
        const shown = users.slice(0, limit)
        return { users: shown, next: users.length > limit ? shown.at(-1)?.id : undefined } satisfies UsersPage
      })
    )
  )

  return { get, findByIdentity, list } as const
}
