import * as Command from "@effect/cli/Command"
import { Console, Effect, Option, Redacted } from "effect"
import YAML from "yaml"
import type { AppConfig } from "../domain/AppConfig.js"
import { MAX_LINE, printable, printableLines, redactUrl } from "../domain/display.js"
import { loadConfig } from "../services/Config.js"
import { configOption } from "./options.js"

/** The effective configuration in the file's own shape, defaults filled in, secrets redacted. */
export const effectiveConfig = (c: AppConfig) => {
  const pa = c.server.proxyAuth
  return {
    headscale: {
      url: redactUrl(c.headscale.url),
      api_key: Option.isSome(c.headscale.apiKey) ? "<redacted>" : null,
      timeout_ms: c.headscale.timeoutMs
    },
    server: {
      listen: c.server.host.includes(":") ? `[${c.server.host}]:${c.server.port}` : `${c.server.host}:${c.server.port}`,
      proxy_auth: {
        enabled: pa.enabled,
        user_header: pa.userHeader,
        email_header: pa.emailHeader ?? null,
        name_header: pa.nameHeader ?? null,
        picture_header: pa.pictureHeader ?? null,
        allowed_cidrs: pa.allowedCidrs.cidrs.map((x) => x.text),
        ip_header: pa.ipHeader ?? null,
        ip_header_mode: pa.ipHeaderMode,
        trusted_proxy_cidrs: pa.trustedProxyCidrs.cidrs.map((x) => x.text),
        logout_url: pa.logoutUrl === undefined ? null : redactUrl(pa.logoutUrl),
        sync_ttl_seconds: pa.syncTtlSeconds
      }
    },
    database: { url: c.database.kind === "sqlite" ? `sqlite:${c.database.path}` : redactUrl(Redacted.value(c.database.url)) },
    telemetry: {
      otlp_endpoint: c.telemetry.otlpEndpoint === undefined ? null : redactUrl(c.telemetry.otlpEndpoint),
      service_name: c.telemetry.serviceName,
      export_identity: c.telemetry.exportIdentity
    }
  }
}

export const checkConfigCommand = Command.make("check-config", { config: configOption }, ({ config: path }) =>
  Effect.gen(function* () {
    const config = yield* loadConfig(Option.getOrUndefined(path))
    yield* Console.log(printableLines(YAML.stringify(effectiveConfig(config)).trimEnd(), MAX_LINE))
    if (config.warnings.length === 0) return yield* Console.log("\n# no warnings")
    yield* Console.log(`\n# ${config.warnings.length} warning(s):`)
    for (const w of config.warnings) yield* Console.log(`#   ${printable(w.path)}: ${printable(w.message, MAX_LINE)}`)
  })
).pipe(Command.withDescription("print the effective configuration (secrets redacted) and its warnings; exit non-zero on errors"))
