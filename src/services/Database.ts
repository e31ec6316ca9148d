import { Migrator, SqlClient, SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Duration, Effect, Layer, type Redacted, Schedule } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type { DatabaseConfig } from "../domain/AppConfig.js"
import { UserStoreUnavailable } from "../domain/errors.js"
import { migrations } from "../migrations/index.js"
import { Config } from "./Config.js"

/*
 * The user store: a `SqlClient` for the configured database, migrated before anyone can
 * use it. A store that cannot be opened or migrated fails the layer with
 * `UserStoreUnavailable` (the details go to the log, never the connection URL).
 */

const MIGRATIONS_TABLE = "headtower_migrations"
/** Arbitrary, fixed key of the PostgreSQL advisory lock that serialises migrations. */
const MIGRATION_LOCK_KEY = 0x4854_4d31
const BUSY_TIMEOUT = Duration.seconds(5)

const isBusy = (error: unknown): boolean =>
  error instanceof SqlError.SqlError &&
  String((error.cause as { code?: unknown } | undefined)?.code ?? "").startsWith("SQLITE_BUSY")

/*
 * SQLite's own busy timeout sleeps inside the synchronous better-sqlite3 call, on the event
 * loop: while another process held the write lock the whole server froze, and N waiting
 * logins froze it N × 5 s. So SQLite fails at once (busy_timeout 0) and the wait happens here,
 * asynchronously: the whole unit of work (a transaction, never a lone statement inside one)
 * is retried with a short capped backoff for up to BUSY_TIMEOUT, then the SQLITE_BUSY stands.
 */
const busySchedule = Schedule.exponential("5 millis").pipe(
  Schedule.union(Schedule.spaced("100 millis")),
  Schedule.jittered,
  Schedule.upTo(BUSY_TIMEOUT)
)

/** Retries `effect` while the database is locked by another writer, for up to 5 s. */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, { schedule: busySchedule, while: isBusy })

/** Logs why the store is unusable (for operators) and fails with the typed, detail-free error. */
const orUnavailable =
  (what: string) =>
  <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, UserStoreUnavailable, R> =>
    Layer.catchAllCause(layer, (cause) =>
      Layer.unwrapEffect(
        Effect.as(
          Effect.logError(`user store: ${what}`, cause),
          Layer.fail(new UserStoreUnavailable({ message: "The user store is unavailable" }))
        )
      )
    )

const sqlite = (path: string) => {
  // better-sqlite3 does not create directories: a fresh data directory would fail to open.
  const client = Layer.unwrapEffect(
    Effect.try(() => (path === ":memory:" ? undefined : mkdirSync(dirname(path), { recursive: true }))).pipe(
      Effect.as(SqliteClient.layer({ filename: path }))
    )
  )
  // SqliteClient already switches to WAL (readers never block the writer). busy_timeout 0:
  // waiting for another process's write lock is retryWhileBusy's job, off the event loop.
  const pragmas = Layer.effectDiscard(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA busy_timeout = 0`
      yield* sql`PRAGMA synchronous = NORMAL`
    })
  )
  // SqliteClient opens the file in its constructor and throws (a defect) when it cannot, hence
  // catchAllCause: every way of failing to open the file means the store is unavailable.
  return pragmas.pipe(Layer.provideMerge(client), orUnavailable(`cannot open the SQLite database ${path}`))
}

const postgres = (url: Redacted.Redacted<string>) =>
  PgClient.layer({ url, connectTimeout: Duration.seconds(5), applicationName: "headtower" }).pipe(
    orUnavailable("cannot connect to PostgreSQL")
  )

const migrate = Migrator.make({})({ loader: migrations, table: MIGRATIONS_TABLE })

/*
 * The Migrator alone is not safe for two PostgreSQL replicas starting at once: it creates its
 * table after a failed `::regclass` probe, outside any transaction, so both replicas can race
 * on CREATE TABLE and one fails. (Once the table exists it does serialise: `LOCK TABLE … ACCESS
 * EXCLUSIVE` inside its transaction.) So on PostgreSQL the whole run happens in one
 * transaction holding a transaction-scoped advisory lock; the table is created under that lock
 * (the probe must then succeed, since a failed statement would abort the transaction), and
 * the Migrator's own transaction becomes a savepoint. The second replica waits on the lock,
 * then finds every migration applied. SQLite is a single-process store; its writers are
 * serialised by the database lock.
 */
const runMigrations = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql.onDialectOrElse({
    pg: () =>
      sql.withTransaction(
        Effect.gen(function* () {
          yield* sql`SELECT pg_advisory_xact_lock(${sql.literal(String(MIGRATION_LOCK_KEY))})`
          yield* sql`CREATE TABLE IF NOT EXISTS ${sql(MIGRATIONS_TABLE)} (
            migration_id integer primary key,
            created_at timestamp with time zone not null default now(),
            name text not null
          )`
          return yield* migrate
        })
      ),
    orElse: () => retryWhileBusy(migrate)
  })
})

const clientFor = (database: DatabaseConfig) =>
  database.kind === "sqlite" ? sqlite(database.path) : postgres(database.url)

/** `SqlClient` for `Config.database`, with every migration applied. */
export const DatabaseLive: Layer.Layer<SqlClient.SqlClient, UserStoreUnavailable, Config> = Layer.unwrapEffect(
  Effect.map(Config, ({ database }) =>
    Layer.effectDiscard(runMigrations).pipe(orUnavailable("migrations failed"), Layer.provideMerge(clientFor(database)))
  )
)
