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
  text.split("\n").map((line) => printable(line, max)).join("\n")

/**
 * `text` with the userinfo of anything URL-shaped (`scheme://user:password@host…`) replaced
 * by `***` (and a `password=` query parameter's value). It does not need the URL to parse: everything from `://` to the last `@` goes,
 * since a malformed URL's password may itself hold `@`, `/`, `:` or spaces.
 */
export const redactUrl = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^]*@/gi, "$1***@").replace(/([?&](?:password|pass|pwd)=)[^&#\s"]*/gi, "$1***")
