import type { Option, Redacted } from "effect"
import type { CidrList } from "./Address.js"

/*
 * The validated configuration, as every service sees it. Produced once at start-up by the
 * Config service (src/services/Config.ts) from YAML and the environment.
 */

/**
 * How the `ip_header` names the client: `first` takes the first entry (the proxy overwrites
 * the header); `rightmost_untrusted` walks right to left past trusted proxies (the proxy
 * appends), as nginx `real_ip_recursive on` does.
 */
export type IpHeaderMode = "first" | "rightmost_untrusted"

export interface ProxyAuthConfig {
  readonly enabled: boolean
  /** Header names as configured (for messages); matching is case-insensitive. */
  readonly userHeader: string
  readonly emailHeader: string | undefined
  readonly nameHeader: string | undefined
  readonly pictureHeader: string | undefined
  readonly allowedCidrs: CidrList
  readonly ipHeader: string | undefined
  readonly ipHeaderMode: IpHeaderMode
  readonly trustedProxyCidrs: CidrList
  /** Where `/logout` sends the browser: the proxy's own logout. */
  readonly logoutUrl: string | undefined
  /** How long a known user with unchanged headers is served from memory (Grafana's sync_ttl). */
  readonly syncTtlSeconds: number
}

export interface HeadscaleConfig {
  readonly url: string
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly timeoutMs: number
}

export type DatabaseConfig =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: Redacted.Redacted<string> }

export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly proxyAuth: ProxyAuthConfig
}

export interface TelemetryConfig {
  /** OTLP/HTTP endpoint; spans are exported only when set. */
  readonly otlpEndpoint: string | undefined
  readonly serviceName: string
  /**
   * Whether spans carry the user's identity (their name at the identity provider) besides
   * their user id. Off by default: the user id identifies them to whoever can read the store.
   */
  readonly exportIdentity: boolean
}

export interface ConfigWarning {
  /** The key path the warning is about, e.g. `server.proxy_auth.allowed_cidrs[0]`. */
  readonly path: string
  readonly message: string
}

export interface AppConfig {
  readonly headscale: HeadscaleConfig
  readonly server: ServerConfig
  readonly database: DatabaseConfig
  readonly telemetry: TelemetryConfig
  readonly warnings: ReadonlyArray<ConfigWarning>
}
