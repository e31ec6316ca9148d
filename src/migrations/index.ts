import * as Migrator from "@effect/sql/Migrator"
import users from "./0001_users.js"
import audit from "./0002_audit.js"
import roles from "./0003_roles.js"
import roleSource from "./0004_role_source.js"

/** Every migration, keyed `<id>_<name>`; ids only grow, applied ones are never edited. */
const all = {
  "0001_users": users,
  "0002_audit": audit,
  "0003_roles": roles,
  "0004_role_source": roleSource
}

export const migrations = Migrator.fromRecord(all)

/** The newest migration this code knows: a store with a later one applied is not for it. */
export const LATEST_MIGRATION: { readonly id: number; readonly name: string } = Object.keys(all)
  .map((key) => ({ id: Number(key.slice(0, key.indexOf("_"))), name: key.slice(key.indexOf("_") + 1) }))
  .reduce((a, b) => (b.id > a.id ? b : a))
