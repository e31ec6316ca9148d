import { Either } from "effect"
import type { ProxyAuthConfig } from "./AppConfig.js"
import { describeCertificate } from "./clientCertificate.js"
import { statusOf } from "./errors.js"
import type { RequestFacts } from "./RequestFacts.js"
import { describeAssertion } from "./assertion/explain.js"
import { profileLines } from "./explainProfile.js"
import type { Groups } from "./IdentityHeaders.js"
import { decideRole, mappedChange, type MappedRoleDecision } from "./roleMapping.js"
import { admitUser, type Judgement, type TrustStep } from "./trust.js"
import type { Identity, Role, RoleSource } from "./User.js"

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
  /** The role the request's groups map to, when role_mapping is on and the groups are known. */
  readonly mapped?: MappedRoleDecision | undefined
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

const mappedWords = (decision: MappedRoleDecision) =>
  decision.groups.length === 0
    ? `${decision.role} (no mapped group)`
    : `${decision.role} (groups: ${decision.groups.join(", ")})`

/** The groups the judgement read and the role they map to (server.proxy_auth.role_mapping). */
const groupsLines = (settings: ProxyAuthConfig, groups: Groups): Array<string> => {
  const source =
    settings.assertion !== undefined
      ? settings.assertion.groupsClaim && `the ${settings.assertion.groupsClaim} claim`
      : settings.groupsHeader
  if (source === undefined) return []
  if (groups === undefined) return [`groups: not sent (${source} absent); the role stays as it is`]
  const read = `groups: ${groups.length === 0 ? "none" : groups.map((g) => JSON.stringify(g)).join(", ")} (from ${source})`
  const decision = decideRole(settings.roleMapping, groups)
  return [
    read,
    decision === undefined
      ? "role mapping: off (server.proxy_auth.role_mapping is not set)"
      : `role mapping: ${mappedWords(decision)}`
  ]
}

/** A settled judgement in words (a pending one is settled first: the CLI verifies its token). */
export const explainJudgement = (settings: ProxyAuthConfig, facts: RequestFacts, judgement: Judgement): Explanation => {
  const steps = judgement.steps.flatMap((step) => describe(settings, facts, step))
  return judgement._tag === "Rejected"
    ? { steps, status: statusOf(judgement.error), outcome: judgement.error._tag, identity: undefined }
    : {
        steps: [...steps, ...groupsLines(settings, judgement.groups)],
        status: 200,
        outcome: "Authenticated",
        identity: judgement.profile.identity,
        mapped: decideRole(settings.roleMapping, judgement.groups)
      }
}

/** The last step: what provisioning would do, given what the user store holds. */
export const explainProvisioning = (
  existing:
    | {
        readonly role: Role
        readonly disabled: boolean
        readonly roleSource?: RoleSource
        readonly roleGroups?: ReadonlyArray<string>
      }
    | undefined,
  anyUserExists: boolean,
  mapped?: MappedRoleDecision | undefined
): { readonly step: string; readonly status: number; readonly outcome: string } => {
  if (existing === undefined) {
    return anyUserExists
      ? {
          step: `user: new; would be created as ${mapped === undefined ? "member (users already exist)" : `${mappedWords(mapped)}, from role_mapping`}`,
          status: 200,
          outcome: "Authenticated"
        }
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
  const user = { roleSource: "manual" as const, roleGroups: [], ...existing }
  const source = user.roleSource === "groups" ? ` from groups: ${user.roleGroups.join(", ") || "none mapped"}` : ""
  const change = mappedChange(user, mapped)
  const owner = existing.role === "owner" && mapped !== undefined ? " (owners are outside role_mapping: unchanged)" : ""
  return {
    step: `user: exists, role ${existing.role}${source}${owner}${change === undefined ? "" : `; would become ${mappedWords(change)}`}`,
    status: 200,
    outcome: "Authenticated"
  }
}
