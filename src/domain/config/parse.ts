import { Effect, Either, Schema } from "effect"
import YAML from "yaml"
import { type AppConfig, type ConfigIssue, ConfigSchema, type ConfigWarning } from "../AppConfig.js"
import { ConfigFiles, type FileReader } from "./fields.js"
import { issuesOf } from "./issues.js"
import { applyEnv, normalize, type RawTree } from "./raw.js"
import { relations, warningsOf } from "./rules.js"

export interface ConfigSource {
  /** The YAML text, or undefined when no file is used. */
  readonly yaml: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly files: FileReader
}

export interface ParsedConfig {
  readonly config: AppConfig | undefined
  readonly errors: ReadonlyArray<ConfigIssue>
  readonly warnings: ReadonlyArray<ConfigWarning>
}

const readYaml = (yaml: string | undefined, issues: Array<ConfigIssue>): unknown => {
  if (yaml === undefined) return undefined
  // uniqueKeys: a key written twice is a mistake, not a silent override.
  const parsed = YAML.parseDocument(yaml, { uniqueKeys: true, prettyErrors: false })
  for (const e of parsed.errors) {
    const line = e.linePos?.[0]
    issues.push({ path: line ? `line ${line.line}:${line.col}` : "(document)", message: e.message.split("\n")[0]! })
  }
  return parsed.errors.length === 0 ? parsed.toJS() : undefined
}

/** Keys the schema does not know are errors; every error is collected, not only the first. */
const decode = Schema.decodeUnknown(ConfigSchema, { errors: "all", onExcessProperty: "error" })

/** YAML → environment overrides → the schema → AppConfig, every issue collected. */
export const parseConfig = (source: ConfigSource): ParsedConfig => {
  const issues: Array<ConfigIssue> = []
  const written: RawTree = normalize(readYaml(source.yaml, issues), issues)
  issues.push(...applyEnv(written, source.env))
  const decoded = Effect.runSync(decode(written).pipe(Effect.either, Effect.provideService(ConfigFiles, source.files)))
  if (Either.isLeft(decoded)) issues.push(...issuesOf(decoded.left))
  issues.push(...relations(written))
  if (issues.length > 0 || Either.isLeft(decoded)) return { config: undefined, errors: issues, warnings: [] }
  const warnings = warningsOf(decoded.right, written)
  return { config: { ...decoded.right, warnings }, errors: [], warnings }
}
