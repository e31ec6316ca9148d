import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/*
 * Roles from the proxy's groups (server.proxy_auth.role_mapping): each user records where
 * their role came from, `manual` (provisioning or an owner) or `groups` (the mapping), and the
 * groups that decided a mapped role, as a JSON array of strings. Existing roles are manual.
 * Plain ADD COLUMN with a constant default: both SQLite and PostgreSQL add it without a rebuild.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE users ADD COLUMN role_source TEXT NOT NULL DEFAULT 'manual' CHECK (role_source IN ('manual', 'groups'))`
  yield* sql`ALTER TABLE users ADD COLUMN role_groups TEXT NOT NULL DEFAULT '[]'`
})
