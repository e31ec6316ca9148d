import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { DatabaseConfig } from "../../src/domain/AppConfig.js"
import { LATEST_MIGRATION } from "../../src/migrations/index.js"
import { DatabaseLive } from "../../src/services/Database.js"
import { testConfigLayer } from "../../src/testing/config.js"
import { realStores } from "../fixtures/realStores.js"

/*
 * An older replica against a store a newer release has migrated: it must refuse to start,
 * naming both versions, on SQLite and on a real PostgreSQL.
 */

const { stores } = realStores()

const database = (config: DatabaseConfig) =>
  DatabaseLive.pipe(Layer.provide(testConfigLayer(undefined, { database: config })))

describe.each(stores)("a store migrated by a newer release ($name)", ({ fresh }) => {
  it.scopedLive(
    "this replica refuses to start, naming the store's migration and its own",
    () =>
      Effect.gen(function* () {
        const config = yield* Effect.promise(fresh)
        // A newer release started first and applied a migration this code does not know.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const sql = yield* SqlClient.SqlClient
            yield* sql`INSERT INTO headtower_migrations (migration_id, name) VALUES (${
              LATEST_MIGRATION.id + 1
            }, 'from_the_future')`
          }).pipe(Effect.provide(database(config)))
        )
        const error = yield* Effect.flip(Layer.build(database(config)))
        expect(error._tag).toBe("UserStoreRefused")
        expect(error.message).toContain(`migration ${LATEST_MIGRATION.id + 1} (from_the_future)`)
        expect(error.message).toContain(
          `this Headtower knows (migration ${LATEST_MIGRATION.id}, ${LATEST_MIGRATION.name})`
        )
      }),
    60_000
  )

  it.scopedLive(
    "a store at this code's own migration starts, again and again",
    () =>
      Effect.gen(function* () {
        const config = yield* Effect.promise(fresh)
        yield* Effect.scoped(Layer.build(database(config)))
        yield* Layer.build(database(config))
      }),
    60_000
  )
})
