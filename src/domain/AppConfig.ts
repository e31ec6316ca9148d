import { Option, Schema } from "effect"
import { LOCALHOST_CIDRS } from "./Address.js"
import { AssertionSection } from "./assertion/config.js"
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
import { GroupsSeparator, RoleMapping } from "./config/roleMapping.js"
import { TlsSection } from "./config/tls.js"

/*
 * The configuration, described once: every key of the file (its name, type, default, checks
 * and the value the services receive). Loading (src/domain/config/parse.ts) derives the rest
 * from this description: unknown keys and their "did you mean", environment overrides, the
 * messages with their key paths, and what `check-config` prints. Relations between keys and
 * warnings are judged in src/domain/config/rules.ts.
 */

export const DEFAULT_USER_HEADER = "Remote-User"

const ProxyAuth = Schema.Struct({
  enabled: key("enabled", Flag, false),
  /** Header names as configured (for messages); matching is case-insensitive. */
  userHeader: key("user_header", HeaderName, DEFAULT_USER_HEADER),
  emailHeader: optionalKey("email_header", HeaderName),
  nameHeader: optionalKey("name_header", HeaderName),
  pictureHeader: optionalKey("picture_header", HeaderName),
  /** The proxy's groups, `groupsSeparator`-separated; absent leaves roles as they are (src/domain/roleMapping.ts). */
  groupsHeader: optionalKey("groups_header", HeaderName),
  groupsSeparator: key("groups_separator", GroupsSeparator, ","),
  /** Role → groups, in precedence order; undefined when roles are left to the Users page. */
  roleMapping: optionalKey("role_mapping", RoleMapping),
  /**
   * How the proxy encodes non-ASCII header values: `none` (raw UTF-8), or `rfc2047`
   * encoded-words (`tailscale serve`'s Tailscale-User-Login and Tailscale-User-Name).
   */
  headerEncoding: key("header_encoding", oneOf("none", "rfc2047"), "none"),
  allowedCidrs: key("allowed_cidrs", Cidrs, LOCALHOST_CIDRS),
  ipHeader: optionalKey("ip_header", HeaderName),
  /**
   * How the `ip_header` names the client: `first` takes the first entry (the proxy overwrites
   * the header); `rightmost_untrusted` walks right to left past trusted proxies (the proxy
   * appends), as nginx `real_ip_recursive on` does.
   */
  ipHeaderMode: key("ip_header_mode", oneOf("first", "rightmost_untrusted"), "first"),
  trustedProxyCidrs: key("trusted_proxy_cidrs", Cidrs, LOCALHOST_CIDRS),
  /** Where `/logout` sends the browser: the proxy's own logout. */
  logoutUrl: optionalKey("logout_url", LogoutUrl),
  /** How long a known user with unchanged headers is served from memory (Grafana's sync_ttl). */
  syncTtlSeconds: key("sync_ttl_seconds", wholeNumber(0, 3600, "seconds"), 10),
  /** Verified identity assertions (signed JWTs) instead of identity headers; undefined when not written. */
  assertion: section("assertion", AssertionSection)
})

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
    decode: ({ apiKey, apiKeyPath, timeoutMs, url }) => ({
      url,
      apiKey: Option.fromNullable(apiKey ?? apiKeyPath),
      timeoutMs
    }),
    encode: ({ apiKey, timeoutMs, url }) => ({ url, apiKey: Option.getOrUndefined(apiKey), timeoutMs })
  }
)

const Server = Schema.transform(
  Schema.Struct({
    /** `host:port`; IPv6 as `[::1]:3000`. */
    listen: key("listen", Listen, "127.0.0.1:3000"),
    proxyAuth: section("proxy_auth", ProxyAuth),
    /** HTTPS, and the proxy's client certificate (src/domain/config/tls.ts). */
    tls: section("tls", TlsSection)
  }),
  Schema.Struct({
    host: Schema.String,
    port: Schema.Number,
    proxyAuth: Schema.typeSchema(ProxyAuth),
    tls: Schema.typeSchema(TlsSection)
  }),
  {
    strict: true,
    decode: ({ listen, proxyAuth, tls }) => ({ ...listen, proxyAuth, tls }),
    encode: ({ host, port, proxyAuth, tls }) => ({ listen: { host, port }, proxyAuth, tls })
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
  serviceName: key("service_name", Text, "headtower"),
  /**
   * Whether spans carry the user's identity (their name at the identity provider) besides
   * their user id. Off by default: the user id identifies them to whoever can read the store.
   */
  exportIdentity: key("export_identity", Flag, false)
})

/** The file's shape (`Encoded`) and the validated configuration every service sees (`Type`). */
export const ConfigSchema = Schema.Struct({
  headscale: Headscale,
  server: Server,
  database: DatabaseSection,
  telemetry: Telemetry
})

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
export type ProxyAuthConfig = AppConfig["server"]["proxyAuth"]
export type DatabaseConfig = AppConfig["database"]
export type TelemetryConfig = AppConfig["telemetry"]
export type TlsConfig = AppConfig["server"]["tls"]
