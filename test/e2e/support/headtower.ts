import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { stringify } from "yaml"
import { freePort, rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"

export const E2E_API_KEY = "hskey-api-e2e-0123456789abcdef"

/** `server.proxy_auth` as written in the YAML file (snake_case keys, as users write them). */
export interface ProxyAuthYaml {
  readonly user_header?: string
  readonly email_header?: string
  readonly name_header?: string
  readonly picture_header?: string
  readonly allowed_cidrs: ReadonlyArray<string>
  readonly ip_header?: string
  readonly ip_header_mode?: "first" | "rightmost_untrusted"
  readonly trusted_proxy_cidrs?: ReadonlyArray<string>
  readonly logout_url?: string
}

export interface Headtower {
  readonly port: number
  readonly url: string
  readonly logFile: string
  readonly stop: () => Promise<void>
}

const ROOT = join(import.meta.dirname, "..", "..", "..")

/** Headtower reads HEADTOWER_* variables as config: the generated file alone must decide. */
const hermeticEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HEADTOWER_")))

/**
 * Runs `headtower serve` as a real child process from a generated config: the same entry
 * point, config parser and socket a deployment uses. One process (node --import tsx), so its
 * PID is the server's own and stopping it leaves nothing behind.
 */
export const startHeadtower = async (options: {
  readonly workDir: string
  readonly headscaleUrl: string
  readonly proxyAuth: ProxyAuthYaml
  readonly name?: string
}): Promise<Headtower> => {
  const name = options.name ?? "headtower"
  const port = await freePort()
  const configFile = join(options.workDir, `${name}.yaml`)
  const config = {
    headscale: { url: options.headscaleUrl, api_key: E2E_API_KEY },
    server: {
      listen: `127.0.0.1:${port}`,
      proxy_auth: {
        enabled: true,
        user_header: "Remote-User",
        email_header: "Remote-Email",
        name_header: "Remote-Name",
        picture_header: "Remote-Picture",
        ...options.proxyAuth
      }
    },
    database: { url: `sqlite:${join(options.workDir, `${name}.db`)}` }
  }
  writeFileSync(configFile, stringify(config))
  const started = startProcess(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--config", configFile], {
    cwd: ROOT,
    env: hermeticEnv(),
    logFile: join(options.workDir, `${name}.log`)
  })
  try {
    await waitUntilReady(name, started, async () => (await rawRequest({ port, path: "/healthz" })).status === 200, 45_000)
  } catch (error) {
    await started.stop()
    throw error
  }
  return { port, url: `http://127.0.0.1:${port}`, logFile: started.logFile, stop: () => started.stop() }
}
