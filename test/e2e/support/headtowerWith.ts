import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { stringify } from "yaml"
import { E2E_API_KEY } from "./headtower.js"
import { freePort, rawRequest } from "./net.js"
import { startProcess, waitUntilReady } from "./process.js"

/*
 * `startHeadtower` with the whole config in the caller's hands (timeouts, sync TTL, database
 * path) and the child's PID exposed, for fault and soak runs that tune what the e2e suites
 * leave at their defaults and read the server's memory from /proc.
 */

export interface HeadtowerProcess {
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
  /** The SQLite file; the directory need not exist (the server creates it). */
  readonly databasePath: string
  readonly timeoutMs?: number
  readonly syncTtlSeconds?: number
  readonly allowedCidrs?: ReadonlyArray<string>
  readonly name?: string
}

const ROOT = join(import.meta.dirname, "..", "..", "..")

/** Headtower reads HEADTOWER_* variables as config: the generated file alone must decide. */
const hermeticEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("HEADTOWER_")))

export const startHeadtowerWith = async (options: HeadtowerOptions): Promise<HeadtowerProcess> => {
  const name = options.name ?? "headtower"
  const port = await freePort()
  const configFile = join(options.workDir, `${name}.yaml`)
  const config = {
    headscale: {
      url: options.headscaleUrl,
      api_key: E2E_API_KEY,
      ...(options.timeoutMs === undefined ? {} : { timeout_ms: options.timeoutMs })
    },
    server: {
      listen: `127.0.0.1:${port}`,
      proxy_auth: {
        enabled: true,
        user_header: "Remote-User",
        email_header: "Remote-Email",
        name_header: "Remote-Name",
        allowed_cidrs: options.allowedCidrs ?? ["127.0.0.1/32"],
        ...(options.syncTtlSeconds === undefined ? {} : { sync_ttl_seconds: options.syncTtlSeconds })
      }
    },
    database: { url: `sqlite:${options.databasePath}` }
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
  return {
    pid: started.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    logFile: started.logFile,
    log: started.log,
    hasExited: started.hasExited,
    stop: () => started.stop()
  }
}
