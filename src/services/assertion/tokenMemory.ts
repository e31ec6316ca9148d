import type { AssertionRead } from "../../domain/assertion/read.js"

/*
 * Tokens already verified, so a known user's request costs no signature check: keyed by the
 * token, bounded (least recently used first out), and each forgotten at its own `exp` — never
 * later, whatever the clock tolerance lets a fresh verification accept.
 */

export const MAX_REMEMBERED_TOKENS = 10_000

type Known = Extract<AssertionRead, { _tag: "Ok" }>

interface Entry {
  readonly read: Known
  readonly expiresAt: number
}

export const tokenMemory = (max = MAX_REMEMBERED_TOKENS) => {
  const entries = new Map<string, Entry>()
  return {
    /** A verified token's read, marked remembered; not kept if it expires by `now`. */
    remember: (token: string, read: Known, now: number) => {
      const exp = read.facts.exp
      if (exp === undefined || exp * 1000 <= now) return
      entries.delete(token)
      entries.set(token, { read: { ...read, remembered: true }, expiresAt: exp * 1000 })
      if (entries.size > max) entries.delete(entries.keys().next().value!)
    },
    /** The read of a known, unexpired token (now the most recently used); allocates nothing. */
    recall: (token: string, now: number): Known | undefined => {
      const entry = entries.get(token)
      if (entry === undefined) return undefined
      entries.delete(token)
      if (entry.expiresAt <= now) return undefined
      entries.set(token, entry)
      return entry.read
    },
    get size() {
      return entries.size
    }
  }
}
