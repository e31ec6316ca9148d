import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import type { UserId } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { storeErrors } from "./storeErrors.js"

/** A user's latest sign-in, as the login cache collects it. */
export interface LastSeen {
  readonly id: UserId
  readonly at: Date
}

/*
 * Batched last-seen writes from the login cache. Each row is its own statement outside any
 * transaction: the writes are independent and monotonic (an older timestamp never wins),
 * and holding one row lock at a time means a batch can never deadlock with a role change
 * that locks several rows. Unknown ids are ignored.
 */
export const makeLastSeen = (sql: SqlClient.SqlClient, { annotate, method }: Spans) => {
  const touchLastSeen = method("UserRepository.touchLastSeen")((entries: ReadonlyArray<LastSeen>) =>
    storeErrors(
      Effect.zipRight(
        annotate(() => ({ "users.count": entries.length })),
        Effect.forEach(
          entries,
          ({ at, id }) => {
            const iso = at.toISOString()
            return sql`UPDATE users SET last_seen_at = CASE WHEN last_seen_at < ${iso} THEN ${iso} ELSE last_seen_at END
            WHERE id = ${id}`
          },
          { discard: true }
        )
      )
    )
  )

  return { touchLastSeen } as const
}
