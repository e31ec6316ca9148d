import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Logger, Option } from "effect"
import { cli } from "./cli/index.js"

// JSON log lines for machines, readable ones on a terminal.
const logger = process.stdout.isTTY ? Logger.pretty : Logger.json

/** An error's message, else its cause's: the platform's ServeError (port in use) carries only a cause. */
const sentence = (error: Error): string =>
  error.message !== "" ? error.message : error.cause instanceof Error ? sentence(error.cause) : String(error)

/** A start-up failure is a sentence for the operator, not a stack trace; defects keep theirs. */
const report = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return Effect.void // cli printed it
  if (Option.isSome(failure) && failure.value instanceof Error) return Console.error(`headtower: ${sentence(failure.value)}`)
  return Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
}

cli(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide([NodeContext.layer, logger]),
  NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)
