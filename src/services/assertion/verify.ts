import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose"
import { profileFromClaims } from "../../domain/assertion/claims.js"
import type { AssertionConfig } from "../../domain/assertion/config.js"
import {
  type AssertionFacts,
  type AssertionRead,
  assertionRejected,
  invalidAssertion
} from "../../domain/assertion/read.js"
import { AssertionKeysUnavailable, type AssertionReason } from "../../domain/errors.js"
import { type KeySet, KeysUnavailable, reasonOf } from "./keySet.js"

/*
 * One token judged with jose: the signature against the key set, algorithms pinned from the
 * configuration (never the token's say), iss, aud (a string or a list), exp (required) and nbf
 * with the tolerance. Every refusal becomes a typed reason; what the token claimed (iss, aud,
 * kid, alg — read unverified, for the operator's log line only) travels with it.
 */

const text = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value)

/** What the token says about itself, unverified: only ever logged, never believed. */
const claimedFacts = (token: string): AssertionFacts => {
  const facts: { -readonly [K in keyof AssertionFacts]: AssertionFacts[K] } = {}
  try {
    const header = decodeProtectedHeader(token)
    facts.kid = text(header.kid)
    facts.alg = text(header.alg)
  } catch {
    // not decodable: nothing to tell
  }
  try {
    const claims = decodeJwt(token)
    facts.iss = text(claims.iss)
    facts.aud = text(claims.aud)
    facts.exp = typeof claims.exp === "number" ? claims.exp : undefined
  } catch {
    // idem
  }
  return facts
}

const claimReason = (claim: string, reason: string): [AssertionReason, string] => {
  switch (claim) {
    case "nbf":
      return ["not yet valid", "its nbf is in the future, beyond the clock tolerance"]
    case "iss":
      return ["wrong issuer", "its iss is not the configured issuer"]
    case "aud":
      return ["wrong audience", "its aud names none of the configured audiences"]
    case "exp":
      return reason === "missing" ? ["malformed", "it has no exp claim"] : ["malformed", "its exp is not a number"]
    default:
      return ["malformed", `its ${claim} claim is invalid (${reason})`]
  }
}

const reasonFor = (e: unknown): [AssertionReason, string] => {
  if (e instanceof errors.JWTExpired) return ["expired", "its exp is past, beyond the clock tolerance"]
  if (e instanceof errors.JWTClaimValidationFailed) return claimReason(e.claim, e.reason)
  if (e instanceof errors.JWSSignatureVerificationFailed) return ["bad signature", "the signature does not verify"]
  if (e instanceof errors.JWKSNoMatchingKey) return ["unknown key", "no key of the key set matches its kid and alg"]
  if (e instanceof errors.JWKSMultipleMatchingKeys) {
    return ["unknown key", "it names no kid and several keys of the set could be meant"]
  }
  if (e instanceof errors.JOSEAlgNotAllowed)
    return ["algorithm not allowed", "its alg is not in the configured algorithms"]
  // An unknown `crit` extension (algorithms outside `algorithms` were refused before any key was sought).
  if (e instanceof errors.JOSENotSupported) return ["malformed", reasonOf(e)]
  return ["malformed", reasonOf(e)]
}

export const verifyAssertion = async (
  config: AssertionConfig,
  keys: KeySet,
  token: string,
  nowMs: number
): Promise<AssertionRead> => {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, keys.getKey, {
      issuer: config.issuer,
      audience: [...config.audience],
      algorithms: [...config.algorithms],
      clockTolerance: config.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ["exp"]
    })
    return profileFromClaims(config, payload, {
      iss: payload.iss,
      aud: text(payload.aud),
      kid: protectedHeader.kid,
      alg: protectedHeader.alg,
      exp: payload.exp
    })
  } catch (e) {
    const facts = claimedFacts(token)
    if (e instanceof KeysUnavailable) {
      return assertionRejected(
        new AssertionKeysUnavailable({
          message: "the identity provider's signing keys cannot be fetched; try again later"
        }),
        e.message,
        facts
      )
    }
    const [reason, detail] = reasonFor(e)
    return invalidAssertion(reason, detail, facts)
  }
}
