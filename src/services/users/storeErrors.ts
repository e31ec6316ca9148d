import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import * as SqlError from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Option, ParseResult } from "effect"
import type { ParseError } from "effect/ParseResult"
import { UserStoreUnavailable } from "../../domain/errors.js"
import { retryWhileBusy } from "../Database.js"

const unavailable = (error: SqlError.SqlError) =>
  Effect.logError("user store query failed", error).pipe(
    Effect.zipRight(Effect.fail(new UserStoreUnavailable({ message: "The user store is unavailable" })))
  )

/**
 * Closes a method's error channel: SqlError is an outage (503), a ParseError a bug.
 * `withTransaction` turns a failed COMMIT or ROLLBACK into a defect (`orDie`); on SQLite an
 * I/O error rolls the transaction back itself, so the explicit ROLLBACK then fails. Those are
 * the same outage, so a SqlError defect becomes a 503 too, never a 500. A write lock held by
 * another process is waited for first (retryWhileBusy), a whole method at a time.
 */
export const storeErrors = <A, E, R>(effect: Effect.Effect<A, E | SqlError.SqlError | ParseError, R>) =>
  effect.pipe(
    retryWhileBusy,
    Effect.catchSomeDefect((defect) =>
      defect instanceof SqlError.SqlError ? Option.some(Effect.fail(defect)) : Option.none()
    ),
    Effect.catchIf(
      (error): error is ParseError => error instanceof ParseResult.ParseError,
      (error) => Effect.die(error)
    ),
    Effect.catchIf((error): error is SqlError.SqlError => error instanceof SqlError.SqlError, unavailable)
  )

export type RunStatement = <A extends object>(
  statement: Statement.Statement<A>
) => Effect.Effect<ReadonlyArray<A>, SqlError.SqlError>

/** Runs a statement on `connection` as it is: no span, no checkout of its own. */
const runOn =
  (connection: SqlConnection.Connection): RunStatement =>
  (statement) => {
    const [text, params] = statement.compile()
    return connection.execute(text, params, undefined)
  }

/*
 * `sql.withTransaction(body)`, with `body`'s statements run straight on the transaction's
 * connection: each statement through the client costs a span, a scope and a checkout
 * (measured ~25 µs, against a few µs of SQLite work for these one-row inserts). The
 * transaction itself keeps its span and @effect/sql's commit, rollback and interruption
 * handling, on both dialects.
 */
export const withDirectTransaction =
  (sql: SqlClient.SqlClient) =>
  <A, E>(body: (run: RunStatement) => Effect.Effect<A, E>) =>
    sql.withTransaction(
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) =>
        Option.isSome(transaction)
          ? body(runOn(transaction.value[0]))
          : Effect.dieMessage("withTransaction provided no connection")
      )
    )
