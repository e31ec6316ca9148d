import { Either } from "effect"
import { type Cidr, type CidrList, isCatchAll, parseCidr } from "../Address.js"
import { type AppConfig, type ConfigIssue, type ConfigWarning, DEFAULT_USER_HEADER } from "../AppConfig.js"
import { assertionWarnings } from "../assertion/warnings.js"
import type { RawTree } from "./raw.js"
import { tlsRelations, tlsWarnings } from "./tls.js"

/*
 * Judgements across keys. Relations are errors judged on what was written, so they are
 * reported together with every other error (a check of a whole section would run only once
 * each of its keys is valid). Warnings flag risky settings of a valid configuration; start-up
 * continues.
 */

const BASE = "server.proxy_auth"
/** The keys that name a header a proxy sends, in the file's order. */
const HEADER_KEYS = [
  "user_header",
  "email_header",
  "name_header",
  "picture_header",
  "groups_header",
  "ip_header"
] as const
const CIDR_KEYS = ["allowed_cidrs", "trusted_proxy_cidrs"] as const

/** Rules wider than these are almost never "the proxy's address" (0.0.0.0/1 + 128.0.0.0/1 is everyone). */
const WIDE_IPV4_PREFIX = 8
const WIDE_IPV6_PREFIX = 32

/**
 * trusted_proxy_cidrs rules wider than these name more than the proxies: any host in the range
 * may write the client IP (a proxy is one address, or a few in one /24 or /64).
 */
const PROXY_IPV4_PREFIX = 24
const PROXY_IPV6_PREFIX = 64

const isWide = (cidr: Cidr) =>
  isCatchAll(cidr) || cidr.prefix < (cidr.family === 4 ? WIDE_IPV4_PREFIX : WIDE_IPV6_PREFIX)

const proxyAuthOf = (written: RawTree) => (written.server as RawTree).proxy_auth as RawTree

/** The header names as written, by key; user_header has its default. */
const headerNames = (pa: RawTree) =>
  HEADER_KEYS.map((key) => [key, key === "user_header" ? (pa[key] ?? DEFAULT_USER_HEADER) : pa[key]] as const)

/** A header has one meaning: each later key naming an earlier key's header (in any case) is an error. */
const oneMeaningPerHeader = (pa: RawTree): Array<ConfigIssue> => {
  const named = headerNames(pa)
  return named.flatMap(([key, name], i) => {
    if (typeof name !== "string") return []
    const first = named.findIndex(
      ([, other]) => typeof other === "string" && other.toLowerCase() === name.toLowerCase()
    )
    if (first === i) return []
    const message = `"${name}" is already used by ${BASE}.${named[first]![0]}; each header must have one meaning`
    return [{ path: `${BASE}.${key}`, message }]
  })
}

/** role_mapping needs the groups it maps: the groups header, or in assertion mode the token's groups claim. */
const mappingNeedsGroups = (pa: RawTree): Array<ConfigIssue> => {
  if (pa.role_mapping === undefined) return []
  const assertion = pa.assertion as RawTree
  if (Object.keys(assertion).length > 0) {
    return assertion.groups_claim === undefined
      ? [
          {
            path: `${BASE}.role_mapping`,
            message: `maps groups, but ${BASE}.assertion.groups_claim is not set: in assertion mode the groups come from the signed token's claim`
          }
        ]
      : []
  }
  return pa.groups_header === undefined
    ? [
        {
          path: `${BASE}.role_mapping`,
          message: `maps groups, but ${BASE}.groups_header is not set: name the header your proxy sends the user's groups in (e.g. "Remote-Groups")`
        }
      ]
    : []
}

export const relations = (written: RawTree): Array<ConfigIssue> => {
  const headscale = written.headscale as RawTree
  const pa = proxyAuthOf(written)
  const issues = [...oneMeaningPerHeader(pa), ...mappingNeedsGroups(pa), ...tlsRelations(written)]
  if (headscale.api_key !== undefined && headscale.api_key_path !== undefined) {
    issues.push({
      path: "headscale.api_key_path",
      message: "set either headscale.api_key or headscale.api_key_path, not both"
    })
  }
  if (
    proxyAuthOf(written).enabled === true &&
    headscale.api_key === undefined &&
    headscale.api_key_path === undefined
  ) {
    issues.push({
      path: "headscale.api_key",
      message:
        "proxy authentication is enabled but no headscale.api_key (or headscale.api_key_path) is set; every Headscale call of a proxy-authenticated user uses that key"
    })
  }
  return issues
}

const cidrWarnings = (key: (typeof CIDR_KEYS)[number], written: ReadonlyArray<string>): Array<ConfigWarning> =>
  written.flatMap((text, i) => {
    const parsed = parseCidr(text)
    if (Either.isLeft(parsed)) return []
    const { cidr, hostBitsSet } = parsed.right
    const path = `${BASE}.${key}[${i}]`
    const warnings: Array<ConfigWarning> = []
    if (hostBitsSet) warnings.push({ path, message: `"${text}" has host bits set; it is read as ${cidr.text}` })
    const wide = cidr.family === 4 ? WIDE_IPV4_PREFIX : WIDE_IPV6_PREFIX
    if (isCatchAll(cidr)) {
      const risk =
        key === "allowed_cidrs"
          ? ": anyone who can reach Headtower can log in as any user"
          : " to supply the client IP header"
      warnings.push({ path, message: `"${text}" trusts every address${risk}` })
    } else if (cidr.prefix < wide) {
      warnings.push({
        path,
        message: `"${text}" is wider than /${wide}: a proxy is one address or a small subnet; several wide rules can add up to everyone`
      })
    }
    return warnings
  })

/**
 * A trusted proxy rule covering more than proxies: wider than a /24 or /64, or containing an
 * allowed_cidrs network (then any host of the rule can claim that allowed address). The
 * catch-all and /8-wide rules already have their warning.
 */
const wideProxyWarnings = (trusted: CidrList, allowed: CidrList): Array<ConfigWarning> =>
  trusted.cidrs.flatMap((cidr, i) => {
    const path = `${BASE}.trusted_proxy_cidrs[${i}]`
    if (isWide(cidr)) return []
    const covered = allowed.cidrs.find(
      (a) => a.family === cidr.family && a.prefix > cidr.prefix && a.network.match(cidr.network, cidr.prefix)
    )
    const proxyPrefix = cidr.family === 4 ? PROXY_IPV4_PREFIX : PROXY_IPV6_PREFIX
    if (covered !== undefined) {
      return [
        {
          path,
          message: `"${cidr.text}" contains allowed_cidrs' ${covered.text}: any host in ${cidr.text} can send an ip_header claiming that allowed address; list the proxies alone`
        }
      ]
    }
    return cidr.prefix < proxyPrefix
      ? [
          {
            path,
            message: `"${cidr.text}" is wider than /${proxyPrefix}: every host in it may write the client IP; list the proxies alone`
          }
        ]
      : []
  })

/** A mapped group holding the separator can never be read from the header: it would never match. */
const unmatchableGroups = (pa: Omit<AppConfig, "warnings">["server"]["proxyAuth"]): Array<ConfigWarning> =>
  pa.groupsHeader === undefined || pa.assertion !== undefined
    ? []
    : (pa.roleMapping ?? []).flatMap(({ groups, role }) =>
        groups
          .filter((group) => group.includes(pa.groupsSeparator))
          .map((group) => ({
            path: `${BASE}.role_mapping.${role}`,
            message: `group ${JSON.stringify(group)} contains the groups_separator ${JSON.stringify(pa.groupsSeparator)}: the header splits it, so it never matches`
          }))
      )

/** The warnings of a valid configuration, from its values and from what was written. */
export const warningsOf = (config: Omit<AppConfig, "warnings">, written: RawTree): Array<ConfigWarning> => {
  const pa = proxyAuthOf(written)
  const warnings: Array<ConfigWarning> = headerNames(pa).flatMap(([key, name]) =>
    typeof name === "string" && name.includes("_")
      ? [
          {
            path: `${BASE}.${key}`,
            message: `header name "${name}" contains "_": nginx drops such headers unless "underscores_in_headers on" is set`
          }
        ]
      : []
  )
  for (const key of CIDR_KEYS) warnings.push(...cidrWarnings(key, (pa[key] as ReadonlyArray<string> | undefined) ?? []))
  const { allowedCidrs, ipHeader, ipHeaderMode, trustedProxyCidrs } = config.server.proxyAuth
  warnings.push(...wideProxyWarnings(trustedProxyCidrs, allowedCidrs), ...tlsWarnings(written))
  warnings.push(...assertionWarnings(config, pa), ...unmatchableGroups(config.server.proxyAuth))
  if (ipHeader !== undefined && ipHeaderMode === "first") {
    warnings.push({
      path: `${BASE}.ip_header_mode`,
      message: `"first" trusts the first ${ipHeader} entry, which the client chooses unless your proxy overwrites the header; if it appends (nginx $proxy_add_x_forwarded_for, Traefik, Caddy), set ip_header_mode: rightmost_untrusted`
    })
  }
  return warnings
}
