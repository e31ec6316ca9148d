import * as Command from "@effect/cli/Command"
import { Console, Effect, Option } from "effect"
import YAML from "yaml"
import { shownConfig } from "../domain/config/shown.js"
import { MAX_LINE, printable, printableLines } from "../domain/display.js"
import { loadConfig } from "../services/Settings.js"
import { configOption } from "./options.js"

export const checkConfigCommand = Command.make("check-config", { config: configOption }, ({ config: path }) =>
  Effect.gen(function* () {
    const config = yield* loadConfig(Option.getOrUndefined(path))
    yield* Console.log(printableLines(YAML.stringify(shownConfig(config)).trimEnd(), MAX_LINE))
    if (config.warnings.length === 0) return yield* Console.log("\n# no warnings")
    yield* Console.log(`\n# ${config.warnings.length} warning(s):`)
    for (const w of config.warnings) yield* Console.log(`#   ${printable(w.path)}: ${printable(w.message, MAX_LINE)}`)
  })
).pipe(
  Command.withDescription(
    "print the effective configuration (secrets redacted) and its warnings; exit non-zero on errors"
  )
)
