import type { ProxyAuthConfig } from "../AppConfig.js"
import { profileLines } from "../explainProfile.js"
import type { AssertionRead } from "./read.js"

/** The assertion step in words for `headtower explain`: what the token claimed and what was expected. */
export const describeAssertion = (settings: ProxyAuthConfig, read: AssertionRead): ReadonlyArray<string> => {
  const config = settings.assertion!
  if (read._tag === "Rejected") {
    const { error, facts, reason } = read.rejection
    const lines = [
      `assertion: ${config.header} refused (${error._tag}${"reason" in error ? `: ${error.reason}` : ""}): ${reason}`
    ]
    if (facts.iss !== undefined || facts.aud !== undefined) {
      lines.push(`  iss: expected ${config.issuer}, received ${facts.iss ?? "(none)"}`)
      lines.push(`  aud: expected one of ${config.audience.join(", ")}, received ${facts.aud ?? "(none)"}`)
    }
    if (facts.kid !== undefined || facts.alg !== undefined) {
      lines.push(
        `  kid: ${facts.kid ?? "(none)"}, alg: ${facts.alg ?? "(none)"} (allowed: ${config.algorithms.join(", ")})`
      )
    }
    return lines
  }
  const { dropped, facts, profile } = read
  const expires = facts.exp === undefined ? "" : `, expires ${new Date(facts.exp * 1000).toISOString()}`
  return [
    `assertion: ${config.header} verified (key ${facts.kid ?? "(no kid)"}, ${facts.alg}; iss ${facts.iss}${expires}); identity headers are not read`,
    `identity: ${profile.identity} (from the ${config.identityClaim} claim)`,
    ...profileLines(profile, dropped)
  ]
}
