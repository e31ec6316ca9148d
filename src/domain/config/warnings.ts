import { Either } from "effect"
import { isCatchAll, parseCidr } from "../Address.js"
import { headersOf, type AppConfig, type ConfigWarning } from "../AppConfig.js"
import type { RawTree } from "./raw.js"

/*
 * Risky settings that are valid: logged at start-up and printed by `check-config`, and start-up
 * continues. They judge a valid configuration, and where the wording matters (a CIDR written
 * with host bits), what was written.
 */

/** Rules wider than these are almost never "the proxy's address" (0.0.0.0/1 + 128.0.0.0/1 is everyone). */
const WIDE_IPV4_PREFIX = 8
const WIDE_IPV6_PREFIX = 32

const BASE = "server.proxy_auth"
const CIDR_KEYS = ["allowed_cidrs", "trusted_proxy_cidrs"] as const

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

/** The warnings of a valid configuration; `raw` is what was written (after the environment). */
export const warningsOf = (config: Omit<AppConfig, "warnings">, raw: RawTree): Array<ConfigWarning> => {
  const written = (raw.server as RawTree).proxy_auth as RawTree
  const pa = config.server.proxyAuth
  const warnings = headersOf(pa).flatMap(([key, name]) =>
    name?.includes("_")
      ? [{
        path: `${BASE}.${key}`,
        message: `header name "${name}" contains "_": nginx drops such headers unless "underscores_in_headers on" is set`
      }]
      : []
  )
  for (const key of CIDR_KEYS) warnings.push(...cidrWarnings(key, (written[key] as ReadonlyArray<string> | undefined) ?? []))
  if (pa.ipHeader !== undefined && pa.ipHeaderMode === "first") {
    warnings.push({
      path: `${BASE}.ip_header_mode`,
      message: `"first" trusts the first ${pa.ipHeader} entry, which the client chooses unless your proxy overwrites the header; if it appends (nginx $proxy_add_x_forwarded_for, Traefik, Caddy), set ip_header_mode: rightmost_untrusted`
    })
  }
  return warnings
}
