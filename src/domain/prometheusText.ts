import type { MetricPair } from "effect"
import { MetricState } from "effect"

/*
 * Effect's metric snapshot in the Prometheus text exposition format (version 0.0.4), the
 * format every Prometheus-compatible scraper reads. Counters, gauges and histograms are
 * rendered; Headtower defines no other kind, and one it does not know is left out rather
 * than rendered wrongly.
 */

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const metricName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/^([0-9])/, "_$1")
const labelName = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^([0-9])/, "_$1")
const labelValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")
const helpText = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const number = (value: number | bigint) =>
  typeof value === "bigint"
    ? value.toString()
    : Number.isNaN(value)
      ? "NaN"
      : value === Infinity
        ? "+Inf"
        : value === -Infinity
          ? "-Inf"
          : String(value)

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${labelName(k)}="${labelValue(v)}"`).join(",")}}`

interface Family {
  type: "counter" | "gauge" | "histogram"
  help: string | undefined
  /** Each series' lines under its label text, so series print in a stable order. */
  series: Array<{ readonly key: string; readonly lines: ReadonlyArray<string> }>
}

const seriesOf = (name: string, tags: ReadonlyArray<readonly [string, string]>, state: unknown) => {
  if (MetricState.isCounterState(state)) {
    return { type: "counter" as const, lines: [`${name}${labels(tags)} ${number(state.count)}`] }
  }
  if (MetricState.isGaugeState(state)) {
    return { type: "gauge" as const, lines: [`${name}${labels(tags)} ${number(state.value)}`] }
  }
  if (MetricState.isHistogramState(state)) {
    // Effect's buckets are already cumulative and end with the +Inf boundary.
    const lines = state.buckets.map(
      ([bound, count]) => `${name}_bucket${labels([...tags, ["le", number(bound)]])} ${count}`
    )
    if (!state.buckets.some(([bound]) => bound === Infinity)) {
      lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
    }
    lines.push(`${name}_sum${labels(tags)} ${number(state.sum)}`, `${name}_count${labels(tags)} ${state.count}`)
    return { type: "histogram" as const, lines }
  }
  return undefined
}

/** One `# HELP`/`# TYPE` block per metric name, its series below, names in order. */
export const renderPrometheus = (snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const { metricKey, metricState } of snapshot) {
    const name = metricName(metricKey.name)
    const tags = metricKey.tags.map((t) => [t.key, t.value] as const).sort(([a], [b]) => a.localeCompare(b))
    const series = seriesOf(name, tags, metricState)
    if (series === undefined) continue
    const help = metricKey.description._tag === "Some" ? metricKey.description.value : undefined
    const family = families.get(name) ?? { type: series.type, help, series: [] }
    if (family.type !== series.type) continue
    family.series.push({ key: labels(tags), lines: series.lines })
    families.set(name, family)
  }
  const out: Array<string> = []
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name)!
    if (family.help !== undefined) out.push(`# HELP ${name} ${helpText(family.help)}`)
    out.push(`# TYPE ${name} ${family.type}`)
    for (const { lines } of family.series.sort((a, b) => a.key.localeCompare(b.key))) out.push(...lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}
