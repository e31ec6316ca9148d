import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlError from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { Duration, Effect, Exit, Layer, type Redacted, Schedule, Scope } from "effect"
import { statSync } from "node:fs"
import type { DatabaseConfig } from "../domain/AppConfig.js"
import { UserStoreUnavailable } from "../domain/errors.js"
import { LATEST_MIGRATION, migrations } from "../migrations/index.js"
import { Settings } from "./Settings.js"
import { prepareStoreFiles, UserStoreRefused } from "./storeFiles.js"

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

/**
 * Retries `effect` while the database is locked by another writer, for up to 5 s. The retry
 * (and its schedule's state) is set up only once SQLITE_BUSY is seen, not on every call.
 */
export const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchIf(effect, isBusy, () => Effect.retry(effect, { schedule: busySchedule, while: isBusy }))

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

/** One open connection to the file at `path`, and which file (inode) that was. */
const openSqlite = (path: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    return yield* Effect.gen(function* () {
      const client = yield* SqliteClient.make({ filename: path })
      // SqliteClient already switches to WAL (readers never block the writer). busy_timeout 0:
      // waiting for another process's write lock is retryWhileBusy's job, off the event loop.
      yield* client`PRAGMA busy_timeout = 0`
      yield* client`PRAGMA synchronous = NORMAL`
      return { client, scope, inode: path === ":memory:" ? undefined : statSync(path).ino }
    }).pipe(
      Scope.extend(scope),
      // better-sqlite3 throws (a defect) from its constructor when it cannot open the file.
      Effect.catchAllDefect((cause) => Effect.fail(new SqlError.SqlError({ cause, message: `cannot open ${path}` }))),
      Effect.tapError(() => Scope.close(scope, Exit.void))
    )
  })

/** The inode at `path`, or undefined when nothing is there (no exception built for that). */
const inodeAt = (path: string): number | undefined => {
  try {
    return statSync(path, { throwIfNoEntry: false })?.ino
  } catch {
    return undefined
  }
}

/*
 * better-sqlite3 keeps its descriptor when the file or its directory is removed, and SQLite
 * in WAL mode then keeps acknowledging writes into a deleted inode, all lost at the next
 * restart. So every connection checkout first checks (one stat) that the path still names
 * the opened file; if not, the checkout fails (503, nothing acknowledged). A file that
 * replaced it is never adopted, not even a backup put back: it was not checked (owner, mode)
 * nor migrated, and whoever put it there would decide who owns the instance. A restart
 * checks and opens it. An empty directory stays 503 the same way.
 */
const guardedSqlite = (path: string) =>
  Effect.gen(function* () {
    const opened = yield* openSqlite(path)
    yield* Effect.addFinalizer(() => Scope.close(opened.scope, Exit.void))
    // Logged once per change of what the path names, not once per refused request.
    let reported: number | undefined | "none" = "none"
    const refused = Effect.suspend(() => {
      const inode = inodeAt(path)
      if (inode === opened.inode) return opened.client.reserve
      const what = inode === undefined ? "is gone" : "was replaced by another file, which is not adopted"
      const log =
        reported === inode
          ? Effect.void
          : Effect.logError(`user store: ${path} ${what}; restart Headtower to open the file now at that path`)
      reported = inode
      return Effect.zipRight(
        log,
        Effect.fail(new SqlError.SqlError({ message: `the SQLite database ${path} ${what}` }))
      )
    })
    // `reserve` holds the connection for the checkout's scope, transactions included. The
    // stat is synchronous and cheap; only a changed or missing file takes the slow path.
    const acquirer = Effect.suspend(() =>
      opened.inode === undefined || inodeAt(path) === opened.inode ? opened.client.reserve : refused
    )
    return yield* SqlClient.make({
      acquirer,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  }).pipe(Effect.provide(Reactivity.layer))

/** Refuses (before anything is opened) store files other local users could read, write or swap. */
const checkedFiles = (path: string) =>
  path === ":memory:"
    ? Effect.void
    : Effect.try(() => prepareStoreFiles(path)).pipe(
        // A file-system failure (not a refusal) is logged and reported like any unopenable store.
        Effect.catchAll((error) =>
          Effect.zipRight(
            Effect.logError(`user store: cannot open the SQLite database ${path}`, error.error),
            Effect.fail(new UserStoreUnavailable({ message: "The user store is unavailable" }))
          )
        ),
        Effect.flatMap((prepared) => (prepared instanceof UserStoreRefused ? Effect.fail(prepared) : Effect.void))
      )

const sqlite = (path: string): Layer.Layer<SqlClient.SqlClient, UserStoreUnavailable | UserStoreRefused> =>
  Layer.unwrapEffect(
    checkedFiles(path).pipe(
      Effect.as(
        Layer.scoped(SqlClient.SqlClient, guardedSqlite(path)).pipe(
          orUnavailable(`cannot open the SQLite database ${path}`)
        )
      )
    )
  )

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

/*
 * A replica whose code is older than its store refuses to start: the Migrator only applies
 * what it knows, so it would otherwise run happily against a schema a newer release changed
 * (and report ready, and sign users in). During a rolling upgrade the newer replicas migrate;
 * older ones already running keep going until replaced (docs/replicas.md).
 */
const refuseNewerSchema = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{
    readonly migration_id: number | string
    readonly name: string
  }>`SELECT migration_id, name FROM ${sql(MIGRATIONS_TABLE)} ORDER BY migration_id DESC LIMIT 1`
  const newest = rows[0]
  if (newest === undefined || Number(newest.migration_id) <= LATEST_MIGRATION.id) return
  return yield* new UserStoreRefused({
    message: `the user store's schema is at migration ${newest.migration_id} (${newest.name}), newer than this Headtower knows (migration ${LATEST_MIGRATION.id}, ${LATEST_MIGRATION.name}): a newer release migrated it; run that release (or newer) here, never an older one against it`
  })
}).pipe(
  Effect.catchTag("SqlError", (cause) =>
    Effect.zipRight(
      Effect.logError("user store: cannot read the applied migrations", cause),
      Effect.fail(new UserStoreUnavailable({ message: "The user store is unavailable" }))
    )
  )
)

const clientFor = (database: DatabaseConfig) =>
  database.kind === "sqlite" ? sqlite(database.path) : postgres(database.url)

/** `SqlClient` for `Settings.database`, with every migration applied. */
export const DatabaseLive: Layer.Layer<SqlClient.SqlClient, UserStoreUnavailable | UserStoreRefused, Settings> =
  Layer.unwrapEffect(
    Effect.map(Settings, ({ database }) =>
      Layer.effectDiscard(refuseNewerSchema).pipe(
        Layer.provide(Layer.effectDiscard(runMigrations).pipe(orUnavailable("migrations failed"))),
        Layer.provideMerge(clientFor(database))
      )
    )
  )
