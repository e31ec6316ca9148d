import * as Migrator from "@effect/sql/Migrator"
import users from "./0001_users.js"
import audit from "./0002_audit.js"

/** Every migration, keyed `<id>_<name>`; ids only grow, applied ones are never edited. */
export const migrations = Migrator.fromRecord({
  "0001_users": users,
  "0002_audit": audit
})
