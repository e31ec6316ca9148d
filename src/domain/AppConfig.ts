import { Option, Schema } from "effect"
import { LOCALHOST_CIDRS } from "./Address.js"
import {
  ApiKey,
  BaseUrl,
  Cidrs,
  DatabaseConfig as Database,
  DatabaseUrl,
  FileText,
  Flag,
  HeaderName,
  HttpUrl,
  key,
  Listen,
  LogoutUrl,
  oneOf,
  optionalKey,
  section,
  Text,
  wholeNumber
} from "./config/fields.js"

/*
 * The configuration, described once: every key of the file (its name, type, default, checks
 * and the value the services receive). Loading (src/domain/config/parse.ts) derives the rest
 * from this description: unknown keys and their "did you mean", environment overrides, the
 * messages with their key paths, and what `check-config` prints.
 */


/**
 * How the `ip_header` names the client: `first` takes the first entry (the proxy overwrites
 * the header); `rightmost_untrusted` walks right to left past trusted proxies (the proxy
 * appends), as nginx `real_ip_recursive on` does.
 */
const IpHeaderModeSchema = oneOf("first", "rightmost_untrusted")

const DEFAULT_USER_HEADER = "Remote-User"

const ProxyAuth = Schema.Struct({
  enabled: key("enabled", Flag, false),
  /** Header names as configured (for messages); matching is case-insensitive. */
  userHeader: key("user_header", HeaderName, DEFAULT_USER_HEADER),
  emailHeader: optionalKey("email_header", HeaderName),
  nameHeader: optionalKey("name_header", HeaderName),
  pictureHeader: optionalKey("picture_header", HeaderName),
  allowedCidrs: key("allowed_cidrs", Cidrs, LOCALHOST_CIDRS),
  ipHeader: optionalKey("ip_header", HeaderName),
  ipHeaderMode: key("ip_header_mode", IpHeaderModeSchema, "first"),
  trustedProxyCidrs: key("trusted_proxy_cidrs", Cidrs, LOCALHOST_CIDRS),
  /** Where `/logout` sends the browser: the proxy's own logout. */
  logoutUrl: optionalKey("logout_url", LogoutUrl),
  /** How long a known user with unchanged headers is served from memory (Grafana's sync_ttl). */
  syncTtlSeconds: key("sync_ttl_seconds", wholeNumber(0, 3600, "seconds"), 10)
})

/** The keys that name a header a proxy sends, in the file's order. */
const HEADER_KEYS = ["user_header", "email_header", "name_header", "picture_header", "ip_header"] as const

/** The header names a proxy sends, by key, in the file's order. */
export const headersOf = (pa: typeof ProxyAuth.Type) =>
  [
    ["user_header", pa.userHeader],
    ["email_header", pa.emailHeader],
    ["name_header", pa.nameHeader],
    ["picture_header", pa.pictureHeader],
    ["ip_header", pa.ipHeader]
  ] as const

const Headscale = Schema.transform(
  Schema.Struct({
    /** Headscale's HTTP API. */
    url: key("url", BaseUrl, "http://127.0.0.1:8080"),
    apiKey: optionalKey("api_key", ApiKey),
    apiKeyPath: optionalKey("api_key_path", Schema.compose(FileText, ApiKey)),
    timeoutMs: key("timeout_ms", wholeNumber(100, 120_000, "milliseconds"), 5_000)
  }),
  Schema.Struct({
    url: Schema.String,
    apiKey: Schema.OptionFromSelf(Schema.RedactedFromSelf(Schema.String)),
    timeoutMs: Schema.Number
  }),
  {
    strict: true,
    decode: ({ apiKey, apiKeyPath, timeoutMs, url }) => ({ url, apiKey: Option.fromNullable(apiKey ?? apiKeyPath), timeoutMs }),
    encode: ({ apiKey, timeoutMs, url }) => ({ url, apiKey: Option.getOrUndefined(apiKey), timeoutMs })
  }
)

const Server = Schema.transform(
  Schema.Struct({
    /** `host:port`; IPv6 as `[::1]:3000`. */
    listen: key("listen", Listen, "127.0.0.1:3000"),
    proxyAuth: section("proxy_auth", ProxyAuth)
  }),
  Schema.Struct({ host: Schema.String, port: Schema.Number, proxyAuth: Schema.typeSchema(ProxyAuth) }),
  {
    strict: true,
    decode: ({ listen, proxyAuth }) => ({ host: listen.host, port: listen.port, proxyAuth }),
    encode: ({ host, port, proxyAuth }) => ({ listen: { host, port }, proxyAuth })
  }
)

const DatabaseSection = Schema.transform(
  Schema.Struct({ url: key("url", DatabaseUrl, "sqlite:./data/headtower.db") }),
  Schema.typeSchema(Database),
  { strict: true, decode: ({ url }) => url, encode: (url) => ({ url }) }
)

const Telemetry = Schema.Struct({
  /** OTLP/HTTP endpoint; spans are exported only when set. */
  otlpEndpoint: optionalKey("otlp_endpoint", HttpUrl),
  serviceName: key("service_name", Text, "headtower")
})

/** The file's shape (`Encoded`) and the validated configuration every service sees (`Type`). */
export const ConfigSchema = Schema.Struct({
  headscale: Headscale,
  server: Server,
  database: DatabaseSection,
  telemetry: Telemetry
})

/** A section as written (normalised: every section is a mapping). */
type Written = Readonly<Record<string, unknown>>

/** A header has one meaning: each later key naming an earlier key's header (in any case) is an error. */
const oneMeaningPerHeader = (pa: Written): Array<ConfigIssue> => {
  const named = HEADER_KEYS.map((key) => [key, key === "user_header" ? (pa[key] ?? DEFAULT_USER_HEADER) : pa[key]] as const)
  return named.flatMap(([key, name], i) => {
    if (typeof name !== "string") return []
    const first = named.findIndex(([, other]) => typeof other === "string" && other.toLowerCase() === name.toLowerCase())
    if (first === i) return []
    const message = `"${name}" is already used by server.proxy_auth.${named[first]![0]}; each header must have one meaning`
    return [{ path: `server.proxy_auth.${key}`, message }]
  })
}

/**
 * Relations between keys, judged on what was written so they are reported together with every
 * other error (a schema's check of a whole section runs only once each of its keys is valid).
 */
export const relations = (written: Written): Array<ConfigIssue> => {
  const headscale = written.headscale as Written
  const proxyAuth = (written.server as Written).proxy_auth as Written
  const issues = oneMeaningPerHeader(proxyAuth)
  const keyWritten = headscale.api_key !== undefined || headscale.api_key_path !== undefined
  if (headscale.api_key !== undefined && headscale.api_key_path !== undefined) {
    issues.push({ path: "headscale.api_key_path", message: "set either headscale.api_key or headscale.api_key_path, not both" })
  }
  if (proxyAuth.enabled === true && !keyWritten) {
    issues.push({
      path: "headscale.api_key",
      message:
        "proxy authentication is enabled but no headscale.api_key (or headscale.api_key_path) is set; every Headscale call of a proxy-authenticated user uses that key"
    })
  }
  return issues
}

export interface ConfigIssue {
  /** Key path such as `server.proxy_auth.allowed_cidrs[1]`, or a variable's name. */
  readonly path: string
  readonly message: string
}
/** An issue that does not stop start-up. */
export type ConfigWarning = ConfigIssue

/** The validated configuration, produced once at start-up by the Settings service. */
export interface AppConfig extends Schema.Schema.Type<typeof ConfigSchema> {
  readonly warnings: ReadonlyArray<ConfigWarning>
}
export type HeadscaleConfig = AppConfig["headscale"]
export type ServerConfig = AppConfig["server"]
export type ProxyAuthConfig = ServerConfig["proxyAuth"]
export type IpHeaderMode = ProxyAuthConfig["ipHeaderMode"]
export type DatabaseConfig = AppConfig["database"]
export type TelemetryConfig = AppConfig["telemetry"]
