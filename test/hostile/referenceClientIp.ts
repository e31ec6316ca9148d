import { BlockList, isIP } from "node:net"
import type { HeaderLookup } from "../../src/domain/RequestFacts.js"

/*
 * An independent, deliberately small model of "which address is the client" for the oracle:
 * net.BlockList for matching, regular expressions for entries, none of the project's
 * Address/ForwardedHeader/ClientIp code. It answers "undefined" (must not be accepted)
 * whenever it is unsure; the project may be stricter than this model, never laxer.
 */

export interface RefIp {
  readonly address: string
  readonly family: "ipv4" | "ipv6"
}

export interface RefConfig {
  readonly allowed: ReadonlyArray<string>
  readonly trusted: ReadonlyArray<string>
  readonly ipHeader: "X-Forwarded-For" | "X-Real-IP" | "Forwarded" | undefined
  readonly mode: "first" | "rightmost_untrusted"
}

export const blockList = (cidrs: ReadonlyArray<string>): BlockList => {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [address = "", prefix] = cidr.split("/")
    const family = isIP(address) === 4 ? "ipv4" : "ipv6"
    list.addSubnet(address, Number(prefix ?? (family === "ipv4" ? 32 : 128)), family)
  }
  return list
}

const ows = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, "")

/** A bare address, optionally with an RFC 6874 zone on IPv6 (ignored for matching). */
const addr = (text: string, family?: 4 | 6): RefIp | undefined => {
  const percent = text.indexOf("%")
  const bare = percent === -1 ? text : text.slice(0, percent)
  const found = isIP(bare)
  if (found === 0 || (family !== undefined && found !== family)) return undefined
  if (percent !== -1 && (found !== 6 || !/^[0-9A-Za-z._~-]+$/.test(text.slice(percent + 1)))) return undefined
  return { address: bare, family: found === 4 ? "ipv4" : "ipv6" }
}

/** `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`. */
const listEntry = (entry: string): RefIp | undefined => {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry)
  if (bracketed) return addr(bracketed[1]!, 6)
  const withPort = /^([^:]+):\d{1,5}$/.exec(entry)
  if (withPort) return addr(withPort[1]!, 4)
  return addr(entry)
}

/** One RFC 7239 element with exactly one `for=`: IPv4 (port optional) or quoted bracketed IPv6. */
const forwardedElement = (element: string): RefIp | undefined => {
  const fors = element
    .split(";")
    .map(ows)
    .filter((p) => /^for=/i.test(p))
  if (fors.length !== 1) return undefined
  let node = fors[0]!.slice(4)
  if (node.startsWith('"')) {
    if (node.length < 2 || !node.endsWith('"') || node.slice(1, -1).includes('"')) return undefined
    node = node.slice(1, -1)
  }
  const v6 = /^\[([^\]]+)\](?::(?:\d{1,5}|_[0-9A-Za-z._-]+))?$/.exec(node)
  if (v6) return addr(v6[1]!, 6)
  const v4 = /^([0-9.]+)(?::(?:\d{1,5}|_[0-9A-Za-z._-]+))?$/.exec(node)
  return v4 ? addr(v4[1]!, 4) : undefined
}

export const inList = (list: BlockList, ip: RefIp): boolean => list.check(ip.address, ip.family)

/** The client address the model would judge, or undefined: "this request must not get in". */
export const referenceClientIp = (
  config: RefConfig,
  peer: string | undefined,
  headers: HeaderLookup
): RefIp | undefined => {
  const peerIp = peer === undefined ? undefined : addr(peer)
  if (peerIp === undefined) return undefined
  if (config.ipHeader === undefined || !inList(blockList(config.trusted), peerIp)) return peerIp
  const lines = headers.get(config.ipHeader.toLowerCase()) ?? []
  if (lines.length === 0) return undefined
  if (config.ipHeader === "X-Real-IP") return lines.length === 1 ? addr(ows(lines[0]!)) : undefined
  if (config.mode === "first" && lines.length > 1) return undefined
  const parse = config.ipHeader === "Forwarded" ? forwardedElement : listEntry
  const entries = lines.join(",").split(",").map(ows)
  if (config.mode === "first") return parse(entries[0]!)
  const trusted = blockList(config.trusted)
  for (let i = entries.length - 1; i >= 0; i--) {
    const ip = parse(entries[i]!)
    if (ip !== undefined && inList(trusted, ip)) continue
    return ip
  }
  return parse(entries[0]!)
}
