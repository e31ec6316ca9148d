import * as Options from "@effect/cli/Options"

/** `--config FILE`; without it HEADTOWER_CONFIG, else ./headtower.yaml (resolved by the Settings service). */
export const configOption = Options.file("config", { exists: "either" }).pipe(
  Options.withAlias("c"),
  Options.withDescription("configuration file (default: $HEADTOWER_CONFIG, else ./headtower.yaml)"),
  Options.optional
)
