import { createRequire } from "node:module"

/*
 * What a Headtower SQLite file holds, read over a separate read-only connection: the test
 * checks what was written, not what the server says it wrote.
 */

// better-sqlite3 (12.x, via @effect/sql-sqlite-node) ships no types; this is the part used here.
interface Db {
  prepare(sql: string): { all(): Array<unknown>; get(): unknown }
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new (
  file: string,
  options: { readonly readonly: boolean; readonly fileMustExist: boolean }
) => Db

export interface UserRow {
  readonly id: string
  readonly identity: string
  readonly email: string | null
  readonly name: string | null
  readonly picture: string | null
  readonly role: string
  readonly disabled: number
}

export interface Snapshot {
  readonly users: ReadonlyArray<UserRow>
  readonly auditEvents: number
  readonly ownerClaims: number
}

/*
 * last_seen_at is left out on purpose: the login cache flushes it in batches after the
 * request that earned it, so an earlier accepted request may land during a later rejected one.
 */
export const snapshot = (file: string): Snapshot => {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const users = db
      .prepare("SELECT id, identity, email, name, picture, role, disabled FROM users ORDER BY seq")
      .all() as Array<UserRow>
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
    return { users, auditEvents: count("audit_events"), ownerClaims: count("instance_owner_claim") }
  } finally {
    db.close()
  }
}
