import { Effect, Metric, MetricBoundaries } from "effect"
import { describe, expect, it } from "vitest"
import { renderPrometheus } from "../../src/domain/prometheusText.js"

/** Renders only the metrics this test made, from Effect's real (global) registry. */
const render = (prefix: string, record: Effect.Effect<unknown>) =>
  Effect.runSync(
    Effect.zipRight(
      record,
      Effect.map(Metric.snapshot, (pairs) => renderPrometheus(pairs.filter((p) => p.metricKey.name.startsWith(prefix))))
    )
  )

describe("renderPrometheus", () => {
  it("writes HELP and TYPE once per name, then each series with sorted, escaped labels", () => {
    const counter = Metric.counter("t1_requests_total", { description: "Requests\nserved", incremental: true })
    const text = render(
      "t1_",
      Effect.all([
        Metric.increment(Metric.tagged(Metric.tagged(counter, "z", "last"), "a", 'say "hi"\\')),
        Metric.incrementBy(Metric.tagged(counter, "a", "plain"), 2)
      ])
    )
    expect(text).toBe(
      [
        "# HELP t1_requests_total Requests\\nserved",
        "# TYPE t1_requests_total counter",
        't1_requests_total{a="plain"} 2',
        't1_requests_total{a="say \\"hi\\"\\\\",z="last"} 1',
        ""
      ].join("\n")
    )
  })

  it("writes a histogram as cumulative buckets ending in +Inf, with sum and count", () => {
    const histogram = Metric.histogram("t2_seconds", MetricBoundaries.fromIterable([0.1, 1]))
    const text = render(
      "t2_",
      Effect.forEach([0.05, 0.5, 0.7, 5], (v) => Metric.update(histogram, v))
    )
    expect(text).toBe(
      [
        "# TYPE t2_seconds histogram",
        't2_seconds_bucket{le="0.1"} 1',
        't2_seconds_bucket{le="1"} 3',
        't2_seconds_bucket{le="+Inf"} 4',
        "t2_seconds_sum 6.25",
        "t2_seconds_count 4",
        ""
      ].join("\n")
    )
  })

  it("makes any name a valid Prometheus name", () => {
    const text = render("t3.", Metric.set(Metric.gauge("t3.open-connections"), 3))
    expect(text).toBe("# TYPE t3_open_connections gauge\nt3_open_connections 3\n")
  })
})
