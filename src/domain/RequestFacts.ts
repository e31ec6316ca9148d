import type { PeerCertificate } from "./clientCertificate.js"

/**
 * What authenticate may know about one request. Built by the HTTP edge from Node's raw headers
 * (every value of every header, not the comma-joined `headers`), so a header sent twice is
 * visible as two values. Values are as Node decoded them (Latin-1).
 */
export interface RequestFacts {
  /** The raw socket peer address as Node reports it (may be `::ffff:a.b.c.d`); undefined when unknown. */
  readonly peer: string | undefined
  /** Lower-case header name → every value received, in order. */
  readonly headers: HeaderLookup
  /** The connection's client certificate; absent without TLS or when none was presented (clientCertificate.ts). */
  readonly clientCertificate?: PeerCertificate | undefined
}

/** Only lookups by name: the edge can answer them from Node's message without copying every header. */
export interface HeaderLookup {
  readonly get: (lowerCaseName: string) => ReadonlyArray<string> | undefined
}

export const requestFacts = (
  peer: string | undefined,
  headers: Iterable<readonly [string, string | ReadonlyArray<string>]>
): RequestFacts => {
  const map = new Map<string, Array<string>>()
  for (const [name, value] of headers) {
    const key = name.toLowerCase()
    const list = map.get(key) ?? []
    if (typeof value === "string") list.push(value)
    else list.push(...value)
    map.set(key, list)
  }
  return { peer, headers: map }
}
