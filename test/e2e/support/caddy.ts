import { execFile } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"

const run = promisify(execFile)
const CADDY = process.env["E2E_CADDY"] ?? "/usr/bin/caddy"

/** A bcrypt hash for Caddy's basic auth, from Caddy itself (about a second each: run them concurrently). */
export const caddyPasswordHash = async (password: string): Promise<string> =>
  (await run(CADDY, ["hash-password", "--plaintext", password], { encoding: "utf8" })).stdout.trim()

export interface Caddy {
  readonly logFile: string
  readonly stop: () => Promise<void>
}

/**
 * A real Caddy from a generated Caddyfile. HOME and XDG dirs point into `workDir` so Caddy
 * writes no state outside it; the Caddyfile itself should say `admin off` and `auto_https off`
 * so parallel runs never fight over the admin port or try to reach an ACME server.
 */
export const startCaddy = async (options: {
  readonly workDir: string
  readonly caddyfile: string
  readonly readyPort: number
  /** The subdirectory of `workDir`, when one file runs several Caddys. */
  readonly name?: string
}): Promise<Caddy> => {
  const dir = join(options.workDir, options.name ?? "caddy")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, "Caddyfile")
  writeFileSync(file, options.caddyfile)
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") }
  const started = startProcess(CADDY, ["run", "--config", file, "--adapter", "caddyfile"], {
    env,
    logFile: join(dir, "caddy.log")
  })
  try {
    await waitUntilReady("caddy", started, async () => {
      await rawRequest({ port: options.readyPort, path: "/__caddy_ready" })
      return true
    })
  } catch (error) {
    await started.stop()
    throw error
  }
  return { logFile: started.logFile, stop: () => started.stop() }
}
