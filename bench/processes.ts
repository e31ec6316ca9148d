import { execFileSync, spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { dirname, join } from "node:path"
import { freePort } from "../test/e2e/support/net.js"
import { pinned } from "./pinning.js"

/** Child processes for the HTTP measurements: each server in its own process, stopped by PID. */

/** The repository: the nearest directory above this file with a package.json (bench/ under tsx, dist/bench/bench/ compiled). */
const findRoot = (dir: string): string => (existsSync(join(dir, "package.json")) ? dir : findRoot(dirname(dir)))
export const ROOT = findRoot(import.meta.dirname)

export { freePort }

/**
 * Compiles what the servers run, as `npm start` does: src/ into dist/ (`npm run build`), and the
 * traced server and the reference servers (with the src/ they import) into dist/bench/, with the
 * same compiler options. Every server then runs as plain `node <file>.js`, none through tsx.
 */
export const build = () => {
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-b", "tsconfig.build.json", "bench/tsconfig.build.json"],
    {
      cwd: ROOT,
      stdio: "inherit"
    }
  )
}

/**
 * The Node flags `npm start` passes (package.json's start script, read so the two cannot drift):
 * Headtower servers in the bench run with them, the reference servers without.
 */
export const startFlags = (): ReadonlyArray<string> => {
  const start: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start
  const match = /\bnode((?: --[\w-]+(?:=\S+)?)*) dist\/main\.js serve$/.exec(start)
  if (match === null) {
    throw new Error(`package.json's start script is not "… node [flags] dist/main.js serve": ${start}`)
  }
  return match[1]!.split(" ").filter((flag) => flag !== "")
}

/** A compiled entry point: `dist/main.js`, or `dist/bench/bench/<file>.js` for a bench-only server. */
export const compiled = {
  main: join(ROOT, "dist", "main.js"),
  bench: (file: string) => join(ROOT, "dist", "bench", "bench", file)
}

/** One readiness probe; a server that accepts and never answers fails it after 2 s, so start-up cannot hang. */
const get = (port: number, path: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { "remote-user": "probe" }, timeout: 2_000 },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      }
    )
    req.on("timeout", () => req.destroy(new Error(`no answer to GET ${path} within 2 s`)))
    req.on("error", reject)
    req.end()
  })

export interface Server {
  readonly name: string
  readonly port: number
  readonly pid: number
  /** CPU time (user + system) the process has used so far, in ms, from /proc. */
  readonly cpuMs: () => number
  /** Resident set size and its peak, in MiB, from /proc. */
  readonly memory: () => { readonly rssMiB: number; readonly peakMiB: number }
  readonly stop: () => Promise<void>
}

/** Starts `node <args…> <port>`-style servers; `args` receives the port. Ready when `probePath` answers. */
export const startServer = async (
  name: string,
  args: (port: number) => ReadonlyArray<string>,
  probePath: string
): Promise<Server> => {
  const port = await freePort()
  const [command, pinnedArgs] = pinned("server", process.execPath, args(port))
  const child = spawn(command, pinnedArgs, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const pid = child.pid!
  const stop = async () => {
    if (child.exitCode !== null) return
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up:\n${stderr}`)
    if ((await get(port, probePath).catch(() => 0)) === 200) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${name} not ready after 60 s:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const memory = () => {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
    return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 }
  }
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
  const cpuMs = () => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  }
  return { name, port, pid, cpuMs, memory, stop }
}
