import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { DatabaseLive } from "./Database.js"
import { spans } from "./spans.js"
import { makeAccounts } from "./users/accounts.js"
import { makeAuditLog } from "./users/audit.js"
import { makeChanges } from "./users/changes.js"
import { makeLastSeen } from "./users/lastSeen.js"
import { makeProvisioning } from "./users/provisioning.js"

/*
 * Users and their audit log, over any `SqlClient` (SQLite or PostgreSQL), one concern per
 * file under ./users: reading (accounts), the login cache's last-seen batches (lastSeen), first logins (provisioning), role and disabled
 * changes (changes), the audit log (audit). Every change and the audit event recording it
 * commit in one transaction. Infrastructure failures become `UserStoreUnavailable` (503); a
 * row that does not decode is a bug, hence a defect (users/storeErrors.ts).
 */
export class UserRepository extends Effect.Service<UserRepository>()("headtower/UserRepository", {
  effect: Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const tracing = yield* spans
    return {
      ...makeAccounts(sql, tracing),
      ...makeLastSeen(sql, tracing),
      ...makeProvisioning(sql, tracing),
      ...makeChanges(sql, tracing),
      ...makeAuditLog(sql, tracing)
    } as const
  }),
  dependencies: [DatabaseLive]
}) {}
