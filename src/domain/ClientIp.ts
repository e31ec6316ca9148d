import { Either } from "effect"
import { type Cidr, type IpAddress, parsePeerIp } from "./Address.js"
import type { ProxyAuthConfig } from "./AppConfig.js"
import { AmbiguousHeader, type ClientIpError, ClientNotAllowed, InvalidForwardedAddress } from "./errors.js"
import { type ForwardedEntry, parseForwardedHeader } from "./ForwardedHeader.js"
import type { RequestFacts } from "./RequestFacts.js"

/*
 * Which address is the client (spec "Client IP checks", "Forwarded client IP headers",
 * Decisions 1–3). Every doubt rejects: a trusted proxy that fails to name the client is never
 * replaced by its own address, because allowed_cidrs usually contains that proxy.
 * The allowed_cidrs check itself belongs to authenticate.
 */

export interface ClientIpDecision {
  /** The socket peer, normalised (`::ffff:1.2.3.4` is 1.2.3.4, zone dropped). */
  readonly peer: IpAddress
  readonly clientIp: IpAddress
  readonly source: "socket" | "header"
  /** The trusted_proxy_cidrs rule that let the peer supply the ip_header; undefined when the header was not read. */
  readonly peerTrustedBy: Cidr | undefined
  /** The raw header entry that named the client, when source is "header". */
  readonly headerEntry: string | undefined
}

export type ClientIpRejectionReason =
  | "peer_unknown"
  | "peer_unparseable"
  | "header_missing"
  | "header_empty"
  | "header_repeated"
  | "header_malformed"
  | "header_too_many_entries"
  | "entry_not_an_address"

export interface ClientIpRejection {
  readonly _tag: "ClientIpRejection"
  readonly reason: ClientIpRejectionReason
  /** What the client receives; its message names no address or CIDR rule. */
  readonly error: ClientIpError
  /** The socket peer when it parsed, for operator logs and spans. */
  readonly peer: IpAddress | undefined
}

const reject = (
  peer: IpAddress | undefined,
  reason: ClientIpRejectionReason,
  error: ClientIpError
): Either.Either<never, ClientIpRejection> => Either.left({ _tag: "ClientIpRejection", reason, error, peer })

const notAllowed = (message: string) => new ClientNotAllowed({ message })
const invalidAddress = (message: string) => new InvalidForwardedAddress({ message })
const ambiguous = (message: string) => new AmbiguousHeader({ message })

const fromEntry = (peer: IpAddress, peerTrustedBy: Cidr, entry: ForwardedEntry, headerName: string) =>
  entry._tag === "Address"
    ? Either.right<ClientIpDecision>({
        peer,
        clientIp: entry.ip,
        source: "header",
        peerTrustedBy,
        headerEntry: entry.raw
      })
    : reject(peer, "entry_not_an_address", invalidAddress(`The ${headerName} header does not name a client address`))

export const decideClientIp = (
  proxyAuth: ProxyAuthConfig,
  facts: RequestFacts
): Either.Either<ClientIpDecision, ClientIpRejection> => {
  if (facts.peer === undefined) {
    return reject(undefined, "peer_unknown", notAllowed("The address of the connecting client is unknown"))
  }
  const peer = parsePeerIp(facts.peer)
  if (peer === undefined) {
    return reject(
      undefined,
      "peer_unparseable",
      notAllowed("The address of the connecting client is not an IP address")
    )
  }
  const socket = Either.right<ClientIpDecision>({
    peer,
    clientIp: peer,
    source: "socket",
    peerTrustedBy: undefined,
    headerEntry: undefined
  })
  const headerName = proxyAuth.ipHeader
  if (headerName === undefined) return socket
  // Decision 2: only a trusted proxy may speak for the client; anyone else's header is noise.
  const peerTrustedBy = proxyAuth.trustedProxyCidrs.match(peer)
  if (peerTrustedBy === undefined) return socket

  const lines = facts.headers.get(headerName.toLowerCase())
  // A proxy that overwrites the header sends one line; a second one came from the client.
  if (proxyAuth.ipHeaderMode === "first" && lines !== undefined && lines.length > 1) {
    return reject(peer, "header_repeated", ambiguous(`The ${headerName} header was sent more than once`))
  }
  const parsed = parseForwardedHeader(headerName, lines)
  if (Either.isLeft(parsed)) {
    const { message, problem } = parsed.left
    const text = `The ${headerName} header ${message}`
    switch (problem) {
      case "missing":
        return reject(peer, "header_missing", invalidAddress(text))
      case "empty":
        return reject(peer, "header_empty", invalidAddress(text))
      case "repeated":
        return reject(peer, "header_repeated", ambiguous(text))
      case "malformed":
        return reject(peer, "header_malformed", invalidAddress(text))
      case "too_many_entries":
        return reject(peer, "header_too_many_entries", invalidAddress(text))
    }
  }
  const entries = parsed.right
  if (proxyAuth.ipHeaderMode === "first") return fromEntry(peer, peerTrustedBy, entries[0]!, headerName)

  // Decision 3, opt-in: the rightmost entry not added by a trusted proxy is the client.
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!
    if (entry._tag === "Address" && proxyAuth.trustedProxyCidrs.match(entry.ip) !== undefined) continue
    return fromEntry(peer, peerTrustedBy, entry, headerName)
  }
  // Every hop is a trusted proxy: the leftmost is the client (nginx real_ip_recursive).
  return fromEntry(peer, peerTrustedBy, entries[0]!, headerName)
}
