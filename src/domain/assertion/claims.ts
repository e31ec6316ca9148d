import {
  checkEmail,
  checkName,
  checkPicture,
  type DroppedHeader,
  FORBIDDEN,
  type Groups,
  groupsProblem,
  LIMITS
} from "../IdentityHeaders.js"
import type { Identity, Profile } from "../User.js"
import type { AssertionConfig } from "./config.js"
import { type AssertionFacts, type AssertionRead, invalidAssertion } from "./read.js"

/*
 * A verified token's claims as a profile. The identity claim is taken exactly as signed (no
 * case folding or normalisation, as for the identity header); the profile claims are optional
 * metadata, checked like their headers and dropped (login goes on) when unusable.
 */

type Claims = Readonly<Record<string, unknown>>

const identityProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string" || value.trim() === "") return "absent, empty or not a string"
  if (FORBIDDEN.test(value)) return "contains control or formatting characters"
  if (Buffer.byteLength(value, "utf8") > LIMITS.identityBytes) return `longer than ${LIMITS.identityBytes} bytes`
  return undefined
}

/** The groups claim: unknown when not configured or absent; a JSON array of strings within GROUP_LIMITS, or refused. */
const groupsOf = (claim: string | undefined, claims: Claims): Groups | { readonly problem: string } => {
  if (claim === undefined || claims[claim] === undefined) return undefined
  const value = claims[claim]
  if (!Array.isArray(value) || !value.every((g): g is string => typeof g === "string")) {
    return { problem: `the ${claim} claim is not an array of strings` }
  }
  const groups = value.map((g) => g.trim()).filter((g) => g !== "")
  const problem = groupsProblem(groups)
  return problem === undefined ? groups : { problem: `the ${claim} claim ${problem}` }
}

export const profileFromClaims = (config: AssertionConfig, claims: Claims, facts: AssertionFacts): AssertionRead => {
  const value = claims[config.identityClaim]
  const problem = identityProblem(value)
  if (problem !== undefined) {
    return invalidAssertion("missing identity claim", `the ${config.identityClaim} claim is ${problem}`, facts)
  }
  const groups = groupsOf(config.groupsClaim, claims)
  if (groups !== undefined && "problem" in groups)
    return invalidAssertion("invalid groups claim", groups.problem, facts)
  const dropped: Array<DroppedHeader> = []
  const optional = (claim: string, check: (v: string) => string | undefined): string | null => {
    const v = claims[claim]
    if (v === undefined || v === null || v === "") return null
    const problem =
      typeof v !== "string" ? "not a string" : FORBIDDEN.test(v) ? "contains control characters" : check(v)
    if (problem === undefined) return v as string
    dropped.push({ header: `${claim} claim`, reason: `the ${claim} claim is ${problem}` })
    return null
  }
  const profile: Profile = {
    identity: `proxy:${value as string}` as Identity,
    email: optional(config.emailClaim, checkEmail),
    name: optional(config.nameClaim, checkName),
    picture: optional(config.pictureClaim, checkPicture)
  }
  return { _tag: "Ok", profile, dropped, facts, groups, remembered: false }
}
