import { Effect } from "effect"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { requestFacts } from "../src/domain/RequestFacts.js"
import { Authenticator } from "../src/services/Authenticator.js"
import { UserRepository } from "../src/services/UserRepository.js"
import { quietTracer } from "../src/services/spans.js"
import { median, percentile } from "./stats.js"
import { benchIdentity, populate, populatedId, servicesRuntime, tempDir } from "./store.js"

/*
 * authenticate measured in this process, without HTTP: the production Authenticator over a
 * SQLite file. Spans go to the quiet tracer, as in a server with no exporter
 * (src/services/spans.ts), unless `traced` asks for Effect's default tracer.
 */

const factsFor = (i: number) =>
  requestFacts("127.0.0.1", [
    ["remote-user", benchIdentity(i)],
    ["remote-email", `${benchIdentity(i)}@example.com`],
    ["host", "127.0.0.1"],
    ["accept", "application/json"]
  ])

/** Per-call latencies (ms) of `count` sequential authenticates of `pick(i)`. */
const timeCalls = (pick: (i: number) => ReturnType<typeof factsFor>, count: number) =>
  Effect.gen(function* () {
    const auth = yield* Authenticator
    const samples = new Float64Array(count)
    for (let i = 0; i < count; i++) {
      const start = performance.now()
      yield* auth.authenticate(pick(i))
      samples[i] = performance.now() - start
    }
    return Array.from(samples)
  })

const withTracer =
  (traced: boolean) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    traced ? effect : Effect.withTracer(effect, quietTracer)

export interface CachedResult {
  readonly opsPerSecond: number
  /** Calls per second of this process's CPU time: what one free core would do. */
  readonly opsPerCpuSecond: number
  readonly p50Us: number
  readonly p99Us: number
}

/** A known user with unchanged headers, answered from the cache. Median of `runs`. */
export const benchCachedAuthenticate = async (options: { traced: boolean; runs: number; calls: number }) => {
  const tmp = tempDir()
  const runtime = servicesRuntime(join(tmp.dir, "cached.db"), 10, options.traced)
  try {
    const facts = factsFor(0)
    await runtime.runPromise(withTracer(options.traced)(timeCalls(() => facts, 20_000))) // warm-up, first login
    const runs: Array<CachedResult> = []
    for (let r = 0; r < options.runs; r++) {
      const start = performance.now()
      const cpu = process.cpuUsage()
      const samples = await runtime.runPromise(withTracer(options.traced)(timeCalls(() => facts, options.calls)))
      const { user, system } = process.cpuUsage(cpu)
      const seconds = (performance.now() - start) / 1000
      runs.push({
        opsPerSecond: options.calls / seconds,
        opsPerCpuSecond: options.calls / ((user + system) / 1e6),
        p50Us: percentile(samples, 50) * 1000,
        p99Us: percentile(samples, 99) * 1000
      })
    }
    return {
      opsPerSecond: median(runs.map((r) => r.opsPerSecond)),
      opsPerCpuSecond: median(runs.map((r) => r.opsPerCpuSecond)),
      p50Us: median(runs.map((r) => r.p50Us)),
      p99Us: median(runs.map((r) => r.p99Us))
    }
  } finally {
    await runtime.dispose()
    tmp.remove()
  }
}

/**
 * First logins: `count` new identities, one after another, into a fresh SQLite file per run.
 * The first `warmupRuns` are not counted: V8 optimises the provisioning path over the first
 * few thousand logins (measured: ~1,500/s in the first run of a cold process, ~1,900 in the
 * second, steady from the third on), and a server pays that once, not per login.
 */
export const benchProvisioning = async (options: { warmupRuns: number; runs: number; count: number }) => {
  const rates: Array<number> = []
  const cpuRates: Array<number> = []
  for (let r = -options.warmupRuns; r < options.runs; r++) {
    const tmp = tempDir()
    const runtime = servicesRuntime(join(tmp.dir, "provision.db"), 10)
    try {
      // Builds the runtime (open, migrate) outside the timing.
      await runtime.runPromise(withTracer(false)(timeCalls((i) => factsFor(1_000_000 + i), 200)))
      const start = performance.now()
      const cpu = process.cpuUsage()
      await runtime.runPromise(withTracer(false)(timeCalls((i) => factsFor(i), options.count)))
      const { user, system } = process.cpuUsage(cpu)
      rates.push(options.count / ((performance.now() - start) / 1000))
      cpuRates.push(options.count / ((user + system) / 1e6))
    } finally {
      await runtime.dispose()
      tmp.remove()
    }
  }
  const counted = options.warmupRuns
  return {
    usersPerSecond: median(rates.slice(counted)),
    usersPerCpuSecond: median(cpuRates.slice(counted)),
    warmupUsersPerSecond: rates.slice(0, counted),
    runsUsersPerSecond: rates.slice(counted)
  }
}

/**
 * authenticate latency with `users` in the store, every call missing the cache
 * (sync_ttl_seconds 0), so the store's lookup is what is measured: random known users.
 */
const storeLatency = async (users: number) => {
  const tmp = tempDir()
  const runtime = servicesRuntime(join(tmp.dir, `scale-${users}.db`), 0)
  const close = async () => {
    await runtime.dispose()
    tmp.remove()
  }
  const pick = () => factsFor(Math.floor(Math.random() * users))
  try {
    await runtime.runPromise(populate(users))
    await runtime.runPromise(withTracer(false)(timeCalls(pick, 2_000)))
  } catch (error) {
    await close()
    throw error
  }
  return {
    /** p50 and mean (µs) of `calls` calls. */
    measure: async (calls: number) => {
      const samples = await runtime.runPromise(withTracer(false)(timeCalls(pick, calls)))
      return {
        p50Us: percentile(samples, 50) * 1000,
        meanUs: (samples.reduce((a, b) => a + b, 0) / samples.length) * 1000
      }
    },
    close
  }
}

/**
 * 10 vs 100,000 users, measured in alternation (10, 100,000, 10, …) so that a slow minute of
 * this shared machine falls on both sides; the ratio is the median of each round's ratio.
 */
export const benchScale = async (options: { runs: number; calls: number }) => {
  const small = await storeLatency(10)
  const large = await storeLatency(100_000).catch(async (error: unknown) => {
    await small.close()
    throw error
  })
  try {
    const rounds: Array<{ small: { p50Us: number; meanUs: number }; large: { p50Us: number; meanUs: number } }> = []
    for (let r = 0; r < options.runs; r++) {
      rounds.push({ small: await small.measure(options.calls), large: await large.measure(options.calls) })
    }
    const summary = (side: "small" | "large") => ({
      p50Us: median(rounds.map((round) => round[side].p50Us)),
      meanUs: median(rounds.map((round) => round[side].meanUs))
    })
    const ratios = rounds.map((round) => round.large.p50Us / round.small.p50Us)
    return { small: summary("small"), large: summary("large"), ratio: median(ratios), ratios }
  } finally {
    await small.close()
    await large.close()
  }
}

/**
 * The login cache's batched last_seen write: batches of `batch` known users (spread over a
 * store of `users`, each a later time than the batch before) through `touchLastSeen`, one run
 * uncounted; CPU µs per row, median of `runs`.
 */
export const benchLastSeen = async (options: { users: number; batch: number; runs: number }) => {
  const tmp = tempDir()
  const runtime = servicesRuntime(join(tmp.dir, "last-seen.db"), 10)
  try {
    await runtime.runPromise(populate(options.users))
    const perRow: Array<number> = []
    for (let r = -1; r < options.runs; r++) {
      const at = new Date(Date.now() + (r + 2) * 1000)
      const entries = Array.from({ length: options.batch }, (_, k) => ({
        id: populatedId(((r + 1) * options.batch + k * 7919) % options.users),
        at
      }))
      const cpu = process.cpuUsage()
      await runtime.runPromise(
        withTracer(false)(Effect.flatMap(UserRepository, (users) => users.touchLastSeen(entries)))
      )
      const { user, system } = process.cpuUsage(cpu)
      if (r >= 0) perRow.push((user + system) / options.batch)
    }
    return { cpuUsPerRow: median(perRow), runsCpuUsPerRow: perRow }
  } finally {
    await runtime.dispose()
    tmp.remove()
  }
}
