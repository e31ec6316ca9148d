import type { AssertionConfig } from "../../domain/assertion/config.js"
import type { Judgement } from "../../domain/trust.js"

/**
 * What a rejected token's log line adds: the expected and the received iss and aud (and the
 * token's kid and alg), so an operator sees what to fix. Never the token.
 */
export const assertionLogFields = (
  judgement: Judgement,
  config: AssertionConfig | undefined
): Record<string, string> => {
  if (judgement._tag !== "Rejected" || config === undefined) return {}
  const step = judgement.steps[judgement.steps.length - 1]
  if (step?._tag !== "Assertion" || step.read._tag !== "Rejected") return {}
  const { facts, reason } = step.read.rejection
  return {
    assertion_detail: reason,
    expected_iss: config.issuer,
    received_iss: facts.iss ?? "(none)",
    expected_aud: config.audience.join(", "),
    received_aud: facts.aud ?? "(none)",
    received_kid: facts.kid ?? "(none)",
    received_alg: facts.alg ?? "(none)"
  }
}
