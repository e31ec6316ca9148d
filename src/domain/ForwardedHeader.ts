import { Either } from "effect"
import { isIP } from "node:net"
import { type IpAddress, parseIp } from "./Address.js"

/*
 * Parsing of the configured `ip_header` into entries, without deciding anything: which entry
 * names the client is ClientIp's job. The header's name picks the grammar: `Forwarded` is
 * RFC 7239, `X-Forwarded-For` a comma list, anything else (X-Real-IP, CF-Connecting-IP…) one
 * address. Entries that are not addresses stay in the list, so that their position still
 * counts when the list is walked from the right.
 */

export type ForwardedEntry =
  | { readonly _tag: "Address"; readonly ip: IpAddress; readonly raw: string }
  | { readonly _tag: "NotAnAddress"; readonly raw: string; readonly reason: string }

/** Why the header as a whole is unusable (as opposed to one entry of it). */
export type ForwardedHeaderProblem = "missing" | "empty" | "repeated" | "too_many_entries" | "malformed"

export interface ForwardedHeaderError {
  readonly problem: ForwardedHeaderProblem
  readonly message: string
}

/*
 * A real chain has a handful of hops. Node lets 16 KiB of headers through, room for thousands
 * of one-character entries; 100 is far beyond any honest chain and bounds the work (one strict
 * address parse per entry) a request can cause. Past it the header is invalid, not truncated:
 * dropping entries would change which one is rightmost or first.
 */
export const MAX_FORWARDED_ENTRIES = 100

type Grammar = "forwarded" | "list" | "single"

const grammarOf = (headerName: string): Grammar => {
  const name = headerName.trim().toLowerCase()
  return name === "forwarded" ? "forwarded" : name === "x-forwarded-for" ? "list" : "single"
}

const fail = (problem: ForwardedHeaderProblem, message: string) => Either.left({ problem, message })

const address = (ip: IpAddress, raw: string): ForwardedEntry => ({ _tag: "Address", ip, raw })
const notAnAddress = (raw: string, reason: string): ForwardedEntry => ({ _tag: "NotAnAddress", raw, reason })

// Optional whitespace of RFC 9110: spaces and tabs only.
const trimOws = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, "")

const PORT = /^\d{1,5}$/

/** One X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]`, `[::1]:80`, `fe80::1%eth0`. */
const listEntry = (raw: string): ForwardedEntry => {
  if (raw === "") return notAnAddress(raw, "empty list element")
  if (raw.startsWith("[")) {
    const close = raw.indexOf("]")
    if (close === -1) return notAnAddress(raw, "unclosed bracket")
    const rest = raw.slice(close + 1)
    if (rest !== "" && !(rest.startsWith(":") && PORT.test(rest.slice(1)))) {
      return notAnAddress(raw, "invalid port after bracketed address")
    }
    return bracketedIpv6(raw, raw.slice(1, close))
  }
  // Exactly one colon can only be IPv4 with a port: bare IPv6 has at least two.
  const colon = raw.indexOf(":")
  if (colon !== -1 && colon === raw.lastIndexOf(":")) {
    const host = raw.slice(0, colon)
    if (isIP(host) !== 4 || !PORT.test(raw.slice(colon + 1))) return notAnAddress(raw, "not an address")
    return hostAddress(raw, host)
  }
  return hostAddress(raw, raw)
}

const hostAddress = (raw: string, host: string): ForwardedEntry => {
  const ip = parseIp(host)
  return ip === undefined ? notAnAddress(raw, "not an address") : address(ip, raw)
}

// Brackets hold IPv6 only; `[1.2.3.4]` is not a spelling any proxy uses.
const bracketedIpv6 = (raw: string, inner: string): ForwardedEntry =>
  inner.includes(":") ? hostAddress(raw, inner) : notAnAddress(raw, "brackets around a non-IPv6 address")

const parseList = (lines: ReadonlyArray<string>) => {
  // RFC 9110 §5.3: several lines of a list header are one list, in order.
  const parts = lines.join(",").split(",")
  if (parts.length > MAX_FORWARDED_ENTRIES) {
    return fail("too_many_entries", `has more than ${MAX_FORWARDED_ENTRIES} entries`)
  }
  return Either.right(parts.map((part) => listEntry(trimOws(part))))
}

const parseSingle = (lines: ReadonlyArray<string>) => {
  if (lines.length > 1) return fail("repeated", "was sent more than once")
  const value = trimOws(lines[0]!)
  if (value.includes(",")) return fail("malformed", "holds a list where one address is expected")
  return Either.right([hostAddress(value, value)])
}

/*
 * RFC 7239: `Forwarded = 1#forwarded-element`, an element is `pair *( ";" pair )`, a pair is
 * `token "=" ( token / quoted-string )`. Syntax errors make the whole header malformed, since
 * element boundaries can no longer be trusted; a bad `for=` value only makes its element
 * not an address.
 */
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/

interface Element {
  readonly raw: string
  readonly pairs: ReadonlyArray<readonly [string, string]>
}

const parseForwardedLine = (line: string): Either.Either<Array<Element>, string> => {
  const elements: Array<Element> = []
  let i = 0
  const skipOws = () => {
    while (line[i] === " " || line[i] === "\t") i++
  }
  const token = (): string => {
    const start = i
    while (i < line.length && TCHAR.test(line[i]!)) i++
    return line.slice(start, i)
  }
  const quoted = (): string | undefined => {
    i++ // opening quote
    let out = ""
    while (i < line.length) {
      const c = line[i]!
      if (c === '"') {
        i++
        return out
      }
      if (c === "\\") {
        if (i + 1 >= line.length) return undefined
        out += line[i + 1]
        i += 2
      } else {
        out += c
        i++
      }
    }
    return undefined
  }
  for (;;) {
    skipOws()
    const start = i
    const pairs: Array<readonly [string, string]> = []
    // Pairs of one element; empty pairs (`;;`) and empty elements (`,,`) are allowed by the ABNF.
    for (;;) {
      skipOws()
      if (i < line.length && line[i] !== "," && line[i] !== ";") {
        const name = token()
        if (name === "" || line[i] !== "=") return Either.left("a parameter is not `name=value`")
        i++
        const value = line[i] === '"' ? quoted() : token()
        if (value === undefined) return Either.left("a quoted string is not terminated")
        if (value === "" && line[i - 1] === "=") return Either.left("a parameter has no value")
        pairs.push([name.toLowerCase(), value])
        skipOws()
      }
      if (line[i] !== ";") break
      i++
    }
    if (i < line.length && line[i] !== ",") return Either.left("unexpected character")
    elements.push({ raw: trimOws(line.slice(start, i)), pairs })
    if (elements.length > MAX_FORWARDED_ENTRIES) return Either.right(elements)
    if (i >= line.length) return Either.right(elements)
    i++ // the comma
  }
}

const OBFUSCATED = /^_[0-9A-Za-z._-]+$/

/** RFC 7239 §6: `node = nodename [ ":" node-port ]`, IPv6 bracketed, `unknown` or `_obfuscated`. */
const forwardedEntry = (element: Element): ForwardedEntry => {
  const fors = element.pairs.filter(([name]) => name === "for")
  if (fors.length === 0) return notAnAddress(element.raw, "element has no for= parameter")
  if (fors.length > 1) return notAnAddress(element.raw, "element has more than one for= parameter")
  const node = fors[0]![1]
  if (node.toLowerCase() === "unknown") return notAnAddress(element.raw, "unknown node")
  if (OBFUSCATED.test(node)) return notAnAddress(element.raw, "obfuscated node")
  const validPort = (port: string) => PORT.test(port) || OBFUSCATED.test(port)
  if (node.startsWith("[")) {
    const close = node.indexOf("]")
    if (close === -1) return notAnAddress(element.raw, "unclosed bracket")
    const rest = node.slice(close + 1)
    if (rest !== "" && !(rest.startsWith(":") && validPort(rest.slice(1)))) {
      return notAnAddress(element.raw, "invalid node port")
    }
    return bracketedIpv6(element.raw, node.slice(1, close))
  }
  const colon = node.indexOf(":")
  const host = colon === -1 ? node : node.slice(0, colon)
  if (colon !== -1 && !validPort(node.slice(colon + 1))) return notAnAddress(element.raw, "invalid node port")
  // Unbracketed, only IPv4 is a node name (RFC 7239 §6.1).
  if (isIP(host) !== 4) return notAnAddress(element.raw, "not an IPv4 address or bracketed IPv6 address")
  return hostAddress(element.raw, host)
}

const parseForwarded = (lines: ReadonlyArray<string>) => {
  const elements: Array<Element> = []
  for (const line of lines) {
    const parsed = parseForwardedLine(line)
    if (Either.isLeft(parsed)) return fail("malformed", `is not valid RFC 7239 syntax: ${parsed.left}`)
    elements.push(...parsed.right)
    if (elements.length > MAX_FORWARDED_ENTRIES) {
      return fail("too_many_entries", `has more than ${MAX_FORWARDED_ENTRIES} entries`)
    }
  }
  return Either.right(elements.map(forwardedEntry))
}

/**
 * Every value received for the `ip_header` (in order) → its entries, left to right. Messages
 * complete the sentence "The <header> header …" and never echo the header's content.
 */
export const parseForwardedHeader = (
  headerName: string,
  lines: ReadonlyArray<string> | undefined
): Either.Either<ReadonlyArray<ForwardedEntry>, ForwardedHeaderError> => {
  if (lines === undefined || lines.length === 0) return fail("missing", "is missing")
  if (lines.every((line) => trimOws(line) === "")) return fail("empty", "is empty")
  switch (grammarOf(headerName)) {
    case "forwarded":
      return parseForwarded(lines)
    case "list":
      return parseList(lines)
    case "single":
      return parseSingle(lines)
  }
}
