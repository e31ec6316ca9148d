import type * as SqlClient from "@effect/sql/SqlClient"
import { Array as Arr, Effect } from "effect"
import type { UserId } from "../../domain/User.js"
import type { Spans } from "../spans.js"
import { type RunStatement, storeErrors, withDirectTransaction } from "./storeErrors.js"

/** A user's latest sign-in, as the login cache collects it. */
export interface LastSeen {
  readonly id: UserId
  readonly at: Date
}

/**
 * Rows written between two turns of the event loop. SQLite's driver is synchronous (~0.1 ms a
 * row), and Effect yields to its own scheduler through microtasks, which let no request in:
 * a batch of 13,000 users (5 s of load over 100,000 of them) held every request for 1.2 s.
 * Between chunks the batch waits for one turn of the loop, so a request waits a few ms at most.
 */
const ROWS_PER_TURN = 64

/** One turn of Node's event loop: what is waiting on I/O runs first (setImmediate comes after the poll phase). */
const eventLoopTurn = Effect.async<void>((resume) => {
  const turn = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(turn))
})

/** A statement run as it is, through the client (its own checkout and span). */
const throughClient: RunStatement = (statement) => statement

/*
 * Batched last-seen writes from the login cache. The writes are independent and monotonic (an
 * older timestamp never wins), so a chunk needs no atomicity, and unknown ids are ignored.
 * - PostgreSQL: each row is its own statement outside any transaction. Holding one row lock at
 *   a time means a batch can never deadlock with a role change that locks several rows.
 * - SQLite has one writer at a time, so a transaction cannot deadlock there: each chunk is one,
 *   its statements on the transaction's connection. That is one commit, one checkout (with its
 *   file check) and one span per chunk instead of one each per row (docs/performance.md).
 */
export const makeLastSeen = (sql: SqlClient.SqlClient, { annotate, method }: Spans) => {
  const touchOne =
    (run: RunStatement) =>
    ({ at, id }: LastSeen) => {
      const iso = at.toISOString()
      return run(sql`UPDATE users SET last_seen_at = CASE WHEN last_seen_at < ${iso} THEN ${iso} ELSE last_seen_at END
    WHERE id = ${id}`)
    }
  const touchAll = (run: RunStatement) => (chunk: ReadonlyArray<LastSeen>) =>
    Effect.forEach(chunk, touchOne(run), { discard: true })
  const touchChunk = sql.onDialectOrElse({
    sqlite: () => (chunk: ReadonlyArray<LastSeen>) => withDirectTransaction(sql)((run) => touchAll(run)(chunk)),
    orElse: () => touchAll(throughClient)
  })
  const touchLastSeen = method("UserRepository.touchLastSeen")((entries: ReadonlyArray<LastSeen>) =>
    storeErrors(
      Effect.zipRight(
        annotate(() => ({ "users.count": entries.length })),
        Effect.forEach(
          Arr.chunksOf(entries, ROWS_PER_TURN),
          (chunk, i) => Effect.zipRight(i === 0 ? Effect.void : eventLoopTurn, touchChunk(chunk)),
          { discard: true }
        )
      )
    )
  )

  return { touchLastSeen } as const
}
