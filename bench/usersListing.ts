/*
 * GET /api/users's store query at 100,000 users, on SQLite and PostgreSQL: the first page,
 * a search that walks most of the store, one that matches nobody, the role filter, a page
 * backwards. Prints the median of 20 runs of each; asserts nothing.
 * Run: npx tsx bench/usersListing.ts
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DatabaseConfig } from "../src/domain/AppConfig.js"
import { UserId } from "../src/domain/User.js"
import type { UsersPageRequest } from "../src/services/users/accounts.js"
import { DatabaseLive } from "../src/services/Database.js"
import { UserRepository } from "../src/services/UserRepository.js"
import { testConfigLayer } from "../src/testing/config.js"
import { startPostgres } from "../test/fixtures/postgres.js"

const USERS = 100_000
const RUNS = 20

const cases: ReadonlyArray<readonly [string, UsersPageRequest]> = [
  ["first page (50)", { limit: 50 }],
  ["q matching one user near the end", { limit: 50, q: "user-99999@" }],
  ["q matching nobody", { limit: 50, q: "nobody-at-all" }],
  ["q matching every user (50)", { limit: 50, q: "example" }],
  ["role=admin (5 in the store)", { limit: 50, role: "admin" }],
  ["before=user 50,000 (50)", { limit: 50, before: UserId.make("seed-50000") }]
]

const measure = (database: DatabaseConfig) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const repo = yield* UserRepository
    const now = new Date().toISOString()
    // One INSERT in one transaction: a recursive series on SQLite, generate_series on PostgreSQL.
    yield* sql.withTransaction(
      sql.onDialectOrElse({
        pg: () => sql`INSERT INTO users (id, identity, email, name, picture, role, disabled, created_at, last_seen_at)
          SELECT 'seed-' || i, 'proxy:user-' || i, 'user-' || i || '@example.com', 'Person ' || i, NULL,
            CASE WHEN i % 20000 = 0 THEN 'admin' ELSE 'member' END, 0, ${now}, ${now}
          FROM generate_series(1, ${USERS}) AS i`,
        orElse: () => sql`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${USERS})
          INSERT INTO users (id, identity, email, name, picture, role, disabled, created_at, last_seen_at)
          SELECT 'seed-' || i, 'proxy:user-' || i, 'user-' || i || '@example.com', 'Person ' || i, NULL,
            CASE WHEN i % 20000 = 0 THEN 'admin' ELSE 'member' END, 0, ${now}, ${now} FROM s`
      })
    )
    for (const [label, request] of cases) {
      const times: Array<number> = []
      let shown = 0
      for (let run = 0; run < RUNS; run++) {
        const started = performance.now()
        shown = (yield* repo.list(request)).users.length
        times.push(performance.now() - started)
      }
      times.sort((a, b) => a - b)
      console.log(
        `${database.kind.padEnd(8)} ${label.padEnd(36)} ${shown} users  median ${times[RUNS / 2]!.toFixed(1)} ms`
      )
    }
  }).pipe(
    Effect.provide(
      UserRepository.DefaultWithoutDependencies.pipe(
        Layer.provideMerge(DatabaseLive),
        Layer.provide(testConfigLayer(undefined, { database }))
      )
    )
  )

const dir = mkdtempSync(join(tmpdir(), "users-listing-"))
const pg = await startPostgres()
try {
  await Effect.runPromise(Effect.scoped(measure({ kind: "sqlite", path: join(dir, "headtower.db") })))
  await Effect.runPromise(Effect.scoped(measure({ kind: "postgres", url: Redacted.make(await pg.createDatabase()) })))
} finally {
  await pg.stop()
  rmSync(dir, { recursive: true, force: true })
}
