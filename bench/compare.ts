import { execFileSync, execSync } from "node:child_process"
import { symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { roundOrder, serverCpuPerRequest } from "./http.js"
import { compiled, ROOT, type Server, startFlags, startServer } from "./processes.js"
import { pinSelfWithLoad } from "./pinning.js"
import { median, round } from "./stats.js"
import { configYaml, tempDir } from "./store.js"

/*
 * `npm run bench:compare -- <git revision> [rounds]`: this tree against an earlier revision, in
 * one run with the two interleaved, so a busy machine slows both alike (separate `npm run bench`
 * runs minutes apart differed by 30% on this machine with nothing changed). The revision is
 * exported with `git archive` and built with this tree's node_modules. Prints, per build: cached
 * authenticate and first logins per CPU-second (each run in a fresh process, builds alternating),
 * and server CPU per request of GET /api/me and /healthz, with Express 5 as the common yardstick.
 */

const [revision, roundsArg] = process.argv.slice(2)
if (revision === undefined) throw new Error("usage: npm run bench:compare -- <git revision> [rounds]")
const rounds = Number(roundsArg ?? 5)

/** `revision` exported and compiled (src and bench) next to this tree's node_modules. */
const buildRevision = (dir: string) => {
  execSync(`git archive ${revision} | tar -x -C ${dir}`, { cwd: ROOT })
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"))
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc")
  execFileSync(process.execPath, [tsc, "-b", "tsconfig.build.json", "bench/tsconfig.build.json"], { cwd: dir })
}

/** One in-process figure of the build at `root`, in a fresh process. */
const inProcess = (root: string, what: "cached" | "firstLogins"): number => {
  const module = join(root, "dist", "bench", "bench", "inProcess.js")
  const program = `const m = await import(${JSON.stringify(module)});
    const r = ${
      what === "cached"
        ? "(await m.benchCachedAuthenticate({ traced: false, runs: 3, calls: 100000 })).opsPerCpuSecond"
        : "(await m.benchProvisioning({ warmupRuns: 2, runs: 3, count: 3000 })).usersPerCpuSecond"
    };
    console.log(r)`
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", program], { encoding: "utf8" }))
}

const headtower = (name: string, dir: string, root: string) =>
  startServer(
    name,
    (port) => {
      const file = join(dir, `${name}.yaml`)
      writeFileSync(file, configYaml({ dbPath: join(dir, `${name}.db`), syncTtl: 10, listen: `127.0.0.1:${port}` }))
      return [...startFlags(), join(root, "dist", "main.js"), "serve", "--config", file]
    },
    "/healthz"
  )

/** Server CPU µs per request of `path`, `seconds` of wrk at concurrency 64. */
const cpuPerRequest = async (server: Server, path: string, seconds: number) =>
  (await serverCpuPerRequest(server, path, seconds)).serverCpuUsPerRequest

const main = async () => {
  const tmp = tempDir()
  const servers: Array<Server> = []
  try {
    console.error(`building ${revision} and this tree…`)
    buildRevision(tmp.dir)
    const builds = { [revision]: tmp.dir, "this tree": ROOT }
    const figures = new Map<string, Array<number>>()
    const note = (key: string, value: number) => figures.set(key, [...(figures.get(key) ?? []), value])

    console.error("in process: cached authenticate, first logins…")
    for (let r = 0; r < rounds; r++) {
      for (const [name, root] of Object.entries(builds)) {
        note(`${name}: cached authenticate (ops per CPU-second)`, inProcess(root, "cached"))
        note(`${name}: first logins (users per CPU-second)`, inProcess(root, "firstLogins"))
      }
    }

    console.error("HTTP, servers on their own core, targets interleaved…")
    pinSelfWithLoad()
    const targets: Array<[string, Server, string]> = []
    for (const [name, root] of Object.entries(builds)) {
      const server = await headtower(name.replace(/\W/g, "-"), tmp.dir, root)
      servers.push(server)
      targets.push([`${name}: GET /api/me (CPU µs/request)`, server, "/api/me"])
      targets.push([`${name}: GET /healthz (CPU µs/request)`, server, "/healthz"])
    }
    const express = await startServer(
      "express",
      (port) => [compiled.bench("references/express.js"), String(port)],
      "/api/me"
    )
    servers.push(express)
    targets.push(["Express 5: GET /api/me (CPU µs/request)", express, "/api/me"])
    for (const [, server, path] of targets) await cpuPerRequest(server, path, 3)
    for (let r = 0; r < rounds; r++) {
      for (const [key, server, path] of roundOrder(targets, r)) note(key, await cpuPerRequest(server, path, 6))
    }

    const m = (key: string) => median(figures.get(key)!)
    for (const [key, values] of figures)
      console.log(`${key}: ${round(m(key), 0)}  (rounds: ${values.map((v) => round(v, 0)).join(", ")})`)
    for (const name of Object.keys(builds)) {
      const me = m(`${name}: GET /api/me (CPU µs/request)`)
      console.log(
        `${name}: /api/me ÷ /healthz CPU ${round((me / m(`${name}: GET /healthz (CPU µs/request)`)) * 100, 1)}%; Express ÷ /api/me ${round((m("Express 5: GET /api/me (CPU µs/request)") / me) * 100, 0)}%`
      )
    }
  } finally {
    for (const server of servers) await server.stop()
    tmp.remove()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
