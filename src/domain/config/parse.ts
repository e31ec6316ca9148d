import YAML from "yaml"
import { MAX_LINE, printable } from "../display.js"
import type { ConfigWarning } from "../AppConfig.js"
import { buildConfig, type BuildResult, type FileReader } from "./build.js"
import { applyEnv, checkTree, type ConfigIssue } from "./raw.js"

export interface ConfigSource {
  /** The YAML text, or undefined when no file is used. */
  readonly yaml: string | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly files: FileReader
}

/** YAML → checked keys → environment overrides → validated AppConfig, all issues collected. */
export const parseConfig = (source: ConfigSource): BuildResult => {
  const issues: Array<ConfigIssue> = []
  let document: unknown = undefined
  if (source.yaml !== undefined) {
    // uniqueKeys: a key written twice is a mistake, not a silent override.
    const parsed = YAML.parseDocument(source.yaml, { uniqueKeys: true, prettyErrors: false })
    for (const e of parsed.errors) {
      const line = e.linePos?.[0]
      issues.push({ path: line ? `line ${line.line}:${line.col}` : "(document)", message: e.message.split("\n")[0]! })
    }
    if (parsed.errors.length === 0) document = parsed.toJS()
  }
  const { tree, issues: keyIssues } = checkTree(document)
  issues.push(...keyIssues)
  issues.push(...applyEnv(tree, source.env))
  const built = buildConfig(tree, source.files)
  const errors = [...issues, ...built.errors]
  return errors.length > 0 ? { config: undefined, errors, warnings: built.warnings } : built
}

/** The config error formatter: key paths, variable names and messages may hold anything, so each is made printable. */
export const formatIssues = (issues: ReadonlyArray<ConfigIssue | ConfigWarning>): string =>
  issues.map((i) => `  ${printable(i.path)}: ${printable(i.message, MAX_LINE)}`).join("\n")
