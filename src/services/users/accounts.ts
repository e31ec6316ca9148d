import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { Array as Arr, Effect } from "effect"
import { UserNotFound } from "../../domain/errors.js"
import { Identity, type Role, type User, UserId, USERS_PAGE_MAX } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { decodeUsers, USER_COLUMNS } from "./rows.js"
import { storeErrors } from "./storeErrors.js"

export interface UsersPageRequest {
  /** 1 to USERS_PAGE_MAX; USERS_PAGE_MAX when absent. */
  readonly limit?: number | undefined
  /** The last user of the previous page (its `next`); the first page when absent. */
  readonly after?: UserId | undefined
  /** The first user of the following page (its `prev`): the page that ends just before it. */
  readonly before?: UserId | undefined
  /** Only users whose identity, email or name contains it, ignoring case. */
  readonly q?: string | undefined
  /** Only users with this role. */
  readonly role?: Role | undefined
}

export interface UsersPage {
  readonly users: ReadonlyArray<User>
  /** The `after` of the following page; undefined on the last page. */
  readonly next: UserId | undefined
  /** The `before` of the preceding page; undefined on the first page. */
  readonly prev: UserId | undefined
}

/** `text` as a LIKE pattern that matches it literally anywhere: `\`, `%` and `_` escaped with `\`. */
export const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** Users rows selected by `where` (and whatever follows it), decoded into Users. */
export const selectUsers = (sql: SqlClient.SqlClient) => {
  const columns = sql.literal(USER_COLUMNS)
  return (where: Statement.Fragment) => Effect.flatMap(sql`SELECT ${columns} FROM users ${where}`, decodeUsers)
}

/** Reading users: one by id or identity, or a page of them. */
export const makeAccounts = (sql: SqlClient.SqlClient, { method }: Spans) => {
  const select = selectUsers(sql)
  // The first row, decoded by the same schema; SqlSchema.findOne's request encoding cost more
  // than the query on the first-login path (measured with npm run bench:compare).
  const first = (where: Statement.Fragment) => Effect.map(select(where), Arr.head)
  const byId = (id: UserId) => first(sql`WHERE id = ${id}`)
  const byIdentity = (identity: Identity) => first(sql`WHERE identity = ${identity}`)

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

  /*
   * The filter a page applies. Case is folded by ILIKE on PostgreSQL and by LIKE on SQLite
   * (ASCII letters only: SQLite's LIKE folds no other case). No index serves a substring
   * search; each page is bounded instead (LIMIT, at most USERS_PAGE_MAX + 1 rows, a short
   * `q`), walking `seq` and stopping at the page's last match.
   */
  const matching = (page: UsersPageRequest): Array<Statement.Fragment> => {
    const filters: Array<Statement.Fragment> = []
    if (page.q !== undefined && page.q !== "") {
      const pattern = containsPattern(page.q)
      const like = sql.onDialectOrElse({ pg: () => sql.literal("ILIKE"), orElse: () => sql.literal("LIKE") })
      filters.push(
        sql`(identity ${like} ${pattern} ESCAPE '\\' OR email ${like} ${pattern} ESCAPE '\\' OR name ${like} ${pattern} ESCAPE '\\')`
      )
    }
    if (page.role !== undefined) filters.push(sql`role = ${page.role}`)
    return filters
  }
  const where = (conditions: ReadonlyArray<Statement.Fragment>) =>
    conditions.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(conditions)}`
  const seqOf = (id: UserId) => sql`(SELECT seq FROM users WHERE id = ${id})`
  /** Whether a matching user lies beyond `id` in that direction (the other side's link). */
  const anyBeyond = (filters: ReadonlyArray<Statement.Fragment>, id: UserId, direction: "before" | "after") =>
    Effect.map(
      sql`SELECT 1 AS found FROM users ${where([...filters, direction === "before" ? sql`seq < ${seqOf(id)}` : sql`seq > ${seqOf(id)}`])}
        ORDER BY seq ${sql.literal(direction === "before" ? "DESC" : "ASC")} LIMIT 1`,
      (rows) => rows.length > 0
    )

  /**
   * Users in creation order, a page at a time, forwards (`after`) or backwards (`before`):
   * no listing holds the whole store in memory.
   */
  const list = method("UserRepository.list")((page: UsersPageRequest = {}) =>
    storeErrors(
      Effect.gen(function* () {
        const asked = Math.floor(page.limit ?? USERS_PAGE_MAX)
        const limit = Number.isNaN(asked) ? USERS_PAGE_MAX : Math.min(Math.max(1, asked), USERS_PAGE_MAX)
        const filters = matching(page)
        const cursor = page.before ?? page.after
        const backwards = page.before !== undefined
        const bound =
          cursor === undefined ? [] : [backwards ? sql`seq < ${seqOf(cursor)}` : sql`seq > ${seqOf(cursor)}`]
        // One row more than asked tells whether another page follows (precedes, backwards).
        const rows = yield* select(
          sql`${where([...filters, ...bound])} ORDER BY seq ${sql.literal(backwards ? "DESC" : "ASC")} LIMIT ${limit + 1}`
        )
        if (cursor !== undefined && rows.length === 0 && (yield* byId(cursor))._tag === "None") {
          return yield* new UserNotFound({ message: `\`${backwards ? "before" : "after"}\` names no user` })
        }
        const more = rows.length > limit
        const shown = backwards ? rows.slice(0, limit).reverse() : rows.slice(0, limit)
        const first = shown.at(0)
        const last = shown.at(-1)
        // The far side: only a cursor can have users beyond it, and only a matching one counts.
        const otherSide = (edge: User | undefined, direction: "before" | "after") =>
          cursor === undefined || edge === undefined
            ? Effect.succeed(undefined)
            : Effect.map(anyBeyond(filters, edge.id, direction), (found) => (found ? edge.id : undefined))
        return {
          users: shown,
          next: backwards ? yield* otherSide(last, "after") : more ? last?.id : undefined,
          prev: backwards ? (more ? first?.id : undefined) : yield* otherSide(first, "before")
        } satisfies UsersPage
      })
    )
  )

  return { get, findByIdentity, list } as const
}
