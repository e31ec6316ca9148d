import { Context, Effect, Either, Schema } from "effect"
import type { AppConfig } from "../domain/AppConfig.js"
import type { FileReader } from "../domain/config/fields.js"
import { formatIssues } from "../domain/config/issues.js"
import { parseConfig } from "../domain/config/parse.js"
import { MAX_CONFIG_BYTES, MAX_KEY_FILE_BYTES, readStartupFile } from "./startupFile.js"

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

/** Which file to read: the explicit one must exist; the default one may be absent (env only). */
export const resolveConfigPath = (explicitPath: string | undefined): { path: string; required: boolean } => {
  const fromEnv = process.env.HEADTOWER_CONFIG
  if (explicitPath !== undefined) return { path: explicitPath, required: true }
  if (fromEnv !== undefined && fromEnv !== "") return { path: fromEnv, required: true }
  return { path: DEFAULT_CONFIG_PATH, required: false }
}

/*
 * Files the configuration names (the API key's) are read before it is built, asynchronously:
 * a first, pure pass of the parser asks for them (and is told they are not read yet), they are
 * read with the key file's bound, and the second pass gets their contents.
 */
const namedFiles = (yaml: string | undefined) =>
  Effect.gen(function* () {
    const wanted = new Map<string, number>()
    parseConfig({
      yaml,
      env: process.env,
      files: {
        readText: (path, maxBytes = MAX_KEY_FILE_BYTES) => (
          wanted.set(path, Math.max(maxBytes, wanted.get(path) ?? 0)),
          Either.left("not read yet")
        )
      }
    })
    const contents = new Map<string, Either.Either<string, string>>()
    for (const [path, maxBytes] of wanted) contents.set(path, yield* readStartupFile(path, maxBytes))
    return { readText: (path) => contents.get(path) ?? Either.left("not read") } satisfies FileReader
  })

export const loadConfig = (explicitPath: string | undefined): Effect.Effect<AppConfig, ConfigError> =>
  Effect.gen(function* () {
    const { path, required } = resolveConfigPath(explicitPath)
    const text = yield* readStartupFile(path, MAX_CONFIG_BYTES)
    if (Either.isLeft(text) && (required || !text.left.startsWith("ENOENT"))) {
      return yield* new ConfigError({
        source: path,
        issues: [{ path: "(file)", message: `cannot read: ${text.left}` }]
      })
    }
    const yaml = Either.getOrUndefined(text)
    const result = parseConfig({ yaml, env: process.env, files: yield* namedFiles(yaml) })
    const source = yaml === undefined ? "environment only" : path
    return result.config === undefined ? yield* new ConfigError({ source, issues: result.errors }) : result.config
  }).pipe(Effect.withSpan("Config.load"))
