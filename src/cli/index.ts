import * as Command from "@effect/cli/Command"
import { checkConfigCommand } from "./checkConfig.js"
import { explainCommand } from "./explain.js"
import { serveCommand } from "./serve.js"

const headtower = Command.make("headtower").pipe(
  Command.withSubcommands([serveCommand, checkConfigCommand, explainCommand])
)

export const cli = Command.run(headtower, { name: "headtower", version: "0.1.0" })
