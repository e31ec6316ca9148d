import { Either } from "effect"
import type { AppConfig } from "./AppConfig.js"
import { decideClientIp } from "./ClientIp.js"
import { extractProfile } from "./IdentityHeaders.js"
import type { RequestFacts } from "./RequestFacts.js"
import type { Identity, Role } from "./User.js"

/*
 * What authenticate would decide for one request, step by step, in words an operator can act
 * on. It reuses the very decisions authenticate makes (decideClientIp, the allowed_cidrs
 * match, extractProfile), so the explanation cannot drift from the behaviour.
 */

export interface Explanation {
  readonly steps: ReadonlyArray<string>
  /** The HTTP status authenticate's outcome maps to (200 when it would authenticate). */
  readonly status: number
  readonly outcome: string
  /** Set when the request passes the trust checks: the identity to look up. */
  readonly identity: Identity | undefined
}

export const explainTrust = (config: AppConfig, facts: RequestFacts): Explanation => {
  const pa = config.server.proxyAuth
  const steps: Array<string> = []
  const stop = (status: number, outcome: string): Explanation => ({ steps, status, outcome, identity: undefined })

  if (!pa.enabled) {
    steps.push("proxy auth: disabled (server.proxy_auth.enabled is not true)")
    return stop(401, "ProxyAuthDisabled")
  }
  steps.push("proxy auth: enabled")

  const ip = decideClientIp(pa, facts)
  if (Either.isLeft(ip)) {
    steps.push(`peer: ${facts.peer ?? "(none)"}${ip.left.peer ? ` (read as ${ip.left.peer.text})` : ""}`)
    steps.push(`client IP: rejected (${ip.left.reason}): ${ip.left.message}`)
    return stop(ip.left.error === "ClientNotAllowed" ? 403 : 400, ip.left.error)
  }
  const d = ip.right
  steps.push(`peer: ${d.peer.text}${facts.peer !== d.peer.text ? ` (sent as ${facts.peer})` : ""}`)
  if (pa.ipHeader === undefined) {
    steps.push("client IP: the socket peer (no ip_header is configured; forwarded headers are ignored)")
  } else if (d.peerTrustedBy === undefined) {
    steps.push(`client IP: the socket peer; ${pa.ipHeader} is ignored because the peer is not in trusted_proxy_cidrs (${pa.trustedProxyCidrs.cidrs.map((c) => c.text).join(", ")})`)
  } else {
    steps.push(`peer is a trusted proxy (matches ${d.peerTrustedBy.text}); ${pa.ipHeader} read in ${pa.ipHeaderMode} mode`)
    steps.push(`client IP: ${d.clientIp.text}, from the entry "${d.headerEntry}"`)
  }

  const rule = pa.allowedCidrs.match(d.clientIp)
  if (rule === undefined) {
    steps.push(`allowed_cidrs: ${d.clientIp.text} is in none of ${pa.allowedCidrs.cidrs.map((c) => c.text).join(", ")}`)
    return stop(403, "ClientNotAllowed")
  }
  steps.push(`allowed_cidrs: ${d.clientIp.text} is allowed by ${rule.text}`)

  const extracted = extractProfile(pa, facts)
  if (extracted._tag === "Rejected") {
    const { rejection } = extracted
    steps.push(`identity: ${rejection.reason}`)
    const tag = { Missing: "MissingIdentityHeader", Ambiguous: "AmbiguousHeader", Invalid: "InvalidHeader" }[rejection._tag]
    return stop(rejection._tag === "Missing" ? 401 : 400, tag)
  }
  const p = extracted.profile
  steps.push(`identity: ${p.identity} (from ${pa.userHeader})`)
  for (const [label, value] of [["email", p.email], ["name", p.name], ["picture", p.picture]] as const) {
    if (value !== null) steps.push(`${label}: ${value}`)
  }
  for (const d of p.dropped) steps.push(`dropped (login continues): ${d.reason}`)
  return { steps, status: 200, outcome: "Authenticated", identity: p.identity }
}

/** The last step: what provisioning would do, given what the user store holds. */
export const explainProvisioning = (
  existing: { readonly role: Role; readonly disabled: boolean } | undefined,
  anyUserExists: boolean
): { readonly step: string; readonly status: number; readonly outcome: string } => {
  if (existing === undefined) {
    return anyUserExists
      ? { step: "user: new; would be created as member (users already exist)", status: 200, outcome: "Authenticated" }
      : { step: "user: new; would be created as OWNER (it would be the first user of this instance)", status: 200, outcome: "Authenticated" }
  }
  if (existing.disabled) return { step: `user: exists (${existing.role}) but is disabled`, status: 403, outcome: "UserDisabled" }
  return { step: `user: exists, role ${existing.role}`, status: 200, outcome: "Authenticated" }
}
