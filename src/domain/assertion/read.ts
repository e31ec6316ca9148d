import {
  AmbiguousHeader,
  type AssertionError,
  type AssertionReason,
  InvalidAssertion,
  MissingAssertion
} from "../errors.js"
import type { DroppedHeader, Groups } from "../IdentityHeaders.js"
import type { RequestFacts } from "../RequestFacts.js"
import type { Profile } from "../User.js"
import type { AssertionConfig } from "./config.js"

/*
 * The assertion step's outcomes, and its first, pure half: finding the token in the request.
 * Verifying it (keys, signature, claims) is the effectful half, in services/AssertionVerifier.
 */

/** What the verified token said, for the span, the log line and explain: never the token itself. */
export interface AssertionFacts {
  readonly iss?: string | undefined
  readonly aud?: string | undefined
  readonly kid?: string | undefined
  readonly alg?: string | undefined
  readonly exp?: number | undefined
}

export interface AssertionRejection {
  readonly reason: string
  readonly error: AssertionError
  /** What was expected and received (iss, aud, kid, alg): for the operator's log line, not the client. */
  readonly facts: AssertionFacts
}

/** The assertion step's answer once the token is judged (or known). */
export type AssertionRead =
  | {
      readonly _tag: "Ok"
      readonly profile: Profile
      readonly dropped: ReadonlyArray<DroppedHeader>
      readonly facts: AssertionFacts
      /** The groups claim (assertion.groups_claim); undefined when not configured or not in the token. */
      readonly groups: Groups
      /** Answered from memory: verified earlier, not yet expired. */
      readonly remembered: boolean
    }
  | { readonly _tag: "Rejected"; readonly rejection: AssertionRejection }

/** What the request alone tells: a token still to verify, a known one, or none usable. */
export type AssertionLookup = AssertionRead | { readonly _tag: "Unverified"; readonly token: string }

export const assertionRejected = (
  error: AssertionError,
  reason: string,
  facts: AssertionFacts = {}
): Extract<AssertionRead, { _tag: "Rejected" }> => ({ _tag: "Rejected", rejection: { reason, error, facts } })

export const invalidAssertion = (reason: AssertionReason, detail: string, facts: AssertionFacts = {}) =>
  assertionRejected(
    new InvalidAssertion({ reason, message: `the sign-in token was refused: ${reason}` }),
    detail,
    facts
  )

/** A JWT is three base64url parts; a header line is bounded anyway (16 KiB), a token well under it. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
export const MAX_TOKEN_CHARS = 8192

/** The token in the configured header: `Authorization` carries `Bearer <token>`, any other header the token. */
export const readAssertionToken = (config: AssertionConfig, facts: RequestFacts): AssertionLookup => {
  const header = config.header
  const values = facts.headers.get(header.toLowerCase())
  if (values === undefined || values.length === 0 || values[0]!.trim() === "") {
    return assertionRejected(
      new MissingAssertion({
        message: `${header} is missing; this request did not come through the authenticating proxy`
      }),
      `${header} is missing`
    )
  }
  if (values.length > 1) {
    const reason = `${header} was sent ${values.length} times`
    return assertionRejected(
      new AmbiguousHeader({ message: `${reason}; an identity header must be sent exactly once` }),
      reason
    )
  }
  let token = values[0]!.trim()
  if (header.toLowerCase() === "authorization") {
    const bearer = /^bearer +(\S+)$/i.exec(token)
    if (bearer === null) {
      return assertionRejected(
        new MissingAssertion({ message: "Authorization carries no Bearer token" }),
        "Authorization is not a Bearer token"
      )
    }
    token = bearer[1]!
  }
  if (token.length > MAX_TOKEN_CHARS) return invalidAssertion("malformed", `longer than ${MAX_TOKEN_CHARS} characters`)
  if (!COMPACT_JWS.test(token)) return invalidAssertion("malformed", "not a signed JWT")
  return { _tag: "Unverified", token }
}
