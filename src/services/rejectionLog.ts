/*
 * How many "proxy authentication rejected" lines a source may write. Every rejection is still
 * counted (headtower_authentications_total) and traced; only the log is budgeted, so a stranger
 * sending refused requests as fast as it can cannot fill the disk or drown the proxy's lines
 * (measured before: 2.4 MB of log in 5 s from one address). The rule is the kernel's
 * printk_ratelimit: per source, the first LINES_PER_WINDOW lines of each window are written;
 * the first line of the next window says how many were left out ("suppressed").
 */

export const LINES_PER_WINDOW = 10
export const WINDOW_MS = 60_000
/** Sources remembered at once; past that, new sources share one budget. */
export const MAX_SOURCES = 1_024
/** The budget every source past MAX_SOURCES shares: a flood of addresses stays bounded too. */
export const OVERFLOW_SOURCE = "(other sources)"

interface Window {
  startedAt: number
  written: number
  suppressed: number
}

/** The verdict for one rejection: write its line (saying how many were left out before it), or not. */
export type LineVerdict = { readonly write: true; readonly suppressed: number } | { readonly write: false }

const SKIP: LineVerdict = { write: false }

/** A budget of log lines per source (the rejection's reason, peer and client IP). */
export const rejectionLogBudget = () => {
  const windows = new Map<string, Window>()
  let sweptAt = Number.NEGATIVE_INFINITY

  /**
   * Forgets sources whose window is over (at most once a second, so a flood of new sources
   * cannot make every rejection walk the map). What such a source had left out is not
   * reported in the log; the metric counted it.
   */
  const sweep = (now: number) => {
    if (now - sweptAt < 1_000) return
    sweptAt = now
    for (const [source, window] of windows) if (now - window.startedAt >= WINDOW_MS) windows.delete(source)
  }

  const windowOf = (source: string, now: number): Window => {
    let window = windows.get(source)
    if (window === undefined) {
      if (windows.size >= MAX_SOURCES) sweep(now)
      const key = windows.size >= MAX_SOURCES ? OVERFLOW_SOURCE : source
      window = windows.get(key) ?? { startedAt: now, written: 0, suppressed: 0 }
      windows.set(key, window)
    }
    return window
  }

  return (source: string, now: number): LineVerdict => {
    const window = windowOf(source, now)
    let suppressed = 0
    if (now - window.startedAt >= WINDOW_MS) {
      suppressed = window.suppressed
      window.startedAt = now
      window.written = 0
      window.suppressed = 0
    }
    if (window.written >= LINES_PER_WINDOW) {
      window.suppressed++
      return SKIP
    }
    window.written++
    return { write: true, suppressed }
  }
}
