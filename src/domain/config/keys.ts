/*
 * Every configuration key Headtower knows, as a tree. Unknown keys are start-up errors
 * (a typo such as `allowed_cidr` would otherwise silently fall back to a default), and this
 * tree is what environment variables map onto.
 */
export type KeyKind = "string" | "boolean" | "number" | "list" | "section"

export interface KeyTree {
  readonly [key: string]: KeyKind | KeyTree
}

export const CONFIG_KEYS: KeyTree = {
  headscale: {
    url: "string",
    api_key: "string",
    api_key_path: "string",
    timeout_ms: "number"
  },
  server: {
    listen: "string",
    proxy_auth: {
      enabled: "boolean",
      user_header: "string",
      email_header: "string",
      name_header: "string",
      picture_header: "string",
      allowed_cidrs: "list",
      ip_header: "string",
      ip_header_mode: "string",
      trusted_proxy_cidrs: "list",
      logout_url: "string",
      sync_ttl_seconds: "number"
    }
  },
  database: {
    url: "string"
  },
  telemetry: {
    otlp_endpoint: "string",
    service_name: "string",
    export_identity: "boolean"
  }
}
