import { Either } from "effect"
import ipaddr from "ipaddr.js"
import { isIP } from "node:net"

/*
 * Addresses and CIDR lists. Validation is `net.isIP` (strict dotted-decimal: no `127.1`, no
 * hex or octal forms that ipaddr.js would accept); arithmetic is ipaddr.js. An IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`) is the IPv4 address everywhere (spec Decision 1), and a zone ID
 * (`fe80::1%eth0`) does not take part in matching.
 */

export interface IpAddress {
  readonly family: 4 | 6
  /** Canonical text: IPv4 dotted-decimal, IPv6 RFC 5952, mapped IPv4 unmapped, zone dropped. */
  readonly text: string
  readonly value: ipaddr.IPv4 | ipaddr.IPv6
}

export interface Cidr {
  readonly family: 4 | 6
  readonly prefix: number
  /** Normalised text (`10.0.0.0/8`), host bits cleared. */
  readonly text: string
  readonly network: ipaddr.IPv4 | ipaddr.IPv6
}

const toIpAddress = (value: ipaddr.IPv4 | ipaddr.IPv6): IpAddress => {
  if (value.kind() === "ipv6") {
    const v6 = value as ipaddr.IPv6
    if (v6.isIPv4MappedAddress()) return toIpAddress(v6.toIPv4Address())
    const bare = new ipaddr.IPv6(v6.parts)
    return { family: 6, text: bare.toRFC5952String(), value: bare }
  }
  return { family: 4, text: value.toString(), value }
}

/*
 * ipaddr.js 2.5 reads any IPv6 text with a dotted tail as IPv4-mapped: `::1.2.3.4` (IPv4-
 * compatible, really `::102:304`) would come back as 1.2.3.4 and match IPv4 rules. Text that
 * `isIP` accepted has a strict dotted tail, so spell it as two hex groups before parsing.
 */
const parseValid = (text: string): ipaddr.IPv4 | ipaddr.IPv6 => {
  const tail = text.includes(":") ? /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text) : null
  if (tail === null) return ipaddr.parse(text)
  const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number]
  const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  return ipaddr.parse(text.slice(0, tail.index) + hex)
}

// RFC 6874 zone IDs are unreserved characters; anything else is not part of an address.
const ZONE_ID = /^[0-9A-Za-z._~-]+$/

/** A single address, strictly; `undefined` when the text is not one. */
export const parseIp = (text: string): IpAddress | undefined => {
  const percent = text.indexOf("%")
  const bare = percent === -1 ? text : text.slice(0, percent)
  const family = isIP(bare)
  if (family === 0) return undefined
  // A zone ID is only meaningful on IPv6 and must not be empty.
  if (percent !== -1 && (family !== 6 || !ZONE_ID.test(text.slice(percent + 1)))) return undefined
  return toIpAddress(parseValid(bare))
}

const PEER_MEMO_SIZE = 1024
const peerMemo = new Map<string, IpAddress | undefined>()

/**
 * `parseIp` for socket peers, remembered: a server sees the same few proxy addresses on every
 * request, and parsing one costs more than the rest of the client-IP decision. Bounded (the
 * memo starts over when full), and safe to share: addresses are never mutated.
 */
export const parsePeerIp = (text: string): IpAddress | undefined => {
  const known = peerMemo.get(text)
  if (known !== undefined || peerMemo.has(text)) return known
  if (peerMemo.size >= PEER_MEMO_SIZE) peerMemo.clear()
  const parsed = parseIp(text)
  // Shared by every request from this peer: frozen, so no caller can change another's view.
  if (parsed !== undefined) Object.freeze(parsed)
  peerMemo.set(text, parsed)
  return parsed
}

export interface ParsedCidr {
  readonly cidr: Cidr
  /** The written network had bits set past the prefix (`10.0.0.1/8`); it was normalised. */
  readonly hostBitsSet: boolean
}

/**
 * One CIDR (`10.0.0.0/8`, `::1/128`) or a bare address meaning a host route. Mapped IPv6
 * ranges inside `::ffff:0:0/96` become the IPv4 range they denote.
 */
export const parseCidr = (text: string): Either.Either<ParsedCidr, string> => {
  const trimmed = text.trim()
  const slash = trimmed.indexOf("/")
  const addressText = slash === -1 ? trimmed : trimmed.slice(0, slash)
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1)
  if (addressText.includes("%")) return Either.left("a CIDR cannot carry a zone ID")
  const family = isIP(addressText)
  if (family === 0) return Either.left(`"${addressText}" is not an IPv4 or IPv6 address`)
  const max = family === 4 ? 32 : 128
  let prefix = max
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return Either.left(`prefix length "${prefixText}" must be a whole number from 0 to ${max}`)
    }
    prefix = Number(prefixText)
  }
  let address: ipaddr.IPv4 | ipaddr.IPv6 = parseValid(addressText)
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address()
    prefix -= 96
  }
  const network = networkOf(address, prefix)
  const hostBitsSet = network.toNormalizedString() !== address.toNormalizedString()
  const canonical = toIpAddress(network)
  const cidr: Cidr = {
    family: canonical.family,
    prefix,
    text: `${canonical.text}/${prefix}`,
    network
  }
  return Either.right({ cidr, hostBitsSet })
}

const networkOf = (address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): ipaddr.IPv4 | ipaddr.IPv6 => {
  const bytes = address.toByteArray()
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    const index = bit >> 3
    bytes[index] = bytes[index]! & ~(0x80 >> (bit & 7))
  }
  return ipaddr.fromByteArray(bytes)
}

const ALL_IPV4_MAPPED = ipaddr.parse("::ffff:0.0.0.0")

/**
 * True when the CIDR covers a whole address family: `0.0.0.0/0`, `::/0`, and any IPv6 range
 * containing `::ffff:0:0/96` (such as `::/64`), which matches every IPv4 client as well.
 */
export const isCatchAll = (cidr: Cidr): boolean =>
  cidr.prefix === 0 || (cidr.family === 6 && cidr.prefix <= 96 && ALL_IPV4_MAPPED.match(cidr.network, cidr.prefix))

/** A compiled list: parsed once at start-up, matched per request. */
export interface CidrList {
  readonly cidrs: ReadonlyArray<Cidr>
  /** The first rule containing the address, or undefined. */
  readonly match: (ip: IpAddress) => Cidr | undefined
}

/*
 * One address space, as net.BlockList and Express's proxy-addr see it: an IPv4 address is also
 * `::ffff:a.b.c.d` (Decision 1), so an IPv6 rule spanning the mapped range (`::/0`) covers it.
 * Matching it only against IPv4 rules would make `1.2.3.4` and `::ffff:1.2.3.4` disagree.
 */
export const compileCidrs = (cidrs: ReadonlyArray<Cidr>): CidrList => {
  const v6 = cidrs.filter((c) => c.family === 6)
  return {
    cidrs,
    match: (ip) => {
      if (ip.family === 6) return v6.find((c) => ip.value.match(c.network, c.prefix))
      let mapped: ipaddr.IPv6 | undefined // built only if an IPv6 rule is reached
      for (const c of cidrs) {
        const candidate = c.family === 4 ? ip.value : (mapped ??= (ip.value as ipaddr.IPv4).toIPv4MappedAddress())
        if (candidate.match(c.network, c.prefix)) return c
      }
      return undefined
    }
  }
}

/** "Localhost", the default of both CIDR lists (spec Decision 1). */
export const LOCALHOST_CIDRS: ReadonlyArray<string> = ["127.0.0.1/32", "::1/128"]

/** Parses a list that is known to be valid (defaults, tests); throws on a bad entry. */
export const cidrListUnsafe = (texts: ReadonlyArray<string>): CidrList =>
  compileCidrs(texts.map((t) => Either.getOrThrowWith(parseCidr(t), (e) => new Error(`${t}: ${e}`)).cidr))
