import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Logger, Option } from "effect"
import { cli } from "./cli/index.js"

// JSON log lines for machines, readable ones on a terminal.
const logger = process.stdout.isTTY ? Logger.pretty : Logger.json

/** A start-up failure is a sentence for the operator, not a stack trace; defects keep theirs. */
const report = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return Effect.void // cli printed it
  if (Option.isSome(failure) && failure.value instanceof Error) return Console.error(`headtower: ${failure.value.message}`)
  return Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
}

cli(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide([NodeContext.layer, logger]),
  NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)
