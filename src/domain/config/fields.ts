import { Context, Effect, Either, Option, ParseResult, Redacted, Schema } from "effect"
import { type Cidr, type CidrList, compileCidrs, parseCidr } from "../Address.js"
import { printable, quoted, redactUrl } from "../display.js"

/*
 * The value types a configuration key can have, as Schemas: each checks what is written (with
 * the message an operator reads), and decodes it into what the services use. Messages that
 * quote a value say what was written, so an operator finds it in the file.
 */

/** How a value reads in a message: its type and its text, printable and cut. */
export const describe = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "a list"
      : typeof value === "string"
        ? `string ${quoted(value)}`
        : `${typeof value} ${printable(JSON.stringify(value) ?? String(value))}`

/**
 * How `check-config` prints a key, given its value as written (undefined when unset);
 * `undefined` leaves the key out. Without it, a value prints as written (null when unset), and
 * one that decodes into a `Redacted` prints as `<redacted>`.
 */
export const Shown = Symbol.for("headtower/config/Shown")
export type Shown = (written: unknown) => unknown

const mustBe = (what: string) => (issue: ParseResult.ParseIssue) => `must be ${what}, got ${describe(issue.actual)}`

/** Fails a transformation with the message an operator reads. */
const refuse = (ast: ParseResult.Type["ast"], actual: unknown, message: string) =>
  ParseResult.fail(new ParseResult.Type(ast, actual, message))

export const Text = Schema.String.annotations({ message: mustBe("a string") })
export const Flag = Schema.Boolean.annotations({ message: mustBe("a boolean") })
const Num = Schema.Number.annotations({ message: mustBe("a number") })

/** A list of strings, each decoded by `item`. */
export const listOf = <A, I extends string>(item: Schema.Schema<A, I>) =>
  Schema.Array(item).annotations({
    message: (issue) => ({ message: mustBe("a list of strings")(issue), override: false })
  })

export const wholeNumber = (min: number, max: number, unit: string) =>
  Num.pipe(
    Schema.filter(
      (n) =>
        (Number.isInteger(n) && n >= min && n <= max) ||
        `must be a whole number of ${unit} from ${min} to ${max}, got ${n}`
    )
  )

/** One of a few words, e.g. the ip_header_mode. */
export const oneOf = <const W extends ReadonlyArray<string>>(...words: W) =>
  Text.pipe(
    Schema.filter((s): s is W[number] => words.includes(s), {
      message: (issue) => `must be one of ${words.join(", ")}, got ${JSON.stringify(issue.actual)}`
    })
  )

const isHttpUrl = (text: string): boolean => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** An http(s) URL, `what` says which; its userinfo never appears in a message or in `check-config`. */
const httpUrl = (what: string) =>
  Text.pipe(Schema.filter((s) => isHttpUrl(s) || `must be ${what}, got ${JSON.stringify(redactUrl(s))}`)).annotations({
    [Shown]: ((url: string | undefined) => (url === undefined ? null : redactUrl(url))) as Shown
  })

export const HttpUrl = httpUrl("an http(s) URL")

/** A base URL: trailing slashes dropped, so paths can be appended. */
export const BaseUrl = Schema.transform(HttpUrl, Schema.String, {
  decode: (s) => s.replace(/\/+$/, ""),
  encode: (s) => s
})

/** Absolute only: a path such as "//evil.example/" is protocol-relative, another host. */
export const LogoutUrl = httpUrl("an absolute http(s) URL")

/** RFC 9110 token: what a header field name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Headers HTTP itself gives a meaning, set by the client (or by each proxy for its own use) and
 * passed on by every proxy: named as an identity or client-IP header, the client would choose
 * its value. Lower case; a name ending in "-" is a prefix (`content-type`, `if-match`…).
 */
const HTTP_OWN_HEADERS = [
  "host",
  "authorization",
  "proxy-authorization",
  "cookie",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
  "via",
  "max-forwards",
  "user-agent",
  "referer",
  "origin",
  "accept",
  "accept-",
  "range",
  "if-",
  "cache-control",
  "pragma",
  "date",
  "content-"
]
export const isHttpOwnHeader = (name: string) => {
  const lower = name.toLowerCase()
  return HTTP_OWN_HEADERS.some((own) => (own.endsWith("-") ? lower.startsWith(own) : lower === own))
}

/** A valid header field name. */
export const HeaderToken = Text.pipe(
  Schema.filter((s) => TOKEN.test(s) || `${JSON.stringify(s)} is not a valid HTTP header name`)
)

/** A header a proxy sends: a valid name, and none the client sets by HTTP's own rules. */
export const HeaderName = HeaderToken.pipe(
  Schema.filter(
    (s) =>
      !isHttpOwnHeader(s) ||
      `"${s}" is a header HTTP itself defines, sent by the client and passed on by proxies: the client would choose its value; name a header only your proxy sets`
  )
)

const CidrSelf = Schema.declare((u: unknown): u is Cidr => typeof u === "object" && u !== null && "prefix" in u)

/** One CIDR as written; a network with host bits set is normalised (a warning says so). */
const CidrText = Schema.transformOrFail(Text, CidrSelf, {
  strict: true,
  decode: (text, _, ast) =>
    Either.match(parseCidr(text), {
      onLeft: (reason) => refuse(ast, text, `invalid CIDR ${JSON.stringify(text)}: ${reason}`),
      onRight: ({ cidr }) => ParseResult.succeed(cidr)
    }),
  encode: (cidr) => ParseResult.succeed(cidr.text)
})

const CidrListSelf = Schema.declare((u: unknown): u is CidrList => typeof u === "object" && u !== null && "match" in u)

/** A CIDR list, compiled once; never empty (neither "trust nobody" nor "everybody" by accident). */
export const Cidrs = Schema.transform(
  listOf(CidrText).pipe(
    Schema.filter((l) => l.length > 0 || "is empty; omit it for the localhost default, or name the addresses to trust")
  ),
  CidrListSelf,
  { strict: true, decode: (cidrs) => compileCidrs(cidrs), encode: (list) => list.cidrs }
)

const parseListen = (text: string): { host: string; port: number } | undefined => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  if (!match) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  return { host: (match[1] ?? match[2])!, port }
}

/** `host:port` (IPv6 as `[::1]:3000`). */
export const Listen = Schema.transformOrFail(Text, Schema.Struct({ host: Schema.String, port: Schema.Number }), {
  strict: true,
  decode: (text, _, ast) => {
    const listen = parseListen(text)
    return listen !== undefined
      ? ParseResult.succeed(listen)
      : refuse(ast, text, `must be "host:port" (IPv6 as "[::1]:3000"), got ${JSON.stringify(text)}`)
  },
  encode: ({ host, port }) => ParseResult.succeed(host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)
})

export const DatabaseConfig = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("sqlite"), path: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("postgres"), url: Schema.RedactedFromSelf(Schema.String) })
)

const parseDatabaseUrl = (text: string): typeof DatabaseConfig.Type | undefined => {
  if (text.startsWith("sqlite:")) {
    const path = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "")
    return path === "" ? undefined : { kind: "sqlite", path }
  }
  if (!/^postgres(ql)?:\/\//.test(text) || !URL.canParse(text)) return undefined
  return { kind: "postgres", url: Redacted.make(text) }
}

/** `sqlite:<path>` or `postgres://…`; a PostgreSQL URL is a secret (it may hold a password), a path is not. */
export const DatabaseUrl = Schema.transformOrFail(Text, DatabaseConfig, {
  strict: true,
  decode: (text, _, ast) => {
    const database = parseDatabaseUrl(text)
    return database !== undefined
      ? ParseResult.succeed(database)
      : refuse(
          ast,
          redactUrl(text),
          `must be "sqlite:<path>" or "postgres://user@host/db", got ${JSON.stringify(redactUrl(text))}`
        )
  },
  encode: (db) => ParseResult.succeed(db.kind === "sqlite" ? `sqlite:${db.path}` : Redacted.value(db.url))
}).annotations({ [Shown]: ((url: string) => redactUrl(url)) as Shown })

/** The Headscale API key: trimmed; it goes into an Authorization header, so visible ASCII only. */
export const ApiKey = Schema.compose(
  Schema.transform(Text, Schema.String, { decode: (s) => s.trim(), encode: (s) => s }).pipe(
    Schema.filter((key) => key !== "" || "the API key is empty"),
    Schema.filter(
      (key) => /^[\x21-\x7e]+$/.test(key) || "the API key contains spaces or characters that cannot be sent in a header"
    )
  ),
  Schema.Redacted(Schema.String)
)

/** Reads the files a configuration names (the API key's), so the description stays pure. */
export class ConfigFiles extends Context.Tag("headtower/ConfigFiles")<
  ConfigFiles,
  {
    /**
     * Reads a whole text file of at most `maxBytes` (the key file's bound when not given);
     * Left carries the reason (e.g. "ENOENT: no such file").
     */
    readonly readText: (path: string, maxBytes?: number) => Either.Either<string, string>
  }
>() {}
export type FileReader = typeof ConfigFiles.Service

/** A file's path, decoded into the file's text (printed by what it decodes into, not itself). */
export const FileText = Schema.transformOrFail(Text, Schema.String, {
  strict: true,
  decode: (path, _, ast) =>
    Effect.flatMap(ConfigFiles, (files) =>
      Either.match(files.readText(path), {
        onLeft: (reason) => refuse(ast, path, `cannot read ${JSON.stringify(path)}: ${reason}`),
        onRight: ParseResult.succeed
      })
    ),
  encode: (text) => ParseResult.succeed(text)
}).annotations({ [Shown]: () => undefined })

/** A key that may be left out: its default is written as in the file, and decoded like any value. */
export const key = <A, I>(name: string, schema: Schema.Schema<A, I>, fallback: I) =>
  Schema.optionalWith(schema, { exact: true, default: () => Schema.decodeSync(schema)(fallback) }).pipe(
    Schema.fromKey(name)
  )

/** A key with no default: absent in the file, `undefined` in the decoded value. */
export const optionalKey = <A, I, R>(name: string, schema: Schema.Schema<A, I, R>) =>
  Schema.optionalToOptional(schema, Schema.UndefinedOr(Schema.typeSchema(schema)), {
    decode: (value) => value,
    encode: (value) => Option.filter(value, (a): a is A => a !== undefined)
  }).pipe(Schema.fromKey(name))

/** A section: always present once decoded (an absent one reads as empty, so its defaults apply). */
export const section = <A, I, R>(name: string, schema: Schema.Schema<A, I, R>) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(name))
