import type { ProxyAuthConfig } from "./AppConfig.js"
import { decodeEncodedWords } from "./encodedWords.js"
import { AmbiguousHeader, type IdentityError, InvalidHeader, MissingIdentityHeader } from "./errors.js"
import type { RequestFacts } from "./RequestFacts.js"
import type { Identity, Profile } from "./User.js"

/*
 * Reading the identity and profile headers. The identity is taken exactly as the proxy sent
 * it (after UTF-8 decoding): no case folding, no Unicode normalisation, no percent-decoding.
 * The proxy is the authority on who is who, so two values it can tell apart (NFC vs NFD
 * "André", full-width "ａｌｉｃｅ" vs "alice", "Alice" vs "alice") stay two identities here;
 * merging them would let one account act as another.
 */

/** Documented limits, in UTF-8 bytes for the identity (what the database stores) and characters otherwise. */
export const LIMITS = {
  identityBytes: 256,
  emailChars: 254, // RFC 5321 forward-path
  nameChars: 256,
  pictureChars: 2048
} as const

/**
 * Documented limits of the groups a proxy sends (header or claim), in UTF-8 bytes. Beyond them
 * the request is refused (400), never cut: a truncated list could drop the group that decides.
 */
export const GROUP_LIMITS = { count: 256, groupBytes: 256, totalBytes: 8192 } as const

/**
 * The user's groups as the proxy sent them: undefined when unknown (no groups header or claim
 * configured, or none sent), which leaves the role as it is; an empty list means no groups.
 */
export type Groups = ReadonlyArray<string> | undefined

/** Why the headers were refused: the error the client receives, and for operators the header and reason. */
export interface HeaderRejection {
  readonly _tag: "Missing" | "Ambiguous" | "Invalid"
  readonly header: string
  readonly reason: string
  readonly error: IdentityError
}

const missing = (header: string, reason: string): HeaderRejection => ({
  _tag: "Missing",
  header,
  reason,
  error: new MissingIdentityHeader({ message: `${reason}; this request did not come through the authenticating proxy` })
})

const ambiguous = (header: string, reason: string): HeaderRejection => ({
  _tag: "Ambiguous",
  header,
  reason,
  error: new AmbiguousHeader({ message: `${reason}; an identity header must be sent exactly once` })
})

const invalid = (header: string, reason: string): HeaderRejection => ({
  _tag: "Invalid",
  header,
  reason,
  error: new InvalidHeader({ message: reason })
})

/** Optional metadata that was dropped, and why; login goes on without it. */
export interface DroppedHeader {
  readonly header: string
  readonly reason: string
}

export type ProfileRead =
  | {
      readonly _tag: "Ok"
      readonly profile: Profile
      readonly dropped: ReadonlyArray<DroppedHeader>
      readonly groups: Groups
    }
  | { readonly _tag: "Rejected"; readonly rejection: HeaderRejection }

// ignoreBOM keeps a leading U+FEFF in the text (the default strips it, so "\ufeffowner" decoded
// as "owner"); FORBIDDEN then rejects it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/

/**
 * Node hands header bytes over as Latin-1; the proxy sends UTF-8. Undefined when the bytes are
 * not valid UTF-8 (a proxy sending Latin-1 is misconfigured: guessing would mint identities).
 */
export const decodeHeaderValue = (raw: string): string | undefined => {
  if (PRINTABLE_ASCII.test(raw)) return raw
  for (let i = 0; i < raw.length; i++) if (raw.charCodeAt(i) > 0xff) return undefined
  try {
    return utf8.decode(Buffer.from(raw, "latin1"))
  } catch {
    return undefined
  }
}

/**
 * Characters that have no place in an identity: C0/C1 controls (tab included), DEL, line and
 * paragraph separators, and bidirectional overrides that make one name display as another.
 */
export const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u

/*
 * Only HTTP's optional whitespace (space, tab) surrounds a value. `String.prototype.trim`
 * would also strip NBSP, U+3000 and the other Unicode spaces, turning "\u00a0alice" into
 * "alice": another identity, which the exact-value rule above forbids.
 */
const trimOws = (value: string): string => (OWS_AT_ENDS.test(value) ? value.replace(/^[ \t]+|[ \t]+$/g, "") : value)
const OWS_AT_ENDS = /^[ \t]|[ \t]$/

/*
 * A value that is nothing but a proxy's own unfilled placeholder: Caddy 2.6's `copy_headers`
 * sends `{http.reverse_proxy.header.Remote-User}` literally when the auth service's answer
 * lacks that header, which would sign in a "user" nobody vouched for (the instance's owner, as
 * the first). No directory names anyone that, so it is refused rather than believed.
 */
const UNFILLED_PLACEHOLDER = /^\{http\.[^{}]*\}$/

type Read =
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Value"; readonly value: string }
  | { readonly _tag: "Ambiguous"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly reason: string }

type Refused = Extract<Read, { readonly _tag: "Ambiguous" | "Invalid" }>

/** What a required header's refused read means to the client: sent twice is ambiguous, the rest invalid. */
const refusal = (header: string, read: Refused): HeaderRejection =>
  read._tag === "Ambiguous" ? ambiguous(header, read.reason) : invalid(header, read.reason)

/** The one value of a header: absent, rejected (sent twice, not UTF-8, control characters), or text. */
const readHeader = (config: ProxyAuthConfig, facts: RequestFacts, header: string): Read => {
  const values = facts.headers.get(header.toLowerCase())
  if (values === undefined || values.length === 0) return { _tag: "Absent" }
  if (values.length > 1) {
    // Decision 4: never joined, never first-wins.
    return { _tag: "Ambiguous", reason: `${header} was sent ${values.length} times` }
  }
  // Encoded-words decode to text that then meets every check below, like any other value.
  const words = config.headerEncoding === "rfc2047" ? decodeEncodedWords(values[0]!) : undefined
  if (words?._tag === "Malformed") return { _tag: "Invalid", reason: `${header} ${words.reason}` }
  const decoded = words?._tag === "Decoded" ? words.value : decodeHeaderValue(values[0]!)
  if (decoded === undefined) return { _tag: "Invalid", reason: `${header} is not valid UTF-8` }
  // Printable ASCII (most values) holds none of FORBIDDEN's characters: the Unicode scan is skipped.
  if (!PRINTABLE_ASCII.test(decoded) && FORBIDDEN.test(decoded)) {
    return { _tag: "Invalid", reason: `${header} contains control or formatting characters` }
  }
  const value = trimOws(decoded)
  if (value.startsWith("{") && UNFILLED_PLACEHOLDER.test(value))
    return { _tag: "Invalid", reason: `${header} is a proxy's unfilled placeholder` }
  // Nothing but Unicode spaces is no value at all; anything else is kept exactly.
  return { _tag: "Value", value: value.trim() === "" ? "" : value }
}

/**
 * Why a list of groups is refused, or undefined: each group is checked like an identity
 * (no control or formatting characters) and bounded (GROUP_LIMITS).
 */
export const groupsProblem = (groups: ReadonlyArray<string>): string | undefined => {
  if (groups.length > GROUP_LIMITS.count) return `holds ${groups.length} groups, more than ${GROUP_LIMITS.count}`
  let total = 0
  for (const group of groups) {
    if (FORBIDDEN.test(group)) return "holds a group with control or formatting characters"
    const bytes = Buffer.byteLength(group, "utf8")
    if (bytes > GROUP_LIMITS.groupBytes) return `holds a group longer than ${GROUP_LIMITS.groupBytes} bytes`
    total += bytes
  }
  return total > GROUP_LIMITS.totalBytes ? `holds more than ${GROUP_LIMITS.totalBytes} bytes of groups` : undefined
}

/** A groups header's value as its groups: split on the separator, each trimmed, empty items ignored. */
export const splitGroups = (value: string, separator: string): Array<string> =>
  value
    .split(separator)
    .map(trimOws)
    .filter((group) => group.trim() !== "")

/** The groups header, when configured: unknown when absent; sent twice, invalid or beyond the limits, refused. */
const readGroups = (config: ProxyAuthConfig, facts: RequestFacts): Groups | HeaderRejection => {
  const header = config.groupsHeader
  if (header === undefined) return undefined
  const raw = facts.headers.get(header.toLowerCase())
  // Bounded before it is decoded or split: a 16 KiB line of separators is not split into 8,000 items.
  if (raw !== undefined && raw.length === 1 && raw[0]!.length > GROUP_LIMITS.totalBytes) {
    return invalid(header, `${header} is longer than ${GROUP_LIMITS.totalBytes} bytes`)
  }
  const read = readHeader(config, facts, header)
  if (read._tag === "Absent") return undefined
  if (read._tag !== "Value") return refusal(header, read)
  const groups = splitGroups(read.value, config.groupsSeparator)
  const problem = groupsProblem(groups)
  return problem === undefined ? groups : invalid(header, `${header} ${problem}`)
}

const isRejection = (v: unknown): v is HeaderRejection => typeof v === "object" && v !== null && "error" in v

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/u

export const checkEmail = (v: string): string | undefined =>
  v.length > LIMITS.emailChars
    ? `longer than ${LIMITS.emailChars} characters`
    : EMAIL.test(v)
      ? undefined
      : "not an email address"

export const checkName = (v: string): string | undefined =>
  v.length > LIMITS.nameChars ? `longer than ${LIMITS.nameChars} characters` : undefined

export const checkPicture = (v: string): string | undefined => {
  if (v.length > LIMITS.pictureChars) return `longer than ${LIMITS.pictureChars} characters`
  let url: URL
  try {
    url = new URL(v)
  } catch {
    return "not an absolute URL"
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `scheme ${url.protocol} is not http or https`
  if (url.username !== "" || url.password !== "") return "URL carries credentials"
  return undefined
}

export const extractProfile = (config: ProxyAuthConfig, facts: RequestFacts): ProfileRead => {
  const header = config.userHeader
  const user = readHeader(config, facts, header)
  if (user._tag === "Absent") return { _tag: "Rejected", rejection: missing(header, `${header} is missing`) }
  if (user._tag !== "Value") return { _tag: "Rejected", rejection: refusal(header, user) }
  if (user.value === "") return { _tag: "Rejected", rejection: missing(header, `${header} is empty`) }
  if (Buffer.byteLength(user.value, "utf8") > LIMITS.identityBytes) {
    return { _tag: "Rejected", rejection: invalid(header, `${header} is longer than ${LIMITS.identityBytes} bytes`) }
  }

  const dropped: Array<DroppedHeader> = []
  const optional = (
    header: string | undefined,
    check: (v: string) => string | undefined
  ): string | null | HeaderRejection => {
    if (header === undefined) return null
    const read = readHeader(config, facts, header)
    switch (read._tag) {
      case "Absent":
        return null
      case "Ambiguous":
        // Sent twice is a forgery signal, not bad metadata: reject the request (Decision 4).
        return ambiguous(header, read.reason)
      case "Invalid":
        dropped.push({ header, reason: read.reason })
        return null
      case "Value": {
        if (read.value === "") return null
        const problem = check(read.value)
        if (problem === undefined) return read.value
        dropped.push({ header, reason: `${header} is ${problem}` })
        return null
      }
    }
  }
  const email = optional(config.emailHeader, checkEmail)
  const name = optional(config.nameHeader, checkName)
  const picture = optional(config.pictureHeader, checkPicture)
  for (const v of [email, name, picture]) {
    if (typeof v === "object" && v !== null) return { _tag: "Rejected", rejection: v }
  }
  const groups = readGroups(config, facts)
  if (isRejection(groups)) return { _tag: "Rejected", rejection: groups }

  return {
    _tag: "Ok",
    profile: {
      identity: `proxy:${user.value}` as Identity,
      email: email as string | null,
      name: name as string | null,
      picture: picture as string | null
    },
    dropped,
    groups
  }
}
