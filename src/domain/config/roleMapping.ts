import { ParseResult, Schema } from "effect"
import { isNonEmptyArray } from "effect/Array"
import { type MappedRole, type RoleRule } from "../roleMapping.js"
import { FORBIDDEN } from "../IdentityHeaders.js"
import { Role } from "../User.js"
import { describe, Text } from "./fields.js"

/*
 * `server.proxy_auth.role_mapping`: an ordered map, role → the proxy's groups that grant it.
 * The order written is the precedence (the first role whose groups match wins), so it decodes
 * into a list. Owners are outside the mapping: `owner` is refused with the reason.
 */

/** `groups_separator`: one printable ASCII character that is not a letter or digit. */
export const GroupsSeparator = Text.pipe(
  Schema.filter(
    (s) =>
      /^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(s) ||
      `must be one printable character that is not a letter, digit or space (e.g. "," or "|"), got ${JSON.stringify(s)}`
  )
)

const ASSIGNABLE = Role.literals.filter((role) => role !== "owner")

const RuleSelf = Schema.declare((u: unknown): u is RoleRule => typeof u === "object" && u !== null && "role" in u)

/** Why one role's entry is refused, or undefined. */
const entryProblem = (role: string, groups: unknown): string | undefined => {
  if (role === "owner") {
    return "owners are outside the mapping: the mapping never makes or changes an owner; promote owners on the Users page"
  }
  if (!(ASSIGNABLE as ReadonlyArray<string>).includes(role)) {
    return `unknown role ${JSON.stringify(role)}; one of ${ASSIGNABLE.join(", ")}`
  }
  if (!Array.isArray(groups)) return `must be a list of group names, got ${describe(groups)}`
  if (groups.length === 0) return "is empty; list the groups that grant this role, or remove the role"
  const bad = groups.findIndex((g) => typeof g !== "string" || g.trim() === "" || FORBIDDEN.test(g))
  if (bad >= 0)
    return `[${bad}] must be a non-empty group name without control or formatting characters, got ${describe(groups[bad])}`
  return undefined
}

export const RoleMapping = Schema.transformOrFail(
  Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    message: (issue) => `must be a mapping of role to a list of groups, got ${describe(issue.actual)}`
  }),
  Schema.Array(RuleSelf),
  {
    strict: true,
    decode: (written, _, ast) => {
      const issues: Array<ParseResult.Pointer> = []
      const rules: Array<RoleRule> = []
      for (const [role, groups] of Object.entries(written)) {
        const problem = entryProblem(role, groups)
        if (problem !== undefined) {
          issues.push(new ParseResult.Pointer(role, written, new ParseResult.Type(ast, groups, problem)))
        } else {
          // Trimmed as the header's items are (spaces and tabs only), so a written name matches a sent one.
          const names = (groups as ReadonlyArray<string>).map((g) => g.replace(/^[ \t]+|[ \t]+$/g, ""))
          rules.push({ role: role as MappedRole, groups: names })
        }
      }
      if (isNonEmptyArray(issues)) return ParseResult.fail(new ParseResult.Composite(ast, written, issues))
      if (rules.length === 0) {
        return ParseResult.fail(
          new ParseResult.Type(ast, written, "is empty; omit it to leave roles to the Users page")
        )
      }
      return ParseResult.succeed(rules)
    },
    encode: (rules) => ParseResult.succeed(Object.fromEntries(rules.map((r) => [r.role, r.groups])))
  }
)
