import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pinSelfWithLoad } from "./pinning.js"
import { build, compiled, ROOT, startFlags, startServer } from "./processes.js"
import { round } from "./stats.js"
import { configYaml, tempDir } from "./store.js"
import { wrk } from "./wrk.js"

/*
 * `npm run bench:profile`: where a request's CPU goes. Headtower `serve` (compiled, `npm start`'s
 * flags, pinned like the HTTP bench) runs under `node --cpu-prof` while wrk sends `GET /api/me`,
 * then again for `GET /healthz`; only the samples taken during the measured wrk run count (V8's
 * profile clock is CLOCK_MONOTONIC, like process.hrtime here). Prints each function's self time
 * per request, the top of both, and what /api/me spends more. Profiles are kept in
 * bench/results/profile-<time>/ (not committed: a few MB each).
 */

const HEADERS = ["Remote-User: bench-user-0", "Remote-Email: bench-user-0@example.com"]
const WARMUP_SECONDS = 4
const SECONDS = Number(process.argv[2] ?? 15)
const TOP = 25

interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  }>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/** "function file:line", the file relative to node_modules or dist/ when it is in one. */
const frameName = ({ functionName, url, lineNumber }: CpuProfile["nodes"][number]["callFrame"]) =>
  `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^.*\/dist\//, "")}:${lineNumber + 1}`

/** Self time (µs) per function for the samples between `from` and `to`, divided by `requests`. */
const selfTimePerRequest = (profile: CpuProfile, from: number, to: number, requests: number) => {
  const names = new Map(profile.nodes.map((node) => [node.id, frameName(node.callFrame)]))
  const perFunction = new Map<string, number>()
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    const delta = profile.timeDeltas[i + 1] ?? 0
    if (at < from || at > to) continue
    const name = names.get(profile.samples[i]!)!
    perFunction.set(name, (perFunction.get(name) ?? 0) + delta / requests)
  }
  perFunction.delete("(idle) :0")
  return perFunction
}

const profileRoute = async (dir: string, out: string, path: string) => {
  const name = path.replace(/\W/g, "") || "root"
  const configFile = join(dir, `${name}.yaml`)
  const profileDir = join(out, name)
  const server = await startServer(
    `headtower ${path} (profiled)`,
    (port) => {
      writeFileSync(
        configFile,
        configYaml({ dbPath: join(dir, `${name}.db`), syncTtl: 10, listen: `127.0.0.1:${port}` })
      )
      return [
        ...startFlags(),
        "--cpu-prof",
        `--cpu-prof-dir=${profileDir}`,
        compiled.main,
        "serve",
        "--config",
        configFile
      ]
    },
    "/healthz"
  )
  const url = `http://127.0.0.1:${server.port}${path}`
  let measured
  try {
    await wrk({ url, seconds: WARMUP_SECONDS, connections: 64, headers: HEADERS })
    const from = nowUs()
    measured = await wrk({ url, seconds: SECONDS, connections: 64, headers: HEADERS })
    measured = { ...measured, from, to: nowUs() }
  } finally {
    await server.stop()
  }
  const file = readdirSync(profileDir).find((f) => f.endsWith(".cpuprofile"))!
  const profile: CpuProfile = JSON.parse(readFileSync(join(profileDir, file), "utf8"))
  const perFunction = selfTimePerRequest(profile, measured.from, measured.to, measured.requests)
  const total = [...perFunction.values()].reduce((sum, us) => sum + us, 0)
  return { path, requests: measured.requests, errors: measured.errors, total, perFunction }
}

type Profiled = Awaited<ReturnType<typeof profileRoute>>

const table = (rows: ReadonlyArray<readonly [string, number]>) =>
  ["| µs/request | function |", "|---:|---|", ...rows.map(([name, us]) => `| ${round(us, 2)} | \`${name}\` |`)].join(
    "\n"
  )

const top = (profiled: Profiled) =>
  `GET ${profiled.path}: ${round(profiled.total, 1)} µs of CPU per request while profiled (${profiled.requests} requests${
    profiled.errors ? `, ${profiled.errors} errors` : ""
  })\n\n${table([...profiled.perFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP))}`

const main = async () => {
  console.error("building the server (tsc)…")
  build()
  pinSelfWithLoad()
  const tmp = tempDir()
  const out = join(ROOT, "bench", "results", `profile-${new Date().toISOString().replace(/[:.]/g, "-")}`)
  mkdirSync(out, { recursive: true })
  try {
    const me = await profileRoute(tmp.dir, out, "/api/me")
    const health = await profileRoute(tmp.dir, out, "/healthz")
    const names = new Set([...me.perFunction.keys(), ...health.perFunction.keys()])
    const more = [...names]
      .map((name) => [name, (me.perFunction.get(name) ?? 0) - (health.perFunction.get(name) ?? 0)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
    console.log(
      `${top(me)}\n\n${top(health)}\n\nWhat GET /api/me spends more than GET /healthz, by function:\n\n${table(more)}`
    )
    console.log(`\nprofiles in ${out}`)
  } finally {
    tmp.remove()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
