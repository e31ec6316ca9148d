import { mkdirSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { join } from "node:path"
import { benchKnownToken, benchNewTokens } from "./assertion.js"
import { benchHttp, benchMemory } from "./http.js"
import { benchCachedAuthenticate, benchLastSeen, benchProvisioning, benchScale } from "./inProcess.js"
import { pinning, pinSelfWithLoad } from "./pinning.js"
import { build, ROOT } from "./processes.js"
import { median, round } from "./stats.js"
import { tempDir } from "./store.js"
import { benchClientCertificates } from "./tls.js"

/*
 * `npm run bench`: every figure is the median of several runs after a warm-up, and the
 * HTTP comparison is made in one run with its targets interleaved. Prints a table and
 * writes the raw figures to bench/results/<timestamp>.json. `--quick` for a short smoke run.
 */

const quick = process.argv.includes("--quick")
const runs = quick ? 2 : 5

interface Row {
  readonly measure: string
  readonly value: string
  readonly target: string
  readonly met: boolean | undefined
}

const main = async () => {
  const tmp = tempDir()
  const rows: Array<Row> = []
  const row = (measure: string, value: string, target = "", met?: boolean) => {
    rows.push({ measure, value, target, met })
    console.error(`  ${measure}: ${value}`)
  }
  try {
    // The HTTP servers run compiled, as `npm start` runs Headtower; the in-process figures stay on tsx.
    console.error("building the servers (tsc)…")
    build()
    console.error("authenticate in process (cached user)…")
    const cached = await benchCachedAuthenticate({ traced: false, runs, calls: quick ? 20_000 : 100_000 })
    const cachedTraced = await benchCachedAuthenticate({ traced: true, runs, calls: quick ? 20_000 : 100_000 })
    row(
      "authenticate, cached user (ops/s, wall clock)",
      fmt(cached.opsPerSecond),
      "≥ 200,000",
      cached.opsPerSecond >= 200_000
    )
    row(
      "authenticate, cached user (ops per CPU-second)",
      fmt(cached.opsPerCpuSecond),
      "≥ 200,000",
      cached.opsPerCpuSecond >= 200_000
    )
    row("authenticate, cached user p50 / p99 (µs)", `${round(cached.p50Us, 1)} / ${round(cached.p99Us, 1)}`)
    row(
      "authenticate, cached user, spans recorded (ops/s; per CPU-second)",
      `${fmt(cachedTraced.opsPerSecond)}; ${fmt(cachedTraced.opsPerCpuSecond)}`
    )

    console.error("authenticate in process, assertion mode…")
    const knownToken = await benchKnownToken({ runs, calls: quick ? 20_000 : 100_000 })
    row(
      "assertion mode: authenticate, known token (ops/s; per CPU-second)",
      `${fmt(knownToken.perSecond)}; ${fmt(knownToken.perCpuSecond)}`,
      "≥ 100,000",
      knownToken.perSecond >= 100_000
    )
    const newTokens = await benchNewTokens({ runs, tokens: quick ? 500 : 2_000 })
    row(
      "assertion mode: first verification of a new token, RS256 (per s; per CPU-second)",
      `${fmt(newTokens.perSecond)}; ${fmt(newTokens.perCpuSecond)}`
    )

    console.error("first-login provisioning…")
    const provisioning = await benchProvisioning({
      warmupRuns: quick ? 1 : 2,
      runs: quick ? 1 : 3,
      count: quick ? 1_000 : 3_000
    })
    row(
      "first logins into SQLite (users/s, wall clock)",
      fmt(provisioning.usersPerSecond),
      "≥ 2,000",
      provisioning.usersPerSecond >= 2_000
    )
    row(
      "first logins into SQLite (users per CPU-second)",
      fmt(provisioning.usersPerCpuSecond),
      "≥ 2,000",
      provisioning.usersPerCpuSecond >= 2_000
    )

    console.error("store size: 10 vs 100,000 users…")
    const scale = await benchScale({ runs, calls: quick ? 2_000 : 10_000 })
    row("authenticate, store read, 10 users p50 (µs)", String(round(scale.small.p50Us, 1)))
    row("authenticate, store read, 100,000 users p50 (µs)", String(round(scale.large.p50Us, 1)))
    row("latency ratio 100,000 / 10 users", String(round(scale.ratio)), "≤ 1.2", scale.ratio <= 1.2)

    console.error("last_seen batches…")
    const lastSeenBatch = quick ? 640 : 6_400
    const lastSeen = await benchLastSeen({ users: 100_000, batch: lastSeenBatch, runs })
    row(
      `last_seen batch write, ${fmt(lastSeenBatch)} of 100,000 users (CPU µs per row)`,
      `${round(lastSeen.cpuUsPerRow, 1)} (runs: ${lastSeen.runsCpuUsPerRow.map((us) => round(us, 1)).join(", ")})`
    )

    console.error(`HTTP at concurrency 64, ${pinning}…`)
    pinSelfWithLoad()
    const http = await benchHttp({
      dir: tmp.dir,
      rounds: quick ? 2 : 8,
      seconds: quick ? 2 : 3,
      warmupSeconds: quick ? 2 : 4
    })
    for (const t of http) {
      row(
        `${t.name}: req/s; p50 / p99 ms; server CPU µs/request`,
        `${fmt(t.requestsPerSecond)}; ${round(t.p50Ms)} / ${round(t.p99Ms)}; ${round(t.serverCpuUsPerRequest, 0)}${
          t.errors ? `  (${t.errors} errors)` : ""
        }`
      )
    }
    const find = (prefix: string) => http.find((t) => t.name.startsWith(prefix))!
    const rps = (prefix: string) => find(prefix).requestsPerSecond
    const me = rps("Headtower GET /api/me (proxy auth)")
    const authVsNoAuth = me / rps("Headtower GET /healthz")
    const vsExpress = me / rps("Express 5")
    const vsFloor = me / rps("node:http")
    // Throughput ratios from CPU cost: what each server would do with a core to itself. These
    // are the targets (issue 14): each round's ratio of two adjacent windows, and their median.
    const byRound = (numerator: string, denominator: string) => {
      const over = find(denominator).serverCpuUsPerRequestByRound
      return find(numerator).serverCpuUsPerRequestByRound.map((us, i) => us / over[i]!)
    }
    const cpuAuthVsNoAuthByRound = byRound("Headtower GET /healthz", "Headtower GET /api/me (proxy auth)")
    const cpuVsExpressByRound = byRound("Express 5", "Headtower GET /api/me (proxy auth)")
    const cpuAuthVsNoAuth = median(cpuAuthVsNoAuthByRound)
    const cpuVsExpress = median(cpuVsExpressByRound)
    const percent = (ratio: number) => `${round(ratio * 100, 1)}%`
    const rounds = (ratios: ReadonlyArray<number>) => `(rounds: ${ratios.map((r) => round(r * 100, 0)).join(", ")})`
    row("proxy auth / no auth, same server (req/s)", percent(authVsNoAuth))
    row(
      "proxy auth / no auth, same server (no-auth CPU ÷ proxy-auth CPU per request)",
      `${percent(cpuAuthVsNoAuth)} ${rounds(cpuAuthVsNoAuthByRound)}`,
      "≥ 90%",
      cpuAuthVsNoAuth >= 0.9
    )
    row("Headtower /api/me / Express 5 (req/s)", percent(vsExpress))
    row(
      "Headtower /api/me / Express 5 (Express CPU ÷ Headtower CPU per request)",
      `${percent(cpuVsExpress)} ${rounds(cpuVsExpressByRound)}`,
      "≥ 120%",
      cpuVsExpress >= 1.2
    )
    row("Headtower /api/me / node:http floor", `${round(vsFloor * 100, 1)}%`)
    row("spans recorded / spans off (/api/me)", `${round((rps("Headtower GET /api/me, spans") / me) * 100, 1)}%`)

    console.error("client certificates: /api/me over kept-alive TLS through nginx, with and without…")
    const tls = await benchClientCertificates({
      dir: tmp.dir,
      rounds: quick ? 1 : 3,
      seconds: quick ? 3 : 8,
      warmupSeconds: quick ? 2 : 4
    })
    for (const t of tls.targets) {
      row(
        `${t.name}: req/s; p50 / p99 ms; server CPU µs/request`,
        `${fmt(t.requestsPerSecond)}; ${round(t.p50Ms)} / ${round(t.p99Ms)}; ${round(t.serverCpuUsPerRequest, 0)}${
          t.errors ? `  (${t.errors} errors)` : ""
        }`
      )
    }
    row(
      "client certificates / none, same server over TLS (req/s)",
      `${round(tls.ratio * 100, 1)}%`,
      "≥ 90%",
      tls.ratio >= 0.9
    )
    row(
      "client certificates / none, same server over TLS (inverse CPU per request)",
      `${round(tls.cpuRatio * 100, 1)}%`,
      "≥ 90%",
      tls.cpuRatio >= 0.9
    )

    console.error("memory with 100,000 users…")
    const memory = await benchMemory({ dir: tmp.dir, users: 100_000, seconds: quick ? 5 : 10 })
    row(
      "server RSS, 100,000 users, after load over all of them (MiB)",
      `${round(memory.rssMiB, 1)} (peak ${round(memory.peakMiB, 1)}, idle ${round(memory.idleRssMiB, 1)})`,
      "≤ 200 MB",
      memory.peakMiB * 1.048576 <= 200
    )
    // The load is a freshly started server's first seconds, every request a user not yet cached.
    const { load } = memory
    row(
      "that load, 100,000 users in turn, fresh server: req/s; p50 / p99 ms; errors",
      `${fmt(load.requestsPerSecond)}; ${round(load.p50Ms)} / ${round(load.p99Ms)}; ${load.errors}`
    )
    const { listing } = memory
    row(
      `server RSS after the owner lists all ${fmt(listing.users)} users, ${fmt(listing.pages)} pages in ${round(
        listing.seconds,
        1
      )} s (MiB)`,
      `${round(listing.rssMiB, 1)} (peak ${round(listing.peakMiB, 1)})`,
      "≤ 200 MB",
      listing.peakMiB * 1.048576 <= 200
    )

    const table = render(rows)
    console.log(table)
    const result = {
      at: new Date().toISOString(),
      quick,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, pinning },
      cached,
      cachedTraced,
      provisioning,
      scale,
      lastSeen,
      http,
      tls,
      ratios: {
        authVsNoAuth,
        vsExpress,
        vsFloor,
        cpuAuthVsNoAuth,
        cpuVsExpress,
        cpuAuthVsNoAuthByRound,
        cpuVsExpressByRound
      },
      memory,
      table
    }
    const dir = join(ROOT, "bench", "results")
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${result.at.replace(/[:.]/g, "-")}${quick ? "-quick" : ""}.json`)
    writeFileSync(file, JSON.stringify(result, null, 2) + "\n")
    console.log(`\nwritten ${file}`)
  } finally {
    tmp.remove()
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

const render = (rows: ReadonlyArray<Row>) => {
  const lines = ["| Measure | Result | Target | Met |", "|---|---|---|---|"]
  for (const r of rows) {
    lines.push(`| ${r.measure} | ${r.value} | ${r.target} | ${r.met === undefined ? "" : r.met ? "yes" : "**no**"} |`)
  }
  return lines.join("\n")
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
