import { Either } from "effect"
import { isCatchAll, parseCidr } from "../Address.js"
import { DEFAULT_USER_HEADER, type AppConfig, type ConfigIssue, type ConfigWarning } from "../AppConfig.js"
import type { RawTree } from "./raw.js"

/*
 * Judgements across keys. Relations are errors judged on what was written, so they are
 * reported together with every other error (a check of a whole section would run only once
 * each of its keys is valid). Warnings flag risky settings of a valid configuration; start-up
 * continues.
 */

const BASE = "server.proxy_auth"
/** The keys that name a header a proxy sends, in the file's order. */
const HEADER_KEYS = ["user_header", "email_header", "name_header", "picture_header", "ip_header"] as const
const CIDR_KEYS = ["allowed_cidrs", "trusted_proxy_cidrs"] as const

/** Rules wider than these are almost never "the proxy's address" (0.0.0.0/1 + 128.0.0.0/1 is everyone). */
const WIDE_IPV4_PREFIX = 8
const WIDE_IPV6_PREFIX = 32

const proxyAuthOf = (written: RawTree) => (written.server as RawTree).proxy_auth as RawTree

/** The header names as written, by key; user_header has its default. */
const headerNames = (pa: RawTree) =>
  HEADER_KEYS.map((key) => [key, key === "user_header" ? (pa[key] ?? DEFAULT_USER_HEADER) : pa[key]] as const)

/** A header has one meaning: each later key naming an earlier key's header (in any case) is an error. */
const oneMeaningPerHeader = (pa: RawTree): Array<ConfigIssue> => {
  const named = headerNames(pa)
  return named.flatMap(([key, name], i) => {
    if (typeof name !== "string") return []
    const first = named.findIndex(([, other]) => typeof other === "string" && other.toLowerCase() === name.toLowerCase())
    if (first === i) return []
    const message = `"${name}" is already used by ${BASE}.${named[first]![0]}; each header must have one meaning`
    return [{ path: `${BASE}.${key}`, message }]
  })
}

export const relations = (written: RawTree): Array<ConfigIssue> => {
  const headscale = written.headscale as RawTree
  const issues = oneMeaningPerHeader(proxyAuthOf(written))
  if (headscale.api_key !== undefined && headscale.api_key_path !== undefined) {
    issues.push({ path: "headscale.api_key_path", message: "set either headscale.api_key or headscale.api_key_path, not both" })
  }
  if (proxyAuthOf(written).enabled === true && headscale.api_key === undefined && headscale.api_key_path === undefined) {
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
      const risk = key === "allowed_cidrs" ? ": anyone who can reach Headtower can log in as any user" : " to supply the client IP header"
      warnings.push({ path, message: `"${text}" trusts every address${risk}` })
    } else if (cidr.prefix < wide) {
      warnings.push({
        path,
        message: `"${text}" is wider than /${wide}: a proxy is one address or a small subnet; several wide rules can add up to everyone`
      })
    }
    return warnings
  })

/** The warnings of a valid configuration, from its values and from what was written. */
export const warningsOf = (config: Omit<AppConfig, "warnings">, written: RawTree): Array<ConfigWarning> => {
  const pa = proxyAuthOf(written)
  const warnings: Array<ConfigWarning> = headerNames(pa).flatMap(([key, name]) =>
    typeof name === "string" && name.includes("_")
      ? [{ path: `${BASE}.${key}`, message: `header name "${name}" contains "_": nginx drops such headers unless "underscores_in_headers on" is set` }]
      : []
  )
  for (const key of CIDR_KEYS) warnings.push(...cidrWarnings(key, (pa[key] as ReadonlyArray<string> | undefined) ?? []))
  const { ipHeader, ipHeaderMode } = config.server.proxyAuth
  if (ipHeader !== undefined && ipHeaderMode === "first") {
    warnings.push({
      path: `${BASE}.ip_header_mode`,
      message: `"first" trusts the first ${ipHeader} entry, which the client chooses unless your proxy overwrites the header; if it appends (nginx $proxy_add_x_forwarded_for, Traefik, Caddy), set ip_header_mode: rightmost_untrusted`
    })
  }
  return warnings
}
