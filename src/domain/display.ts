/*
 * What may be shown to an operator: on a terminal (check-config, explain, start-up errors) or
 * in a log line. Values there come from peers, headers, YAML keys and variable names, so
 * control and formatting characters are shown as escapes (an ESC would otherwise retitle,
 * clear or recolour the operator's screen; U+202E would reorder the line), and long values
 * are cut with a marker giving their length. URLs lose their userinfo, parsed or not.
 */

/** C0, DEL, C1, Unicode format characters (bidi overrides, zero-width) and line separators. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu

const escape = (char: string): string => {
  const code = char.codePointAt(0)!
  if (char === "\n") return "\\n"
  if (char === "\r") return "\\r"
  if (char === "\t") return "\\t"
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`
}

/** Longest value shown whole; the rest is replaced by a marker with the full length. */
const MAX_SHOWN = 200

/** `text` safe to print: unprintable characters escaped, cut after `max` characters with a marker. */
export const printable = (text: string, max: number = MAX_SHOWN): string => {
  const cut = text.length > max ? text.slice(0, max) : text
  const shown = cut.replace(UNPRINTABLE, escape)
  return text.length > max ? `${shown}…[${text.length} characters]` : shown
}

/** Longest message or line shown whole (a sentence may quote a value or two). */
export const MAX_LINE = 1000

/** `"text"`, printable and cut: a value quoted inside a message. */
export const quoted = (text: string, max: number = MAX_SHOWN): string => `"${printable(text, max)}"`

/** `printable`, for multi-line text: each line on its own (newlines kept). */
export const printableLines = (text: string, max: number = MAX_SHOWN): string =>
  text
    .split("\n")
    .map((line) => printable(line, max))
    .join("\n")

/**
 * `text` with the userinfo of anything URL-shaped (`scheme://user:password@host…`) replaced
 * by `***`, and the value of every query parameter whose name says it holds a secret
 * (`password`, `sslpassword`, `pass%77ord`, `token`, `api_key`…). A URL that does not parse
 * loses everything from `://` to the last `@`, since its password may hold `@`, `/`, `:` or spaces.
 */
export const redactUrl = (text: string): string => redactQuery(redactUserinfo(text))

/** Schemes whose URLs WHATWG parses with `\\` as a path separator. */
const SPECIAL = new Set(["http:", "https:", "ws:", "wss:", "ftp:", "file:"])

const redactUserinfo = (text: string): string => {
  const start = text.indexOf("://")
  if (start < 0) return text
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {
    url = undefined
  }
  // Unparsed, a password may hold "/" or "@": everything up to the last "@" goes.
  if (url === undefined) return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^]*@/gi, "$1***@")
  // Parsed, the userinfo ends at the last "@" before the path, so the host shown is the real one.
  const rest = text.slice(start + 3)
  const end = rest.search(SPECIAL.has(url.protocol) ? /[/\\?#]/ : /[/?#]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  const at = authority.lastIndexOf("@")
  return at < 0 ? text : `${text.slice(0, start + 3)}***${rest.slice(at)}`
}

/** A query parameter whose name (percent-decoded) says it holds a secret. */
const SECRET_NAME = /pass|pwd|token|secret|key/i

const redactQuery = (text: string): string =>
  text.replace(/([?&;])([^=&#;\s]+)=([^&#;\s"]*)/g, (whole, separator: string, name: string) =>
    SECRET_NAME.test(decodeLoosely(name)) ? `${separator}${name}=***` : whole
  )

const decodeLoosely = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
