import { Either } from "effect"
import type { ProxyAuthConfig } from "./AppConfig.js"
import { describeCertificate } from "./clientCertificate.js"
import { statusOf } from "./errors.js"
import type { RequestFacts } from "./RequestFacts.js"
import { describeAssertion } from "./assertion/explain.js"
import { profileLines } from "./explainProfile.js"
import { admitUser, type Judgement, type TrustStep } from "./trust.js"
import type { Identity, Role } from "./User.js"

/*
 * What authenticate would decide for one request, step by step, in words an operator can act
 * on: the steps of the very judgement authenticate makes (judgeTrust), put into words, so the
 * explanation cannot drift from the behaviour.
 */

export interface Explanation {
  readonly steps: ReadonlyArray<string>
  /** The HTTP status authenticate's outcome maps to (200 when it would authenticate). */
  readonly status: number
  readonly outcome: string
  /** Set when the request passes the trust checks: the identity to look up. */
  readonly identity: Identity | undefined
}

const cidrs = (list: ProxyAuthConfig["allowedCidrs"]) => list.cidrs.map((c) => c.text).join(", ")

/** One step of the judgement, in words. */
const describe = (settings: ProxyAuthConfig, facts: RequestFacts, step: TrustStep): ReadonlyArray<string> => {
  switch (step._tag) {
    case "ProxyAuth":
      return [
        step.error === undefined
          ? "proxy auth: enabled"
          : "proxy auth: disabled (server.proxy_auth.enabled is not true)"
      ]
    case "ClientCertificate":
      return describeCertificate(step.decision)
    case "ClientIp": {
      if (Either.isLeft(step.decision)) {
        const { error, peer, reason } = step.decision.left
        return [
          `peer: ${facts.peer ?? "(none)"}${peer ? ` (read as ${peer.text})` : ""}`,
          `client IP: rejected (${reason}): ${error.message}`
        ]
      }
      const d = step.decision.right
      const peer = `peer: ${d.peer.text}${facts.peer !== d.peer.text ? ` (sent as ${facts.peer})` : ""}`
      if (settings.ipHeader === undefined) {
        return [peer, "client IP: the socket peer (no ip_header is configured; forwarded headers are ignored)"]
      }
      if (d.peerTrustedBy === undefined) {
        return [
          peer,
          `client IP: the socket peer; ${settings.ipHeader} is ignored because the peer is not in trusted_proxy_cidrs (${cidrs(
            settings.trustedProxyCidrs
          )})`
        ]
      }
      return [
        peer,
        `peer is a trusted proxy (matches ${d.peerTrustedBy.text}); ${settings.ipHeader} read in ${settings.ipHeaderMode} mode`,
        `client IP: ${d.clientIp.text}, from the entry "${d.headerEntry}"`
      ]
    }
    case "AllowedCidrs":
      return [
        step.rule === undefined
          ? `allowed_cidrs: ${step.client.clientIp.text} is in none of ${cidrs(settings.allowedCidrs)}`
          : `allowed_cidrs: ${step.client.clientIp.text} is allowed by ${step.rule.text}`
      ]
    case "Assertion":
      return describeAssertion(settings, step.read)
    case "Identity": {
      if (step.read._tag === "Rejected") return [`identity: ${step.read.rejection.reason}`]
      const { dropped, profile } = step.read
      return [`identity: ${profile.identity} (from ${settings.userHeader})`, ...profileLines(profile, dropped)]
    }
  }
}

/** A settled judgement in words (a pending one is settled first: the CLI verifies its token). */
export const explainJudgement = (settings: ProxyAuthConfig, facts: RequestFacts, judgement: Judgement): Explanation => {
  const steps = judgement.steps.flatMap((step) => describe(settings, facts, step))
  return judgement._tag === "Rejected"
    ? { steps, status: statusOf(judgement.error), outcome: judgement.error._tag, identity: undefined }
    : { steps, status: 200, outcome: "Authenticated", identity: judgement.profile.identity }
}

/** The last step: what provisioning would do, given what the user store holds. */
export const explainProvisioning = (
  existing: { readonly role: Role; readonly disabled: boolean } | undefined,
  anyUserExists: boolean
): { readonly step: string; readonly status: number; readonly outcome: string } => {
  if (existing === undefined) {
    return anyUserExists
      ? { step: "user: new; would be created as member (users already exist)", status: 200, outcome: "Authenticated" }
      : {
          step: "user: new; would be created as OWNER (it would be the first user of this instance)",
          status: 200,
          outcome: "Authenticated"
        }
  }
  const refusal = admitUser(existing)
  if (refusal !== undefined) {
    return { step: `user: exists (${existing.role}) but is disabled`, status: statusOf(refusal), outcome: refusal._tag }
  }
  return { step: `user: exists, role ${existing.role}`, status: 200, outcome: "Authenticated" }
}
