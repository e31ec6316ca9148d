/*
 * RFC 2047 encoded-words in a header value, as `tailscale serve` sends a non-ASCII login or
 * display name (Go's mime.QEncoding.Encode: `=?utf-8?q?Ren=C3=A9e?=`, split into several words
 * separated by a space when long). Strict, because the result is an identity: only the utf-8
 * charset, Q or B encoding, each word a whole number of valid UTF-8 characters, and a value
 * holding "=?" must be nothing but encoded-words. Anything else is malformed: the caller
 * refuses it, never passes it on raw.
 */

export type EncodedWordsRead =
  | { readonly _tag: "Plain" }
  | { readonly _tag: "Decoded"; readonly value: string }
  | { readonly _tag: "Malformed"; readonly reason: string }

const WORD = /^=\?([^?]*)\?([^?]*)\?([^?]*)\?=$/
const Q_TEXT = /^(?:[\x21-\x3c\x3e\x40-\x7e]|=[0-9A-Fa-f]{2})*$/
const B_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const decodeQ = (text: string): Buffer => {
  const bytes: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "=") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(c === "_" ? 0x20 : c.charCodeAt(0))
  }
  return Buffer.from(bytes)
}

const decodeWord = (word: string): string | { readonly malformed: string } => {
  const m = WORD.exec(word)
  if (m === null) return { malformed: "is not a sequence of RFC 2047 encoded-words" }
  const [, charset, encoding, text] = m as unknown as [string, string, string, string]
  if (charset.toLowerCase() !== "utf-8") return { malformed: `uses charset "${charset}" (only utf-8 is accepted)` }
  const kind = encoding.toUpperCase()
  let bytes: Buffer
  if (kind === "Q") {
    if (!Q_TEXT.test(text)) return { malformed: "has an invalid Q-encoded word" }
    bytes = decodeQ(text)
  } else if (kind === "B") {
    if (!B_TEXT.test(text)) return { malformed: "has an invalid B-encoded (base64) word" }
    bytes = Buffer.from(text, "base64")
  } else return { malformed: `uses encoding "${encoding}" (only Q and B exist)` }
  try {
    return utf8.decode(bytes)
  } catch {
    return { malformed: "has an encoded-word that is not whole UTF-8 characters" }
  }
}

/** Plain when the value holds no "=?"; otherwise every space-separated part must be an encoded-word. */
export const decodeEncodedWords = (raw: string): EncodedWordsRead => {
  if (!raw.includes("=?")) return { _tag: "Plain" }
  // Whitespace between adjacent encoded-words is not part of the text (RFC 2047 section 6.2).
  const words = raw.split(/[ \t]+/).filter((w) => w !== "")
  let value = ""
  for (const word of words) {
    const decoded = decodeWord(word)
    if (typeof decoded !== "string") return { _tag: "Malformed", reason: decoded.malformed }
    value += decoded
  }
  return { _tag: "Decoded", value }
}
