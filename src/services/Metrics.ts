import { Cause, Effect, Exit, Metric, MetricBoundaries, MetricKey, MetricLabel, Option } from "effect"
import { renderPrometheus } from "../domain/prometheusText.js"

/*
 * Headtower's metrics, in Effect's global registry (one per process: each replica reports
 * its own). Every label takes values from a closed set — outcomes, error tags, route
 * templates, roles — never identities or addresses, so the series count stays bounded and
 * a scrape reveals nobody.
 */

/**
 * A counter family: one metric per label set, built on first use and kept. (`Metric.tagged`
 * builds and hashes a new metric key on every update — measured at ~5 µs per authentication,
 * as much as the authentication itself.)
 */
const counterFamily = (name: string, description: string, labelNames: ReadonlyArray<string>) => {
  const key = MetricKey.counter(name, { description, incremental: true })
  const members = new Map<string, Metric.Metric.Counter<number>>()
  return (...values: ReadonlyArray<string>) => {
    const id = values.join("\u0000")
    let member = members.get(id)
    if (member === undefined) {
      const labels = labelNames.map((label, i) => MetricLabel.make(label, values[i]!))
      member = Metric.fromMetricKey(MetricKey.taggedWithLabels(key, labels))
      members.set(id, member)
    }
    return member
  }
}

const authenticationCounter = counterFamily(
  "headtower_authentications_total",
  "Authentication decisions, by outcome and reason (the rejection's error tag, or none)",
  ["outcome", "reason"]
)

const authenticateDuration = Metric.histogram(
  "headtower_authenticate_duration_seconds",
  // 0.5 ms to about 4 s: a cache hit, a database write, a store that is timing out.
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "Time to decide one request's authentication"
)

const provisionedCounter = counterFamily(
  "headtower_users_provisioned_total",
  "Users created by their first proxy login, by the role they received",
  ["role"]
)

const headscaleCounter = counterFamily(
  "headtower_headscale_requests_total",
  "Calls to Headscale's API, by route and outcome (ok or the error tag), retries included in one call",
  ["route", "outcome"]
)

/**
 * Counts and times one authentication, whatever its end: a typed failure is a rejection with
 * its tag as the reason; a defect is counted as an error so a broken store shows up on the
 * dashboard. (`Metric.trackDuration` would time successes only.)
 */
export const observeAuthentication = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    // A monotonic clock read, not Clock: two of those (bigint hrtime, a fiber lookup each) cost more than a cache hit.
    const start = performance.now()
    return Effect.flatMap(Effect.exit(effect), (exit) => {
      // An interruption (the client went away) is not a decision: not counted, not timed.
      const counter = Exit.isSuccess(exit) ? authenticated : counterOf(exit.cause)
      if (counter !== undefined) record(counter, start)
      return exit
    })
  })

/** Straight into the registry's cells: no effect per update. */
const record = (counter: Metric.Metric.Counter<number>, start: number) => {
  authenticateDuration.unsafeUpdate((performance.now() - start) / 1000, [])
  counter.unsafeUpdate(1, [])
}

/** Counts and times an authentication decided without effects (started at `performance.now()` = `start`). */
export const recordAuthenticated = (start: number) => record(authenticated, start)

const authenticated = authenticationCounter("authenticated", "none")

/** A typed failure is a rejection with its tag as the reason, a defect an error; an interruption is not counted. */
const counterOf = <E extends { readonly _tag: string }>(cause: Cause.Cause<E>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return authenticationCounter("rejected", failure.value._tag)
  return Cause.isInterruptedOnly(cause) ? undefined : authenticationCounter("error", "defect")
}

export const countProvisioned = (role: string) => Metric.increment(provisionedCounter(role))

export const countHeadscaleRequest = (route: string, outcome: string) =>
  Metric.increment(headscaleCounter(route, outcome))

/** The registry in Prometheus text format. */
export const prometheusText = Effect.map(Metric.snapshot, renderPrometheus)
