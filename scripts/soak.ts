import { parseArgs } from "node:util"
import { RSS_GROWTH_BOUND_KIB, runSoak, soakFailures, type SoakResult } from "../test/faults/soakRun.js"

/*
 * `npm run soak [-- --seconds N --concurrency C]`: drives a real Headtower with mixed legit
 * and hostile traffic (see test/faults/soakRun.ts, which the soak test runs too), prints a summary, and exits 1 on any 5xx,
 * mis-authentication, unanswered request, or RSS growth after the warm-up beyond
 * RSS_GROWTH_BOUND_KIB.
 */

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    concurrency: { type: "string", default: "64" }
  }
})
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
if (!(seconds > 0 && seconds <= 3_600) || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1_024) {
  console.error("usage: soak [--seconds 1..3600] [--concurrency 1..1024]")
  process.exit(2)
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`

const print = (r: SoakResult) => {
  const rows: Array<[string, string]> = [
    ["duration", `${r.seconds.toFixed(1)} s at concurrency ${r.concurrency}`],
    ["requests", `${r.requests} (${Math.round(r.requests / r.seconds)}/s): ${r.legit} legit, ${r.hostile} hostile`],
    ...Object.entries(r.byStatus)
      .sort()
      .map(([status, n]): [string, string] => [`  status ${status}`, String(n)]),
    ["5xx", String(r.serverErrors)],
    ["mis-authentications", String(r.misauthentications)],
    ["no answer", String(r.transportErrors)],
    ["stale keep-alive resends", String(r.staleSocketRetries)],
    [
      "latency p50 / p99 / max",
      `${r.latencyMs.p50.toFixed(1)} / ${r.latencyMs.p99.toFixed(1)} / ${r.latencyMs.max.toFixed(1)} ms`
    ],
    [
      "server RSS cold / warm start / end / peak",
      [r.rssKiB.cold, r.rssKiB.start, r.rssKiB.end, r.rssKiB.peak].map(mib).join(" / ")
    ],
    ["RSS growth after warm-up (bound)", `${mib(r.rssKiB.end - r.rssKiB.start)} (${mib(RSS_GROWTH_BOUND_KIB)})`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
  for (const line of r.unexpected) console.log(`  ! ${line}`)
}

console.log(`soak: ${seconds} s, concurrency ${concurrency}, 5% hostile`)
const result = await runSoak({ seconds, concurrency, onProgress: (line) => console.log(line) })
print(result)
const failures = soakFailures(result)
if (failures.length > 0) {
  console.log(`FAIL: ${failures.join("; ")}`)
  process.exit(1)
}
console.log("PASS")
