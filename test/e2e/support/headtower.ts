import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { stringify } from "yaml"
import { freePort, rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"
import { tlsRequest } from "./tlsClient.js"

export const E2E_API_KEY = "hskey-api-e2e-0123456789abcdef"

/** `server.proxy_auth` as written in the YAML file (snake_case keys, as users write them). */
export interface ProxyAuthYaml {
  readonly user_header?: string
  readonly email_header?: string
  readonly name_header?: string
  readonly picture_header?: string
  readonly groups_header?: string
  readonly groups_separator?: string
  /** Role → the proxy's groups that grant it, in precedence order. */
  readonly role_mapping?: Readonly<Record<string, ReadonlyArray<string>>>
  /** Defaults to 127.0.0.1 alone, so any other loopback address is a stranger. */
  readonly allowed_cidrs?: ReadonlyArray<string>
  readonly ip_header?: string
  readonly ip_header_mode?: "first" | "rightmost_untrusted"
  readonly trusted_proxy_cidrs?: ReadonlyArray<string>
  readonly logout_url?: string
  readonly sync_ttl_seconds?: number
  /** Verified identity assertions, as written (header, issuer, audience, jwks_url, …). */
  readonly assertion?: Readonly<Record<string, unknown>>
}

/** `server.tls` as written in the YAML file. */
export interface TlsYaml {
  readonly cert_file: string
  readonly key_file: string
  readonly client_ca_file?: string
  readonly allowed_client_names?: ReadonlyArray<string>
}

export interface Headtower {
  readonly name: string
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly logFile: string
  /** The captured stdout and stderr so far. */
  readonly log: () => string
  readonly hasExited: () => boolean
  readonly stop: () => Promise<void>
}

export interface HeadtowerOptions {
  readonly workDir: string
  readonly headscaleUrl: string
  readonly name?: string
  readonly proxyAuth?: ProxyAuthYaml
  /** `database.url`: `sqlite:…` or `postgres://…`; defaults to a SQLite file in workDir. */
  readonly databaseUrl?: string
  readonly headscaleTimeoutMs?: number
  /** Added to the inherited environment, from which every HEADTOWER_* variable is removed. */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Receives the stop function as soon as the process exists, before it is ready: a suite
   * whose beforeAll times out during start-up still stops it in afterAll.
   */
  readonly onSpawn?: (stop: () => Promise<void>) => void
  /** Run the compiled `dist/main.js`, as `npm start` does (build it first), instead of src/ under tsx. */
  readonly compiled?: boolean
  /** Serve HTTPS (and with client_ca_file, require the proxy's client certificate). */
  readonly tls?: TlsYaml
  /**
   * Another program to run instead of `headtower serve` (a backend that embeds it), run by
   * node under tsx with examples/tsconfig.json (which maps the package's names), and given the
   * generated config as HEADTOWER_CONFIG. It must answer GET /healthz.
   */
  readonly program?: string
}

const ROOT = join(import.meta.dirname, "..", "..", "..")

/**
 * Runs `headtower serve` as a real child process from a generated config: the same entry
 * point, config parser and socket a deployment uses. One process (node --import tsx), so its
 * PID is the server's own and stopping it leaves nothing behind. The generated file alone
 * decides: HEADTOWER_* variables (which the server reads as config) are not passed on.
 */
export const startHeadtower = async (options: HeadtowerOptions): Promise<Headtower> => {
  const name = options.name ?? "headtower"
  const port = await freePort()
  const configFile = join(options.workDir, `${name}.yaml`)
  const config = {
    headscale: {
      url: options.headscaleUrl,
      api_key: E2E_API_KEY,
      ...(options.headscaleTimeoutMs === undefined ? {} : { timeout_ms: options.headscaleTimeoutMs })
    },
    server: {
      listen: `127.0.0.1:${port}`,
      proxy_auth: {
        enabled: true,
        user_header: "Remote-User",
        email_header: "Remote-Email",
        name_header: "Remote-Name",
        picture_header: "Remote-Picture",
        allowed_cidrs: ["127.0.0.1/32"],
        ...options.proxyAuth
      },
      ...(options.tls === undefined ? {} : { tls: options.tls })
    },
    database: { url: options.databaseUrl ?? `sqlite:${join(options.workDir, `${name}.db`)}` }
  }
  writeFileSync(configFile, stringify(config))
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HEADTOWER_"))),
    ...options.env,
    ...(options.program === undefined
      ? {}
      : { HEADTOWER_CONFIG: configFile, TSX_TSCONFIG_PATH: join(ROOT, "examples", "tsconfig.json") })
  }
  const entry = options.compiled === true ? ["dist/main.js"] : ["--import", "tsx", "src/main.ts"]
  const args =
    options.program === undefined ? [...entry, "serve", "--config", configFile] : ["--import", "tsx", options.program]
  const started = startProcess(process.execPath, args, {
    cwd: ROOT,
    env,
    logFile: join(options.workDir, `${name}.log`)
  })
  options.onSpawn?.(() => started.stop())
  try {
    // Generous: several servers starting at once on a busy 2-core machine take a while.
    await waitUntilReady(
      name,
      started,
      async () =>
        (options.tls === undefined
          ? await rawRequest({ port, path: "/healthz" })
          : await tlsRequest({ port, path: "/healthz", ca: undefined })
        ).status === 200,
      120_000
    )
  } catch (error) {
    await started.stop()
    throw error
  }
  return {
    name,
    pid: started.pid,
    port,
    url: `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
    logFile: started.logFile,
    log: started.log,
    hasExited: started.hasExited,
    stop: () => started.stop()
  }
}
