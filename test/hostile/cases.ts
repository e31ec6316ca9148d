import type { ProxyAuthYaml } from "../e2e/support/headtower.js"
import type { HeaderLine } from "../e2e/support/rawSocket.js"

/*
 * What hostile requests were tried and what the real server must answer. Each row is sent as
 * raw bytes from a chosen loopback address; docs/security.md summarises this table.
 *
 * Servers (see hostile-requests.test.ts): `direct` trusts only PROXY's socket address;
 * `xff`, `forwarded` and `realip` read that ip_header from PROXY and allow CLIENT;
 * `nginx` is a real nginx doing basic auth in front of `direct`, `nginxXff` one that
 * overwrites X-Forwarded-For in front of `xff`.
 */

export const PROXY = "127.0.0.2"
export const STRANGER = "127.0.0.3"
export const CLIENT = "127.0.0.5"
export const CLIENT_V6 = "2001:db8::5"
export const OTHER_CLIENT = "127.0.0.6"

/** The `direct` server's proxy_auth, wherever its rows are replayed (plain, over TLS). */
export const DIRECT_PROXY_AUTH: ProxyAuthYaml = {
  allowed_cidrs: [`${PROXY}/32`],
  groups_header: "Remote-Groups",
  role_mapping: { admin: ["ops"] }
}

export type Target = "direct" | "xff" | "forwarded" | "realip" | "nginx" | "nginxXff"

/** Profile fields as stored; null means "must not be stored". */
export interface Stored {
  readonly email?: string | null
  readonly name?: string | null
  readonly picture?: string | null
  readonly role?: "owner" | "admin" | "member"
}

export type Expectation =
  | { readonly status: 200; readonly identity: string; readonly stored?: Stored }
  /** `tag` undefined: the answer is not Headtower's JSON (Node's parser or nginx answered). */
  | { readonly status: number; readonly tag: string | undefined }

export interface HostileCase {
  readonly group: string
  readonly name: string
  readonly target: Target
  /** Source address; PROXY unless said. */
  readonly from?: string
  readonly lines: ReadonlyArray<HeaderLine>
  readonly expect: Expectation
}

const h = (name: string, value: string): string => `${name}: ${value}`
const user = (value: string) => h("Remote-User", value)
/** One header line byte for byte: each char of `text` is one byte (Latin-1). */
const bytes = (text: string): Buffer => Buffer.from(text, "latin1")
/** A header line whose value is the given bytes. */
const rawValue = (name: string, value: ReadonlyArray<number> | Buffer): Buffer =>
  Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value as Array<number>)])

const ok = (identity: string, stored?: Stored): Expectation =>
  stored === undefined ? { status: 200, identity } : { status: 200, identity, stored }
const rejected = (status: number, tag: string | undefined): Expectation => ({ status, tag })
/** Node's HTTP parser refused the request before any Headtower code ran. */
const parser400 = rejected(400, undefined)
/** Past the header limits: refused whole, with the typed 431 (issue 11). */
const tooLarge = rejected(431, "RequestHeadersTooLarge")
const ambiguous = rejected(400, "AmbiguousHeader")
const invalid = rejected(400, "InvalidHeader")
const missing = rejected(401, "MissingIdentityHeader")
const notAllowed = rejected(403, "ClientNotAllowed")
const badForwarded = rejected(400, "InvalidForwardedAddress")

const xffEntries = (first: string, count: number) =>
  [first, ...Array.from({ length: count - 1 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)].join(", ")
const basic = (who: string) => h("Authorization", `Basic ${Buffer.from(`${who}:${who}-password`).toString("base64")}`)

const direct = (
  group: string,
  name: string,
  lines: ReadonlyArray<HeaderLine>,
  expect: Expectation,
  from?: string
): HostileCase =>
  from === undefined
    ? { group, name, target: "direct", lines, expect }
    : { group, name, target: "direct", lines, expect, from }

const duplicates: Array<HostileCase> = [
  direct("duplicates", "Remote-User twice with different values", [user("dup-a"), user("dup-b")], ambiguous),
  direct("duplicates", "Remote-User twice with the same value", [user("dup-a"), user("dup-a")], ambiguous),
  direct(
    "duplicates",
    "Remote-User and remote-user (different case)",
    [user("dup-c"), h("remote-user", "dup-c")],
    ambiguous
  ),
  direct(
    "duplicates",
    "REMOTE-USER: owner and Remote-User: other",
    [h("REMOTE-USER", "owner"), user("dup-d")],
    ambiguous
  ),
  direct(
    "duplicates",
    "Remote-Email twice",
    [user("dup-e"), h("Remote-Email", "a@example.com"), h("Remote-Email", "b@example.com")],
    ambiguous
  ),
  direct(
    "duplicates",
    "Remote-Picture twice",
    [user("dup-f"), h("Remote-Picture", "https://a.example/p.png"), h("remote-picture", "https://b.example/p.png")],
    ambiguous
  ),
  direct(
    "duplicates",
    "Remote-Name twice in different case",
    [user("dup-g"), h("Remote-Name", "A"), h("REMOTE-NAME", "B")],
    ambiguous
  ),
  direct(
    "duplicates",
    "a comma inside one Remote-User value is part of the identity, not a list",
    [user("owner, mallory")],
    ok("owner, mallory", { role: "member" })
  )
]

const underscores: Array<HostileCase> = [
  direct("underscores", "Remote_User when the configured header is Remote-User", [h("Remote_User", "owner")], missing),
  direct("underscores", "remote_user in lower case", [h("remote_user", "owner")], missing),
  direct(
    "underscores",
    "Remote_User: owner beside Remote-User: other authenticates the other",
    [h("Remote_User", "owner"), user("under-ok")],
    ok("under-ok", { role: "member" })
  ),
  direct("underscores", "RemoteUser (no separator)", [h("RemoteUser", "owner")], missing)
]

const framing: Array<HostileCase> = [
  direct("framing", "obs-fold continuation line (space)", [bytes("Remote-User: fold\r\n continued")], parser400),
  direct("framing", "obs-fold continuation line (tab)", [bytes("Remote-User: fold\r\n\tcontinued")], parser400),
  direct("framing", "bare CR inside the value", [bytes("Remote-User: a\rb")], parser400),
  direct(
    "framing",
    "bare LF splitting a second Remote-User",
    [bytes("Remote-User: lf-a\nRemote-User: owner")],
    parser400
  ),
  direct("framing", "space between the header name and the colon", ["Remote-User : owner"], parser400),
  direct("framing", "empty header name", [": x", user("empty-name")], parser400),
  direct("framing", "invalid character in a header name", ["Remote@User: owner", user("bad-name")], parser400),
  direct(
    "framing",
    "CRLF in the value is a second header line: two Remote-User",
    [bytes("Remote-User: crlf\r\nRemote-User: owner")],
    ambiguous
  ),
  direct(
    "framing",
    "CRLF after Remote-Email smuggling a Remote-User",
    [user("crlf-email"), bytes("Remote-Email: a@example.com\r\nRemote-User: owner")],
    ambiguous
  ),
  direct(
    "framing",
    "bare CR in Remote-Email",
    [user("cr-email"), bytes("Remote-Email: a@example.com\rBcc: b@example.com")],
    parser400
  ),
  direct(
    "framing",
    "percent-encoded CRLF in Remote-Email is not an address: dropped",
    [user("pct-email"), h("Remote-Email", "a@example.com%0d%0aBcc:x@example.com")],
    ok("pct-email", { email: null })
  ),
  direct(
    "framing",
    "U+2028 in Remote-Email: dropped",
    [user("ls-email"), h("Remote-Email", "a@exam\u2028ple.com")],
    ok("ls-email", { email: null })
  ),
  direct(
    "framing",
    "two addresses in Remote-Email: dropped",
    [user("two-email"), h("Remote-Email", "a@example.com, b@example.com")],
    ok("two-email", { email: null })
  ),
  direct(
    "framing",
    "a valid Remote-Email is stored",
    [user("good-email"), h("Remote-Email", "good@example.com")],
    ok("good-email", { email: "good@example.com" })
  )
]

const controls: Array<HostileCase> = [
  direct("controls", "NUL in Remote-User", [bytes("Remote-User: own\x00er")], parser400),
  direct("controls", "0x01 in Remote-User", [bytes("Remote-User: own\x01er")], parser400),
  direct("controls", "DEL in Remote-User", [bytes("Remote-User: own\x7fer")], parser400),
  direct("controls", "ESC in Remote-User", [bytes("Remote-User: own\x1b[2Jer")], parser400),
  direct("controls", "vertical tab in Remote-User", [bytes("Remote-User: own\x0ber")], parser400),
  direct("controls", "tab inside Remote-User", [bytes("Remote-User: own\ter")], invalid),
  direct(
    "controls",
    "tabs around Remote-User are optional whitespace",
    [bytes("Remote-User: \ttabbed\t")],
    ok("tabbed")
  ),
  direct("controls", "C1 control U+0085 (UTF-8) in Remote-User", [user("own\u0085er")], invalid),
  direct("controls", "line separator U+2028 in Remote-User", [user("own\u2028er")], invalid),
  direct("controls", "right-to-left override U+202E in Remote-User", [user("\u202erenwo")], invalid),
  direct("controls", "bidi isolate U+2066 in Remote-User", [user("own\u2066er")], invalid),
  direct("controls", "byte-order mark before Remote-User", [user("\ufeffowner")], invalid),
  direct(
    "controls",
    "tab in Remote-Name: dropped, login goes on",
    [user("tab-name"), bytes("Remote-Name: A\tB")],
    ok("tab-name", { name: null })
  ),
  direct("controls", "NUL in Remote-Name", [user("nul-name"), bytes("Remote-Name: A\x00B")], parser400),
  direct(
    "controls",
    "zero-width joiner is kept: a distinct identity",
    [user("own\u200der")],
    ok("own\u200der", { role: "member" })
  )
]

const kib = (n: number, c = "a") => c.repeat(n * 1024)
const sizes: Array<HostileCase> = [
  direct("sizes", "8 KiB Remote-User", [user(kib(8))], invalid),
  direct("sizes", "64 KiB Remote-User", [user(kib(64))], tooLarge),
  direct("sizes", "Remote-User of exactly 256 bytes", [user("b".repeat(256))], ok("b".repeat(256))),
  direct("sizes", "Remote-User of 257 bytes", [user("b".repeat(257))], invalid),
  direct("sizes", "Remote-User of 128 two-byte characters (256 bytes)", [user("é".repeat(128))], ok("é".repeat(128))),
  direct(
    "sizes",
    "8 KiB Remote-Name: dropped",
    [user("big-name"), h("Remote-Name", kib(8))],
    ok("big-name", { name: null })
  ),
  direct(
    "sizes",
    "8 KiB Remote-Picture: dropped",
    [user("big-picture"), h("Remote-Picture", `https://images.example/${kib(8)}`)],
    ok("big-picture", { picture: null })
  ),
  direct(
    "sizes",
    "64 KiB spread over many headers",
    Array.from({ length: 40 }, (_, i) => h(`X-Pad-${i}`, kib(1.6))).concat(user("pad")),
    tooLarge
  ),
  direct(
    "sizes",
    "12 KiB of other headers beside a valid Remote-User",
    Array.from({ length: 8 }, (_, i) => h(`X-Pad-${i}`, kib(1.5))).concat(user("padded")),
    ok("padded")
  )
]

const empties: Array<HostileCase> = [
  direct("empty", "empty Remote-User", ["Remote-User:"], missing),
  direct("empty", "spaces-only Remote-User", ["Remote-User:     "], missing),
  direct("empty", "spaces and tabs only", [bytes("Remote-User: \t \t ")], missing),
  direct("empty", "only Unicode spaces (NBSP, U+3000)", [user("\u00a0\u3000")], missing),
  direct(
    "empty",
    "empty Remote-Email: no email",
    [user("empty-email"), "Remote-Email:"],
    ok("empty-email", { email: null })
  ),
  direct(
    "empty",
    "NBSP before owner is another identity, not the owner",
    [user("\u00a0owner")],
    ok("\u00a0owner", { role: "member" })
  ),
  direct(
    "empty",
    "ideographic space after owner is another identity",
    [user("owner\u3000")],
    ok("owner\u3000", { role: "member" })
  )
]

const utf8: Array<HostileCase> = [
  direct("utf-8", "UTF-8 André", [user("André")], ok("André")),
  direct("utf-8", "emoji (4-byte UTF-8)", [user("rocket-\u{1f680}")], ok("rocket-\u{1f680}")),
  direct("utf-8", "invalid UTF-8 (C3 28)", [rawValue("Remote-User", [0x61, 0xc3, 0x28])], invalid),
  direct("utf-8", "overlong encoding of / (C0 AF)", [rawValue("Remote-User", [0x61, 0xc0, 0xaf])], invalid),
  direct("utf-8", "Latin-1 André (E9)", [rawValue("Remote-User", Buffer.from("André", "latin1"))], invalid),
  direct(
    "utf-8",
    "UTF-16 surrogate encoded as UTF-8 (ED A0 80)",
    [rawValue("Remote-User", [0x61, 0xed, 0xa0, 0x80])],
    invalid
  ),
  direct("utf-8", "truncated sequence (E2 82)", [rawValue("Remote-User", [0x61, 0xe2, 0x82])], invalid),
  direct("utf-8", "byte FF", [rawValue("Remote-User", [0x6f, 0xff])], invalid),
  direct(
    "utf-8",
    "invalid UTF-8 in Remote-Name: dropped",
    [user("bad-utf8-name"), rawValue("Remote-Name", [0xc3, 0x28])],
    ok("bad-utf8-name", { name: null })
  )
]

const percent: Array<HostileCase> = [
  direct("percent", "%6fwner is not decoded to owner", [user("%6fwner")], ok("%6fwner", { role: "member" })),
  direct("percent", "owner%00 stays literal", [user("owner%00")], ok("owner%00", { role: "member" })),
  direct(
    "percent",
    "percent-encoded CRLF stays literal",
    [user("owner%0d%0aRemote-User:%20x")],
    ok("owner%0d%0aRemote-User:%20x", { role: "member" })
  )
]

// Decided in src/domain/IdentityHeaders.ts: exact values, no normalisation.
export const LOOKALIKES = ["José", "Jose\u0301", "ｏｗｎｅｒ", "Owner", "\u043ewner"] as const
const lookalikes: Array<HostileCase> = [
  direct("lookalikes", "NFC José", [user(LOOKALIKES[0])], ok(LOOKALIKES[0], { role: "member" })),
  direct(
    "lookalikes",
    "NFD José (e + combining acute) is another identity",
    [user(LOOKALIKES[1])],
    ok(LOOKALIKES[1], { role: "member" })
  ),
  direct(
    "lookalikes",
    "full-width ｏｗｎｅｒ is not owner",
    [user(LOOKALIKES[2])],
    ok(LOOKALIKES[2], { role: "member" })
  ),
  direct("lookalikes", "Owner (capital) is not owner", [user(LOOKALIKES[3])], ok(LOOKALIKES[3], { role: "member" })),
  direct("lookalikes", "Cyrillic о in оwner is not owner", [user(LOOKALIKES[4])], ok(LOOKALIKES[4], { role: "member" }))
]

const picture = (name: string, url: string, stored: string | null): HostileCase =>
  direct("pictures", name, [user("pic-user"), h("Remote-Picture", url)], ok("pic-user", { picture: stored }))
const pictures: Array<HostileCase> = [
  picture("javascript: URL is never stored", "javascript:alert(document.domain)", null),
  picture("mixed-case JaVaScRiPt: URL", "JaVaScRiPt:alert(1)", null),
  picture("javascript: after leading spaces", "    javascript:alert(1)", null),
  picture("data:image/png URL", "data:image/png;base64,iVBORw0KGgo=", null),
  picture("data:text/html URL", "data:text/html,<script>alert(1)</script>", null),
  picture("vbscript: URL", "vbscript:msgbox(1)", null),
  picture("file: URL", "file:///etc/passwd", null),
  picture("protocol-relative URL", "//evil.example/a.png", null),
  picture("URL with credentials", "https://user:secret@images.example/a.png", null),
  picture("an https URL is stored", "https://images.example/ok.png", "https://images.example/ok.png"),
  picture("an http URL is stored", "http://images.example/ok.png", "http://images.example/ok.png"),
  direct(
    "pictures",
    "tab inside javascript: is a control character: dropped",
    [user("pic-tab"), bytes("Remote-Picture: java\tscript:alert(1)")],
    ok("pic-tab", { picture: null })
  )
]

const spoofDirect: Array<HostileCase> = [
  direct(
    "spoofing, no ip_header",
    "X-Forwarded-For naming the proxy from a stranger",
    [user("owner"), h("X-Forwarded-For", PROXY)],
    notAllowed,
    STRANGER
  ),
  direct(
    "spoofing, no ip_header",
    "X-Real-IP naming the proxy from a stranger",
    [user("owner"), h("X-Real-IP", PROXY)],
    notAllowed,
    STRANGER
  ),
  direct(
    "spoofing, no ip_header",
    "Forwarded naming the proxy from a stranger",
    [user("owner"), h("Forwarded", `for=${PROXY}`)],
    notAllowed,
    STRANGER
  ),
  direct(
    "spoofing, no ip_header",
    "all three from 127.0.0.1 (localhost, not in allowed_cidrs)",
    [user("owner"), h("X-Forwarded-For", PROXY), h("X-Real-IP", PROXY), h("Forwarded", `for=${PROXY}`)],
    notAllowed,
    "127.0.0.1"
  ),
  direct(
    "spoofing, no ip_header",
    "a stranger learns nothing about header problems (Remote-User twice)",
    [user("a"), user("b")],
    notAllowed,
    STRANGER
  ),
  direct(
    "spoofing, no ip_header",
    "X-Forwarded-For from the proxy is ignored when ip_header is unset",
    [user("xff-ignored"), h("X-Forwarded-For", STRANGER)],
    ok("xff-ignored")
  )
]

const xff = (name: string, value: string | undefined, expect: Expectation, from = PROXY): HostileCase => ({
  group: "X-Forwarded-For (first mode)",
  name,
  target: "xff",
  from,
  lines: value === undefined ? [user("xff-user")] : [user("xff-user"), h("X-Forwarded-For", value)],
  expect
})
const XFF_OK = ok("xff-user")
const xffCases: Array<HostileCase> = [
  xff("from a stranger naming the allowed client", CLIENT, notAllowed, STRANGER),
  xff("from the allowed client itself, naming a stranger: header ignored, socket judged", STRANGER, XFF_OK, CLIENT),
  xff("trusted proxy sends none", undefined, badForwarded),
  xff("trusted proxy sends it empty", "", badForwarded),
  xff("garbage", "definitely-not-an-ip", badForwarded),
  xff("allowed client", CLIENT, XFF_OK),
  xff("IPv4 with a port", `${CLIENT}:8080`, XFF_OK),
  xff("bracketed IPv6 with a port", `[${CLIENT_V6}]:443`, XFF_OK),
  xff("bracketed IPv6", `[${CLIENT_V6}]`, XFF_OK),
  xff("bare IPv6", CLIENT_V6, XFF_OK),
  xff("another IPv6", "[2001:db8::6]", notAllowed),
  xff("IPv4-mapped IPv6 of the allowed client", `::ffff:${CLIENT}`, XFF_OK),
  xff("IPv4-mapped IPv6 in hex", "::ffff:7f00:5", XFF_OK),
  xff("bracketed IPv4-mapped with a port", `[::ffff:${CLIENT}]:80`, XFF_OK),
  xff("IPv4-compatible ::127.0.0.5 is not the IPv4 address", `::${CLIENT}`, notAllowed),
  xff("IPv6 with a zone ID (zone ignored)", `${CLIENT_V6}%eth0`, XFF_OK),
  xff("empty zone ID", `${CLIENT_V6}%`, badForwarded),
  xff("zone ID on IPv4", `${CLIENT}%eth0`, badForwarded),
  xff("unknown", "unknown", badForwarded),
  xff("obfuscated identifier", "_hidden", badForwarded),
  xff("short IPv4 form 127.1", "127.1", badForwarded),
  xff("hex IPv4 form", "0x7f.0.0.5", badForwarded),
  xff("zero-padded octets", "127.000.000.005", badForwarded),
  xff("full-width digits", "１２７.0.0.5", badForwarded),
  xff("bracketed IPv4", `[${CLIENT}]`, badForwarded),
  xff("first entry allowed, then a stranger", `${CLIENT}, ${STRANGER}`, XFF_OK),
  xff("first entry a stranger, then the allowed client", `${STRANGER}, ${CLIENT}`, notAllowed),
  xff("empty first entry", `,${CLIENT}`, badForwarded),
  xff("100 entries, the first allowed", xffEntries(CLIENT, 100), XFF_OK),
  xff("101 entries", xffEntries(CLIENT, 101), badForwarded),
  xff("500 entries", xffEntries(CLIENT, 500), badForwarded),
  {
    group: "X-Forwarded-For (first mode)",
    name: "sent twice by the proxy's client",
    target: "xff",
    lines: [user("xff-user"), h("X-Forwarded-For", CLIENT), h("X-Forwarded-For", CLIENT)],
    expect: ambiguous
  },
  {
    group: "X-Forwarded-For (first mode)",
    name: "allowed client with Remote-User twice: the header problem is reported",
    target: "xff",
    lines: [user("a"), user("b"), h("X-Forwarded-For", CLIENT)],
    expect: ambiguous
  },
  {
    group: "X-Forwarded-For (first mode)",
    name: "disallowed client with Remote-User twice learns only ClientNotAllowed",
    target: "xff",
    lines: [user("a"), user("b"), h("X-Forwarded-For", STRANGER)],
    expect: notAllowed
  }
]

const fwd = (name: string, value: string, expect: Expectation, from = PROXY): HostileCase => ({
  group: "Forwarded (rightmost_untrusted mode)",
  name,
  target: "forwarded",
  from,
  lines: [user("fwd-user"), h("Forwarded", value)],
  expect
})
const FWD_OK = ok("fwd-user")
const forwardedCases: Array<HostileCase> = [
  fwd("for= the allowed client", `for=${CLIENT}`, FWD_OK),
  fwd("quoted bracketed IPv6 with a port", `for="[${CLIENT_V6}]:4711"`, FWD_OK),
  fwd("parameter name in upper case", `FOR=${CLIENT}`, FWD_OK),
  fwd("for=unknown", "for=unknown", badForwarded),
  fwd("obfuscated node", "for=_hidden", badForwarded),
  fwd("with proto and by", `for=${CLIENT};proto=https;by=_proxy`, FWD_OK),
  fwd("client first, a stranger appended last", `for=${CLIENT}, for=${STRANGER}`, notAllowed),
  fwd("a stranger first, the client appended last", `for=${STRANGER}, for=${CLIENT}`, FWD_OK),
  fwd("trusted proxy hop skipped from the right", `for=${CLIENT}, for=${PROXY}`, FWD_OK),
  fwd("unquoted brackets are a syntax error", `for=[${CLIENT_V6}]`, badForwarded),
  fwd("unterminated quoted string", `for="${CLIENT}`, badForwarded),
  fwd("unbracketed IPv6 in quotes", `for="${CLIENT_V6}"`, badForwarded),
  fwd("obfuscated port", `for="${CLIENT}:_abc"`, FWD_OK),
  fwd(
    "100 elements, the client last (at the limit)",
    [...Array.from({ length: 99 }, () => `for=${STRANGER}`), `for=${CLIENT}`].join(","),
    FWD_OK
  ),
  fwd(
    "101 elements (one over): refused, not cut to 100",
    [...Array.from({ length: 100 }, () => `for=${STRANGER}`), `for=${CLIENT}`].join(","),
    badForwarded
  ),
  fwd("300 elements", Array.from({ length: 300 }, () => `for=${CLIENT}`).join(","), badForwarded),
  fwd("two for= in one element", `for=${CLIENT};for=${OTHER_CLIENT}`, badForwarded),
  fwd("empty", "", badForwarded),
  fwd("from a stranger naming the client", `for=${CLIENT}`, notAllowed, STRANGER)
]

const realIp = (name: string, lines: ReadonlyArray<string>, expect: Expectation, from = PROXY): HostileCase => ({
  group: "X-Real-IP",
  name,
  target: "realip",
  from,
  lines: [user("realip-user"), ...lines],
  expect
})
const realIpCases: Array<HostileCase> = [
  realIp("the allowed client", [h("X-Real-IP", CLIENT)], ok("realip-user")),
  realIp("surrounded by spaces", [h("X-Real-IP", `   ${CLIENT}   `)], ok("realip-user")),
  realIp("sent twice", [h("X-Real-IP", CLIENT), h("x-real-ip", CLIENT)], ambiguous),
  realIp("a list where one address is expected", [h("X-Real-IP", `${CLIENT}, ${STRANGER}`)], badForwarded),
  realIp("with a port", [h("X-Real-IP", `${CLIENT}:80`)], badForwarded),
  realIp("from a stranger naming the client", [h("X-Real-IP", CLIENT)], notAllowed, STRANGER)
]

const viaNginx = (
  name: string,
  lines: ReadonlyArray<HeaderLine>,
  expect: Expectation,
  target: Target = "nginx",
  from = OTHER_CLIENT
): HostileCase => ({
  group: "through nginx",
  name,
  target,
  from,
  lines,
  expect
})
const nginxCases: Array<HostileCase> = [
  viaNginx("bob claiming Remote-User: owner gets bob", [basic("bob"), user("owner")], ok("bob")),
  viaNginx(
    "bob sending Remote-User twice gets bob",
    [basic("bob"), user("owner"), h("remote-user", "owner")],
    ok("bob")
  ),
  viaNginx(
    "bob sending Remote_User: owner gets bob (nginx drops underscores)",
    [basic("bob"), h("Remote_User", "owner")],
    ok("bob")
  ),
  viaNginx(
    "Connection: Remote-User does not make nginx drop the header it sets",
    [basic("bob"), "Connection: Remote-User", user("owner")],
    ok("bob")
  ),
  viaNginx(
    "Connection: close, Remote-User, Authorization still signs bob in",
    [basic("bob"), "Connection: close, Remote-User, Authorization"],
    ok("bob")
  ),
  viaNginx(
    "Connection: Remote-Picture with a javascript: picture stores nothing",
    [basic("bob"), "Connection: Remote-Picture", h("Remote-Picture", "javascript:alert(1)")],
    ok("bob", { picture: null })
  ),
  viaNginx("no credentials, Remote-User: owner: nginx answers 401", [user("owner")], rejected(401, undefined)),
  viaNginx("obs-fold: nginx answers 400 itself", [basic("bob"), bytes("X-Note: a\r\n b")], rejected(400, undefined)),
  viaNginx(
    "NUL in a header: nginx answers 400 itself",
    [basic("bob"), bytes("X-Note: a\x00b")],
    rejected(400, undefined)
  ),
  viaNginx(
    "Connection: X-Forwarded-For with a spoofed allowed address from another client",
    [basic("bob"), "Connection: X-Forwarded-For", h("X-Forwarded-For", CLIENT)],
    notAllowed,
    "nginxXff",
    OTHER_CLIENT
  ),
  viaNginx(
    "X-Forwarded-For overwritten by nginx: the allowed client gets in",
    [basic("bob"), h("X-Forwarded-For", STRANGER)],
    ok("bob"),
    "nginxXff",
    CLIENT
  )
]

/** `direct` maps Remote-Groups with `role_mapping: { admin: [ops] }` (issue 17). */
const groupsHeader = (value: string) => h("Remote-Groups", value)
const groupsCases: Array<HostileCase> = [
  direct(
    "groups",
    "Remote-Groups sent twice: ambiguous, never joined",
    [user("g-dup"), groupsHeader("staff"), groupsHeader("ops")],
    ambiguous
  ),
  direct(
    "groups",
    "dev, ops maps to admin",
    [user("g-admin"), groupsHeader("dev, ops")],
    ok("g-admin", { role: "admin" })
  ),
  direct(
    "groups",
    "empty Remote-Groups: no groups, a member",
    [user("g-empty"), groupsHeader("")],
    ok("g-empty", { role: "member" })
  ),
  direct(
    "groups",
    "another separator inside a value: 'ops|x' is one unmapped group",
    [user("g-pipe"), groupsHeader("ops|x")],
    ok("g-pipe", { role: "member" })
  ),
  direct(
    "groups",
    'a quoted "ops,dev" is split like any value: no group named ops',
    [user("g-quoted"), groupsHeader('"ops,dev"')],
    ok("g-quoted", { role: "member" })
  ),
  direct("groups", "a tab inside a group", [user("g-tab"), groupsHeader("ops\tadmin")], invalid),
  direct("groups", "NUL inside a group", [user("g-nul"), rawValue("Remote-Groups", bytes("ops\x00"))], parser400),
  direct(
    "groups",
    "bytes that are not UTF-8",
    [user("g-latin1"), rawValue("Remote-Groups", [0x6f, 0x70, 0x73, 0xe9])],
    invalid
  ),
  direct(
    "groups",
    "a bidi override in a group",
    [user("g-bidi"), rawValue("Remote-Groups", Buffer.from("ops,\u202eadmin", "utf8"))],
    invalid
  ),
  direct(
    "groups",
    "257 groups: beyond the limit, refused whole (not the first 256)",
    [user("g-257"), groupsHeader(["ops", ...Array.from({ length: 256 }, (_, i) => `g${i}`)].join(","))],
    invalid
  ),
  direct("groups", "a group of 257 bytes", [user("g-long"), groupsHeader(`ops,${"g".repeat(257)}`)], invalid),
  direct(
    "groups",
    "10,000 separators (9.8 KiB, no group)",
    [user("g-seps"), groupsHeader(",".repeat(10_000))],
    invalid
  ),
  direct(
    "groups",
    "10,000 groups (58 KiB)",
    [user("g-10k"), groupsHeader(Array.from({ length: 10_000 }, (_, i) => `g${i}`).join(","))],
    tooLarge
  )
]

export const CASES: ReadonlyArray<HostileCase> = [
  ...groupsCases,
  ...duplicates,
  ...underscores,
  ...framing,
  ...controls,
  ...sizes,
  ...empties,
  ...utf8,
  ...percent,
  ...lookalikes,
  ...pictures,
  ...spoofDirect,
  ...xffCases,
  ...forwardedCases,
  ...realIpCases,
  ...nginxCases
]
