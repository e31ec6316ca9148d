import { Cause, Clock, Duration, Effect, Exit, Metric, MetricBoundaries, Option } from "effect"
import { renderPrometheus } from "../domain/prometheusText.js"

/*
 * Headtower's metrics, in Effect's global registry (one per process: each replica reports
 * its own). Every label takes values from a closed set — outcomes, error tags, route
 * templates, roles — never identities or addresses, so the series count stays bounded and
 * a scrape reveals nobody.
 */

const authentications = Metric.counter("headtower_authentications_total", {
  description: "Authentication decisions, by outcome and reason (the rejection's error tag, or none)",
  incremental: true
})

const authenticateDuration = Metric.histogram(
  "headtower_authenticate_duration_seconds",
  // 0.5 ms to about 4 s: a cache hit, a database write, a store that is timing out.
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 14 }),
  "Time to decide one request's authentication"
)

const usersProvisioned = Metric.counter("headtower_users_provisioned_total", {
  description: "Users created by their first proxy login, by the role they received",
  incremental: true
})

const headscaleRequests = Metric.counter("headtower_headscale_requests_total", {
  description: "Calls to Headscale's API, by route and outcome (ok or the error tag), retries included in one call",
  incremental: true
})

/**
 * Counts and times one authentication, whatever its end: a typed failure is a rejection with
 * its tag as the reason; a defect is counted as an error so a broken store shows up on the
 * dashboard. (`Metric.trackDuration` would time successes only.)
 */
export const observeAuthentication = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Clock.currentTimeNanos, (start) =>
    Effect.onExit(effect, (exit) =>
      Effect.flatMap(Clock.currentTimeNanos, (end) => {
        const timed = Metric.update(authenticateDuration, Duration.toSeconds(Duration.nanos(end - start)))
        if (Exit.isSuccess(exit)) return Effect.zipRight(timed, count("authenticated", "none"))
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure)) return Effect.zipRight(timed, count("rejected", failure.value._tag))
        return Cause.isInterruptedOnly(exit.cause) ? Effect.void : Effect.zipRight(timed, count("error", "defect"))
      })
    )
  )

const count = (outcome: string, reason: string) =>
  Metric.increment(Metric.tagged(Metric.tagged(authentications, "outcome", outcome), "reason", reason))

export const countProvisioned = (role: string) => Metric.increment(Metric.tagged(usersProvisioned, "role", role))

export const countHeadscaleRequest = (route: string, outcome: string) =>
  Metric.increment(Metric.tagged(Metric.tagged(headscaleRequests, "route", route), "outcome", outcome))

/** The registry in Prometheus text format. */
export const prometheusText = Effect.map(Metric.snapshot, renderPrometheus)
