import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/*
 * The role set grows to Headplane's (owner, admin, network_admin, it_admin, auditor, viewer,
 * member); stored roles keep their names and their meaning. Only the CHECK constraint
 * changes. PostgreSQL replaces it in place. SQLite cannot alter a constraint, so the table is
 * rebuilt as SQLite's documented procedure does (a new table, rows copied with their `seq`,
 * the old one dropped, the new one renamed), inside the migration's transaction; nothing
 * references `users` by key.
 */
const ROLES = "('owner', 'admin', 'network_admin', 'it_admin', 'auditor', 'viewer', 'member')"

export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql`ALTER TABLE users DROP CONSTRAINT users_role_check`,
        sql`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ${sql.literal(ROLES)})`
      ),
    orElse: () =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE users_0003 (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          identity TEXT NOT NULL UNIQUE,
          email TEXT,
          name TEXT,
          picture TEXT,
          role TEXT NOT NULL CHECK (role IN ${sql.literal(ROLES)}),
          disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
          created_at TEXT NOT NULL,
          last_seen_at TEXT NOT NULL
        )`
        yield* sql`INSERT INTO users_0003 (seq, id, identity, email, name, picture, role, disabled, created_at, last_seen_at)
          SELECT seq, id, identity, email, name, picture, role, disabled, created_at, last_seen_at FROM users`
        yield* sql`DROP TABLE users`
        yield* sql`ALTER TABLE users_0003 RENAME TO users`
      })
  })
})
