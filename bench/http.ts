import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { compiled, type Server, startFlags, startServer } from "./processes.js"
import { median } from "./stats.js"
import { benchIdentity, configYaml, populate, servicesRuntime } from "./store.js"
import { wrk, type WrkResult } from "./wrk.js"

/*
 * HTTP throughput at concurrency 64, every target measured in the same run, interleaved
 * (round 1 of every target, then round 2, ...) so a noisy neighbour hits them all alike.
 * Every request carries the same proxy headers, including those that skip auth.
 *
 * The targets compared by a target ratio sit next to each other (/healthz, /api/me, Express),
 * so each round's ratio is of two windows seconds apart: this host's speed drifts by up to 2×
 * within a minute, and a ratio of windows 30 s apart swung by ±10 points. Odd rounds run in
 * reverse order: the first window on a server after its core ran other servers costs a few
 * percent more than the next (forward rounds, /healthz first, gave no-auth ÷ /api/me 94, 88,
 * 94, 89; reversed rounds 82, 88, 84, 88, even after 1 s of unmeasured load), and before this
 * /api/me was always that first window.
 */

const HEADERS = ["Remote-User: bench-user-0", "Remote-Email: bench-user-0@example.com"]

const headtower = (name: string, dir: string, entry: ReadonlyArray<string>) => {
  const configFile = join(dir, `${name}.yaml`)
  return startServer(
    name,
    (port) => {
      writeFileSync(
        configFile,
        configYaml({ dbPath: join(dir, `${name}.db`), syncTtl: 10, listen: `127.0.0.1:${port}` })
      )
      return [...startFlags(), ...entry, configFile]
    },
    "/healthz"
  )
}

export interface Target {
  readonly name: string
  readonly server: Server
  readonly path: string
}

export interface TargetResult extends WrkResult {
  readonly name: string
  /** Server CPU time per answered request: robust to other load on the machine, unlike req/s. */
  readonly serverCpuUsPerRequest: number
  /** The same, round by round (the median above is over these; ratios pair rounds). */
  readonly serverCpuUsPerRequestByRound: ReadonlyArray<number>
}

interface Sample extends WrkResult {
  readonly serverCpuUsPerRequest: number
}

/** `seconds` of wrk on `server`'s `path`, and the server's CPU time per answered request meanwhile. */
export const serverCpuPerRequest = async (server: Server, path: string, seconds: number): Promise<Sample> => {
  const cpuBefore = server.cpuMs()
  const result = await wrk({
    url: `http://127.0.0.1:${server.port}${path}`,
    seconds,
    connections: 64,
    headers: HEADERS
  })
  return { ...result, serverCpuUsPerRequest: ((server.cpuMs() - cpuBefore) * 1000) / result.requests }
}

/** Odd rounds visit the targets in reverse, so none is always the first window after the others. */
export const roundOrder = <A>(targets: ReadonlyArray<A>, round: number): ReadonlyArray<A> =>
  round % 2 === 0 ? targets : [...targets].reverse()

export const benchHttp = async (options: { dir: string; rounds: number; seconds: number; warmupSeconds: number }) => {
  const servers: Array<Server> = []
  try {
    const main = await headtower("headtower", options.dir, [compiled.main, "serve", "--config"])
    servers.push(main)
    const traced = await headtower("headtower-traced", options.dir, [compiled.bench("serveTraced.js")])
    servers.push(traced)
    const bare = await startServer(
      "node:http",
      (port) => [compiled.bench("references/bare.js"), String(port)],
      "/api/me"
    )
    servers.push(bare)
    const express = await startServer(
      "express",
      (port) => [compiled.bench("references/express.js"), String(port)],
      "/api/me"
    )
    servers.push(express)
    const targets: ReadonlyArray<Target> = [
      { name: "Headtower GET /healthz (no auth)", server: main, path: "/healthz" },
      { name: "Headtower GET /api/me (proxy auth)", server: main, path: "/api/me" },
      { name: "Express 5, same check (peer)", server: express, path: "/api/me" },
      { name: "node:http, same check (floor)", server: bare, path: "/api/me" },
      { name: "Headtower GET /api/me, spans recorded (no exporter)", server: traced, path: "/api/me" }
    ]
    const run = (target: Target, seconds: number) => serverCpuPerRequest(target.server, target.path, seconds)
    for (const target of targets) await run(target, options.warmupSeconds)
    const samples = new Map<string, Array<Sample>>(targets.map((t) => [t.name, []]))
    for (let round = 0; round < options.rounds; round++) {
      for (const target of roundOrder(targets, round))
        samples.get(target.name)!.push(await run(target, options.seconds))
    }
    return targets.map((t): TargetResult => {
      const runs = samples.get(t.name)!
      return {
        name: t.name,
        requests: runs.reduce((sum, r) => sum + r.requests, 0),
        requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
        serverCpuUsPerRequest: median(runs.map((r) => r.serverCpuUsPerRequest)),
        serverCpuUsPerRequestByRound: runs.map((r) => r.serverCpuUsPerRequest),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0)
      }
    })
  } finally {
    for (const server of servers) await server.stop()
  }
}

/** A wrk script: every request a different one of `users` known users, so the cache churns at its cap. */
const rotatingUsersScript = (users: number) => `
local i = 0
request = function()
  i = (i + 7919) % ${users}
  local name = "bench-user-" .. i
  return wrk.format("GET", "/api/me", { ["Remote-User"] = name, ["Remote-Email"] = name .. "@example.com" })
end
`

/** The owner (bench-user-0) reads GET /api/users page after page, as the Users page does. */
const listEveryUser = async (port: number) => {
  const start = performance.now()
  let path: string | undefined = "/api/users"
  let pages = 0
  let users = 0
  while (path !== undefined) {
    const response: Response = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { "Remote-User": benchIdentity(0) }
    })
    if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}`)
    users += ((await response.json()) as Array<unknown>).length
    pages += 1
    path = /<([^>]*)>; rel="next"/.exec(response.headers.get("link") ?? "")?.[1]
  }
  return { pages, users, seconds: (performance.now() - start) / 1000 }
}

/**
 * The server's memory with `users` in its store after `seconds` of requests spread over all of
 * them, and again after the owner has listed them all.
 */
export const benchMemory = async (options: { dir: string; users: number; seconds: number }) => {
  const name = "headtower-100k"
  const runtime = servicesRuntime(join(options.dir, `${name}.db`), 10)
  await runtime.runPromise(populate(options.users))
  await runtime.dispose()
  const server = await headtower(name, options.dir, [compiled.main, "serve", "--config"])
  try {
    const idle = server.memory()
    const script = join(options.dir, "rotate.lua")
    writeFileSync(script, rotatingUsersScript(options.users))
    const load = await wrk({
      url: `http://127.0.0.1:${server.port}/api/me`,
      seconds: options.seconds,
      connections: 64,
      script
    })
    const afterLoad = server.memory()
    const listing = await listEveryUser(server.port)
    if (listing.users !== options.users) {
      throw new Error(`the listing walked ${listing.users} users of ${options.users}`)
    }
    return {
      users: options.users,
      idleRssMiB: idle.rssMiB,
      ...afterLoad,
      load,
      listing: { ...listing, ...server.memory() }
    }
  } finally {
    await server.stop()
  }
}
