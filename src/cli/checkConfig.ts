import * as Command from "@effect/cli/Command"
import { Console, Effect, Option } from "effect"
import YAML from "yaml"
import { shownConfig } from "../domain/config/shown.js"
import { loadConfig } from "../services/Settings.js"
import { configOption } from "./options.js"

export const checkConfigCommand = Command.make("check-config", { config: configOption }, ({ config: path }) =>
  Effect.gen(function* () {
    const config = yield* loadConfig(Option.getOrUndefined(path))
    yield* Console.log(YAML.stringify(shownConfig(config)).trimEnd())
    if (config.warnings.length === 0) return yield* Console.log("\n# no warnings")
    yield* Console.log(`\n# ${config.warnings.length} warning(s):`)
    for (const w of config.warnings) yield* Console.log(`#   ${w.path}: ${w.message}`)
  })
).pipe(Command.withDescription("print the effective configuration (secrets redacted) and its warnings; exit non-zero on errors"))
