/** Small statistics helpers: every figure the bench prints is a median over several runs. */

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** Nearest-rank percentile of unsorted samples. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits))
