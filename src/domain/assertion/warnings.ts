import type { AppConfig, ConfigWarning } from "../AppConfig.js"

const BASE = "server.proxy_auth"
const IDENTITY_HEADER_KEYS = ["user_header", "email_header", "name_header", "picture_header", "groups_header"] as const

/** Identity header keys written beside `assertion` are never read: say so, rather than let them mislead. */
export const assertionWarnings = (
  config: Omit<AppConfig, "warnings">,
  proxyAuthWritten: Readonly<Record<string, unknown>>
): Array<ConfigWarning> =>
  config.server.proxyAuth.assertion === undefined
    ? []
    : IDENTITY_HEADER_KEYS.filter((key) => proxyAuthWritten[key] !== undefined).map((key) => ({
        path: `${BASE}.${key}`,
        message: `ignored: assertion is configured, so the identity, profile and groups come from the signed token's claims only`
      }))
