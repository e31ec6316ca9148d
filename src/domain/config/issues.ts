import { ParseResult } from "effect"
import type { ConfigIssue } from "../AppConfig.js"
import { MAX_LINE, printable } from "../display.js"
import { sectionAt } from "./keys.js"
import { suggest } from "./suggest.js"

/** `server.proxy_auth.allowed_cidrs[1]`: keys joined by dots, list positions in brackets. */
const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (text, segment) =>
      typeof segment === "number" ? `${text}[${segment}]` : text ? `${text}.${String(segment)}` : String(segment),
    ""
  )

/** A key the description does not have, with the sibling it most likely meant. */
const unknownKey = (path: ReadonlyArray<PropertyKey>): string => {
  const siblings = sectionAt(path.slice(0, -1))?.keys.keys() ?? []
  const hint = suggest(String(path[path.length - 1]), siblings)
  return `unknown key${hint ? `; did you mean "${hint}"?` : ""}`
}

/** Every problem the schema found, each with its key path (all of them, not just the first). */
export const issuesOf = (error: ParseResult.ParseError): Array<ConfigIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: pathText(issue.path),
    message: issue._tag === "Unexpected" ? unknownKey(issue.path) : issue.message
  }))

/** The config error formatter: key paths, variable names and messages may hold anything, so each is made printable. */
export const formatIssues = (issues: ReadonlyArray<ConfigIssue>): string =>
  issues.map((i) => `  ${printable(i.path)}: ${printable(i.message, MAX_LINE)}`).join("\n")
