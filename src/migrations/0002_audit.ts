import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/*
 * The audit log lives next to the users so each event commits in the same transaction as
 * the change it records. Identities are copied, not joined, so the log reads the same later.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const seq = sql.onDialectOrElse({
    pg: () => sql.literal("seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    orElse: () => sql.literal("seq INTEGER PRIMARY KEY AUTOINCREMENT")
  })
  yield* sql`CREATE TABLE audit_events (
    ${seq},
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('user_provisioned', 'role_changed', 'user_disabled', 'user_enabled')),
    actor_id TEXT,
    actor_identity TEXT,
    subject_id TEXT NOT NULL,
    subject_identity TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    detail TEXT
  )`
})
