import { Context, Effect, Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import type { AppConfig } from "../domain/AppConfig.js"
import type { FileReader } from "../domain/config/fields.js"
import { formatIssues } from "../domain/config/issues.js"
import { parseConfig } from "../domain/config/parse.js"

/**
 * The validated configuration, parsed once at start-up; nothing else reads `process.env`.
 * (Named apart from Effect's own `Config` module, which it would otherwise shadow.)
 */
export class Settings extends Context.Tag("headtower/Settings")<Settings, AppConfig>() {}

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message() {
    return `invalid configuration (${this.source}):\n${formatIssues(this.issues)}`
  }
}

export const DEFAULT_CONFIG_PATH = "./headtower.yaml"

const files: FileReader = {
  readText: (path) => {
    try {
      return Either.right(readFileSync(path, "utf8"))
    } catch (e) {
      return Either.left(e instanceof Error ? e.message : String(e))
    }
  }
}

/** Which file to read: the explicit one must exist; the default one may be absent (env only). */
export const resolveConfigPath = (explicitPath: string | undefined): { path: string; required: boolean } => {
  const fromEnv = process.env.HEADTOWER_CONFIG
  if (explicitPath !== undefined) return { path: explicitPath, required: true }
  if (fromEnv !== undefined && fromEnv !== "") return { path: fromEnv, required: true }
  return { path: DEFAULT_CONFIG_PATH, required: false }
}

export const loadConfig = (explicitPath: string | undefined): Effect.Effect<AppConfig, ConfigError> =>
  Effect.suspend(() => {
    const { path, required } = resolveConfigPath(explicitPath)
    const text = files.readText(path)
    if (Either.isLeft(text) && required) {
      return Effect.fail(new ConfigError({ source: path, issues: [{ path: "(file)", message: `cannot read: ${text.left}` }] }))
    }
    const yaml = Either.getOrUndefined(text)
    const result = parseConfig({ yaml, env: process.env, files })
    const source = yaml === undefined ? "environment only" : path
    return result.config === undefined
      ? Effect.fail(new ConfigError({ source, issues: result.errors }))
      : Effect.succeed(result.config)
  }).pipe(Effect.withSpan("Config.load"))
