import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/*
 * Users, plus the singleton row claimed by the instance's first user (how "exactly one
 * owner" is enforced by a unique key, see UserRepository.provision).
 * Portable types only: timestamps are ISO-8601 text (`Date#toISOString`, which sorts like
 * time), booleans are 0/1 integers, ids are text UUIDs. `seq` orders rows by creation.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const seq = sql.onDialectOrElse({
    pg: () => sql.literal("seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    orElse: () => sql.literal("seq INTEGER PRIMARY KEY AUTOINCREMENT")
  })
  yield* sql`CREATE TABLE users (
    ${seq},
    id TEXT NOT NULL UNIQUE,
    identity TEXT NOT NULL UNIQUE,
    email TEXT,
    name TEXT,
    picture TEXT,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
  )`
  yield* sql`CREATE TABLE instance_owner_claim (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    user_id TEXT NOT NULL,
    claimed_at TEXT NOT NULL
  )`
})
