import { Either, Option, Redacted } from "effect"
import { redactUrl } from "../display.js"
import { compileCidrs, isCatchAll, LOCALHOST_CIDRS, parseCidr, type Cidr, type CidrList } from "../Address.js"
import type { AppConfig, ConfigWarning, DatabaseConfig, IpHeaderMode, ProxyAuthConfig } from "../AppConfig.js"
import type { ConfigIssue, RawTree } from "./raw.js"

/*
 * Gives meaning to the checked raw tree: defaults from the spec, CIDR lists compiled once,
 * header names validated, secrets wrapped in Redacted. Errors are collected (all of them,
 * not just the first) and stop start-up; warnings are logged and start-up continues.
 */

export const DEFAULTS = {
  headscaleUrl: "http://127.0.0.1:8080",
  headscaleTimeoutMs: 5_000,
  listen: "127.0.0.1:3000",
  databaseUrl: "sqlite:./data/headtower.db",
  userHeader: "Remote-User",
  syncTtlSeconds: 10,
  serviceName: "headtower"
} as const

/** Rules wider than these are almost never "the proxy's address" (0.0.0.0/1 + 128.0.0.0/1 is everyone). */
const WIDE_IPV4_PREFIX = 8
const WIDE_IPV6_PREFIX = 32

/**
 * trusted_proxy_cidrs rules wider than these name more than the proxies: any host in the range
 * may write the client IP (a proxy is one address, or a few in one /24 or /64).
 */
const PROXY_IPV4_PREFIX = 24
const PROXY_IPV6_PREFIX = 64

/**
 * Headers HTTP itself gives a meaning, set by the client (or by each proxy for its own use) and
 * passed on by every proxy: named as an identity or client-IP header, the client would choose
 * its value. Lower case; a name ending in "-" is a prefix (`content-type`, `if-match`…).
 */
const HTTP_OWN_HEADERS = [
  "host", "authorization", "proxy-authorization", "cookie", "connection", "keep-alive", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade", "expect", "via", "max-forwards", "user-agent", "referer",
  "origin", "accept", "accept-", "range", "if-", "cache-control", "pragma", "date", "content-"
]
const isHttpOwnHeader = (name: string) => {
  const lower = name.toLowerCase()
  return HTTP_OWN_HEADERS.some((own) => (own.endsWith("-") ? lower.startsWith(own) : lower === own))
}

const IP_HEADER_MODES: ReadonlyArray<IpHeaderMode> = ["first", "rightmost_untrusted"]

/** RFC 9110 token: what a header field name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export interface FileReader {
  /** Reads a whole text file; Left carries the reason (e.g. "ENOENT: no such file"). */
  readonly readText: (path: string) => Either.Either<string, string>
}

export interface BuildResult {
  readonly config: AppConfig | undefined
  readonly errors: ReadonlyArray<ConfigIssue>
  readonly warnings: ReadonlyArray<ConfigWarning>
}

const section = (tree: RawTree, key: string): RawTree => (tree[key] ?? {}) as RawTree
const str = (tree: RawTree, key: string): string | undefined => tree[key] as string | undefined
const num = (tree: RawTree, key: string): number | undefined => tree[key] as number | undefined
const list = (tree: RawTree, key: string): ReadonlyArray<string> | undefined =>
  tree[key] as ReadonlyArray<string> | undefined

export const buildConfig = (raw: RawTree, files: FileReader): BuildResult => {
  const errors: Array<ConfigIssue> = []
  const warnings: Array<ConfigWarning> = []
  const error = (path: string, message: string) => errors.push({ path, message })
  const warn = (path: string, message: string) => warnings.push({ path, message })

  // headscale
  const hs = section(raw, "headscale")
  const headscaleUrl = str(hs, "url") ?? DEFAULTS.headscaleUrl
  if (!isHttpUrl(headscaleUrl)) error("headscale.url", `must be an http(s) URL, got ${JSON.stringify(redactUrl(headscaleUrl))}`)
  const timeoutMs = num(hs, "timeout_ms") ?? DEFAULTS.headscaleTimeoutMs
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) {
    error("headscale.timeout_ms", `must be a whole number of milliseconds from 100 to 120000, got ${timeoutMs}`)
  }
  const apiKey = readApiKey(hs, files, error)

  // server
  const server = section(raw, "server")
  const listenText = str(server, "listen") ?? DEFAULTS.listen
  const listen = parseListen(listenText)
  if (listen === undefined) {
    error("server.listen", `must be "host:port" (IPv6 as "[::1]:3000"), got ${JSON.stringify(listenText)}`)
  }
  const proxyAuth = buildProxyAuth(section(server, "proxy_auth"), error, warn)
  // Judged on the raw flag, so the error shows even when other proxy_auth keys are invalid.
  if (section(server, "proxy_auth").enabled === true && Option.isNone(apiKey)) {
    error("headscale.api_key", "proxy authentication is enabled but no headscale.api_key (or headscale.api_key_path) is set; every Headscale call of a proxy-authenticated user uses that key")
  }

  // database
  const dbText = str(section(raw, "database"), "url") ?? DEFAULTS.databaseUrl
  const database = parseDatabaseUrl(dbText)
  if (database === undefined) {
    error("database.url", `must be "sqlite:<path>" or "postgres://user@host/db", got ${JSON.stringify(redactUrl(dbText))}`)
  }

  // telemetry
  const telemetry = section(raw, "telemetry")
  const otlpEndpoint = str(telemetry, "otlp_endpoint")
  if (otlpEndpoint !== undefined && !isHttpUrl(otlpEndpoint)) {
    error("telemetry.otlp_endpoint", `must be an http(s) URL, got ${JSON.stringify(redactUrl(otlpEndpoint))}`)
  }

  if (errors.length > 0 || proxyAuth === undefined || listen === undefined || database === undefined) {
    return { config: undefined, errors, warnings }
  }
  return {
    config: {
      headscale: { url: headscaleUrl.replace(/\/+$/, ""), apiKey, timeoutMs },
      server: { host: listen.host, port: listen.port, proxyAuth },
      database,
      telemetry: {
        otlpEndpoint,
        serviceName: str(telemetry, "service_name") ?? DEFAULTS.serviceName,
        exportIdentity: (telemetry.export_identity as boolean | undefined) ?? false
      },
      warnings
    },
    errors,
    warnings
  }
}

const readApiKey = (
  hs: RawTree,
  files: FileReader,
  error: (path: string, message: string) => void
): Option.Option<Redacted.Redacted<string>> => {
  const inline = str(hs, "api_key")
  const path = str(hs, "api_key_path")
  if (inline !== undefined && path !== undefined) {
    error("headscale.api_key_path", "set either headscale.api_key or headscale.api_key_path, not both")
    return Option.none()
  }
  let key = inline
  if (path !== undefined) {
    const read = files.readText(path)
    if (Either.isLeft(read)) {
      error("headscale.api_key_path", `cannot read ${JSON.stringify(path)}: ${read.left}`)
      return Option.none()
    }
    key = read.right
  }
  if (key === undefined) return Option.none()
  key = key.trim()
  const where = path !== undefined ? "headscale.api_key_path" : "headscale.api_key"
  if (key === "") {
    error(where, "the API key is empty")
    return Option.none()
  }
  // The key goes into an Authorization header: anything but visible ASCII would corrupt it.
  if (!/^[\x21-\x7e]+$/.test(key)) {
    error(where, "the API key contains spaces or characters that cannot be sent in a header")
    return Option.none()
  }
  return Option.some(Redacted.make(key))
}

const buildProxyAuth = (
  pa: RawTree,
  error: (path: string, message: string) => void,
  warn: (path: string, message: string) => void
): ProxyAuthConfig | undefined => {
  const base = "server.proxy_auth"
  const header = (key: string, fallback?: string): string | undefined => {
    const value = str(pa, key) ?? fallback
    if (value === undefined) return undefined
    if (!TOKEN.test(value)) {
      error(`${base}.${key}`, `${JSON.stringify(value)} is not a valid HTTP header name`)
      return undefined
    }
    if (isHttpOwnHeader(value)) {
      error(`${base}.${key}`, `"${value}" is a header HTTP itself defines, sent by the client and passed on by proxies: the client would choose its value; name a header only your proxy sets`)
      return undefined
    }
    if (value.includes("_")) {
      warn(`${base}.${key}`, `header name "${value}" contains "_": nginx drops such headers unless "underscores_in_headers on" is set`)
    }
    return value
  }
  const userHeader = header("user_header", DEFAULTS.userHeader)
  const emailHeader = header("email_header")
  const nameHeader = header("name_header")
  const pictureHeader = header("picture_header")
  const ipHeader = header("ip_header")

  const named = [
    ["user_header", userHeader],
    ["email_header", emailHeader],
    ["name_header", nameHeader],
    ["picture_header", pictureHeader],
    ["ip_header", ipHeader]
  ] as const
  const seen = new Map<string, string>()
  for (const [key, value] of named) {
    if (value === undefined) continue
    const other = seen.get(value.toLowerCase())
    if (other !== undefined) error(`${base}.${key}`, `"${value}" is already used by ${base}.${other}; each header must have one meaning`)
    else seen.set(value.toLowerCase(), key)
  }

  const cidrs = (key: string): CidrList | undefined => {
    const texts = list(pa, key) ?? LOCALHOST_CIDRS
    if (texts.length === 0) {
      error(`${base}.${key}`, "is empty; omit it for the localhost default, or name the addresses to trust")
      return undefined
    }
    const parsed: Array<Cidr> = []
    texts.forEach((text, i) => {
      const path = `${base}.${key}[${i}]`
      const result = parseCidr(text)
      if (Either.isLeft(result)) return error(path, `invalid CIDR ${JSON.stringify(text)}: ${result.left}`)
      const { cidr, hostBitsSet } = result.right
      if (hostBitsSet) warn(path, `"${text}" has host bits set; it is read as ${cidr.text}`)
      if (isCatchAll(cidr)) {
        warn(path, `"${text}" trusts every address${key === "allowed_cidrs" ? ": anyone who can reach Headtower can log in as any user" : " to supply the client IP header"}`)
      } else if (cidr.prefix < (cidr.family === 4 ? WIDE_IPV4_PREFIX : WIDE_IPV6_PREFIX)) {
        warn(path, `"${text}" is wider than /${cidr.family === 4 ? WIDE_IPV4_PREFIX : WIDE_IPV6_PREFIX}: a proxy is one address or a small subnet; several wide rules can add up to everyone`)
      }
      parsed.push(cidr)
    })
    return parsed.length === texts.length ? compileCidrs(parsed) : undefined
  }
  const allowedCidrs = cidrs("allowed_cidrs")
  const trustedProxyCidrs = cidrs("trusted_proxy_cidrs")
  if (allowedCidrs !== undefined && trustedProxyCidrs !== undefined) warnWideProxies(trustedProxyCidrs, allowedCidrs, warn)

  const modeText = str(pa, "ip_header_mode") ?? "first"
  const ipHeaderMode = IP_HEADER_MODES.find((m) => m === modeText)
  if (ipHeaderMode === undefined) {
    error(`${base}.ip_header_mode`, `must be one of ${IP_HEADER_MODES.join(", ")}, got ${JSON.stringify(modeText)}`)
  } else if (ipHeader !== undefined && ipHeaderMode === "first") {
    warn(`${base}.ip_header_mode`, `"first" trusts the first ${ipHeader} entry, which the client chooses unless your proxy overwrites the header; if it appends (nginx $proxy_add_x_forwarded_for, Traefik, Caddy), set ip_header_mode: rightmost_untrusted`)
  }

  const logoutUrl = str(pa, "logout_url")
  // Absolute only: a path such as "//evil.example/" is protocol-relative, another host.
  if (logoutUrl !== undefined && !isHttpUrl(logoutUrl)) {
    error(`${base}.logout_url`, `must be an absolute http(s) URL, got ${JSON.stringify(redactUrl(logoutUrl))}`)
  }
  const syncTtlSeconds = num(pa, "sync_ttl_seconds") ?? DEFAULTS.syncTtlSeconds
  if (!Number.isInteger(syncTtlSeconds) || syncTtlSeconds < 0 || syncTtlSeconds > 3600) {
    error(`${base}.sync_ttl_seconds`, `must be a whole number of seconds from 0 to 3600, got ${syncTtlSeconds}`)
  }

  if (userHeader === undefined || allowedCidrs === undefined || trustedProxyCidrs === undefined || ipHeaderMode === undefined) {
    return undefined
  }
  return {
    enabled: (pa.enabled as boolean | undefined) ?? false,
    userHeader,
    emailHeader,
    nameHeader,
    pictureHeader,
    allowedCidrs,
    ipHeader,
    ipHeaderMode,
    trustedProxyCidrs,
    logoutUrl,
    syncTtlSeconds
  }
}

/**
 * A trusted proxy rule covering more than proxies: wider than a /24 or /64, or containing an
 * allowed_cidrs network (then any host of the rule can claim that allowed address). The
 * catch-all and /8-wide rules already warned in `cidrs`.
 */
const warnWideProxies = (trusted: CidrList, allowed: CidrList, warn: (path: string, message: string) => void) =>
  trusted.cidrs.forEach((cidr, i) => {
    const path = `server.proxy_auth.trusted_proxy_cidrs[${i}]`
    if (isCatchAll(cidr) || cidr.prefix < (cidr.family === 4 ? WIDE_IPV4_PREFIX : WIDE_IPV6_PREFIX)) return
    const covered = allowed.cidrs.find((a) => a.family === cidr.family && a.prefix > cidr.prefix && a.network.match(cidr.network, cidr.prefix))
    if (covered !== undefined) {
      warn(path, `"${cidr.text}" contains allowed_cidrs' ${covered.text}: any host in ${cidr.text} can send an ip_header claiming that allowed address; list the proxies alone`)
    } else if (cidr.prefix < (cidr.family === 4 ? PROXY_IPV4_PREFIX : PROXY_IPV6_PREFIX)) {
      warn(path, `"${cidr.text}" is wider than /${cidr.family === 4 ? PROXY_IPV4_PREFIX : PROXY_IPV6_PREFIX}: every host in it may write the client IP; list the proxies alone`)
    }
  })

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

export const parseListen = (text: string): { host: string; port: number } | undefined => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (!match) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  return { host: (match[1] ?? match[2])!, port }
}

const parseDatabaseUrl = (text: string): DatabaseConfig | undefined => {
  if (text.startsWith("sqlite:")) {
    const path = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    return path === "" ? undefined : { kind: "sqlite", path }
  }
  if (/^postgres(ql)?:\/\//.test(text)) {
    try {
      new URL(text)
      return { kind: "postgres", url: Redacted.make(text) }
    } catch {
      return undefined
    }
  }
  return undefined
}
