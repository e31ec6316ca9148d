/** Levenshtein distance, for "did you mean" hints on misspelt configuration keys. */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
    }
    previous = current
  }
  return previous[b.length]!
}

/** The closest candidate within a third of the word's length (at least 2 edits), if any. */
export const suggest = (word: string, candidates: Iterable<string>): string | undefined => {
  const budget = Math.max(2, Math.floor(word.length / 3))
  let best: { name: string; d: number } | undefined
  for (const name of candidates) {
    const d = distance(word.toLowerCase(), name.toLowerCase())
    if (d <= budget && (best === undefined || d < best.d)) best = { name, d }
  }
  return best?.name
}
