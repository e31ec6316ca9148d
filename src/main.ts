import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, HashMap, Logger, Option } from "effect"
import { cli } from "./cli/index.js"
import { MAX_LINE, printable, printableLines } from "./domain/display.js"

/** A log message or annotation made printable: logs quote peers, headers and identities. */
const printableValue = (value: unknown): unknown =>
  typeof value === "string" ? printable(value, MAX_LINE) : Array.isArray(value) ? value.map(printableValue) : value

const printableLogs = <O>(logger: Logger.Logger<unknown, O>) =>
  Logger.mapInputOptions(logger, (options) => ({
    ...options,
    message: printableValue(options.message),
    annotations: HashMap.map(options.annotations, printableValue)
  }))

// JSON log lines for machines, readable ones on a terminal.
const logger = Logger.replace(
  Logger.defaultLogger,
  process.stdout.isTTY
    ? printableLogs(Logger.prettyLoggerDefault)
    : Logger.withConsoleLog(printableLogs(Logger.jsonLogger))
)

/** An error's message, else its cause's: the platform's ServeError (port in use) carries only a cause. */
const sentence = (error: Error): string =>
  error.message !== "" ? error.message : error.cause instanceof Error ? sentence(error.cause) : String(error)

/** A start-up failure is a sentence for the operator, not a stack trace; defects keep theirs. */
const report = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return Effect.void // cli printed it
  if (Option.isSome(failure) && failure.value instanceof Error) {
    // A config error's lines are already cut by their formatter (a path, then a message): room for both.
    return Console.error(`headtower: ${printableLines(sentence(failure.value), 2 * MAX_LINE)}`)
  }
  return Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(printableLines(Cause.pretty(cause), MAX_LINE))
}

cli(process.argv).pipe(
  Effect.tapErrorCause(report),
  Effect.provide([NodeContext.layer, logger]),
  NodeRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)
