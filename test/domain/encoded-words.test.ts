import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { decodeEncodedWords } from "../../src/domain/encodedWords.js"

/** What Go's mime.QEncoding.Encode("utf-8", s) sends: whole characters per word, words joined by a space. */
const goQEncode = (s: string, perWord = 10): string => {
  const words: Array<string> = []
  const chars = [...s]
  for (let i = 0; i < chars.length; i += perWord) {
    const bytes = Buffer.from(chars.slice(i, i + perWord).join(""), "utf8")
    let text = ""
    for (const b of bytes) {
      text +=
        b === 0x20
          ? "_"
          : b > 0x20 && b < 0x7f && b !== 0x3d && b !== 0x3f && b !== 0x5f
            ? String.fromCharCode(b)
            : `=${b.toString(16).toUpperCase().padStart(2, "0")}`
    }
    words.push(`=?utf-8?q?${text}?=`)
  }
  return words.join(" ")
}

const decoded = (raw: string) => {
  const r = decodeEncodedWords(raw)
  if (r._tag !== "Decoded") throw new Error(`not decoded: ${JSON.stringify(r)}`)
  return r.value
}
const malformed = (raw: string) => decodeEncodedWords(raw)._tag

describe("RFC 2047 encoded-words", () => {
  it("decodes a display name as tailscale sends it", () => {
    expect(decoded("=?utf-8?q?Ren=C3=A9e?=")).toBe("Renée")
    expect(decoded("=?utf-8?q?Ren=C3=A9e_Dupr=C3=A9?=")).toBe("Renée Dupré")
  })

  it("joins adjacent words, dropping the space between them", () => {
    expect(decoded("=?utf-8?q?Ren=C3=A9e_?= =?utf-8?q?Dupr=C3=A9?=")).toBe("Renée Dupré")
  })

  it("accepts B encoding and any case of charset and encoding", () => {
    expect(decoded(`=?UTF-8?B?${Buffer.from("Zoë").toString("base64")}?=`)).toBe("Zoë")
    expect(decoded("=?Utf-8?Q?Ren=c3=a9e?=")).toBe("Renée")
  })

  it("leaves a value without '=?' alone", () => {
    expect(decodeEncodedWords("alice@example.com")._tag).toBe("Plain")
  })

  it("round-trips any text through Go's encoder", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (s, n) => {
          expect(decoded(goQEncode(s, n))).toBe(s)
        }
      )
    )
  })

  it.each([
    ["another charset", "=?iso-8859-1?q?Ren=E9e?="],
    ["an RFC 2231 language suffix", "=?utf-8*fr?q?Ren=C3=A9e?="],
    ["an unknown encoding", "=?utf-8?x?abc?="],
    ["a bad Q escape", "=?utf-8?q?Ren=C3=G9e?="],
    ["a truncated Q escape", "=?utf-8?q?Ren=C3=A?="],
    ["a raw '=' in Q text", "=?utf-8?q?a=b?="],
    ["a half UTF-8 character", "=?utf-8?q?Ren=C3?="],
    ["bytes that are not UTF-8", "=?utf-8?q?=FF=FE?="],
    ["base64 without padding", "=?utf-8?b?Wm/D?="],
    ["base64 with bad characters", "=?utf-8?b?Wm/D*w==?="],
    ["an unterminated word", "=?utf-8?q?Ren=C3=A9e"],
    ["text before a word", "Dr. =?utf-8?q?Ren=C3=A9e?="],
    ["text after a word", "=?utf-8?q?Ren=C3=A9e?= (admin)"],
    ["a lone '=?'", "a=?b"]
  ])("refuses %s", (_, raw) => {
    expect(malformed(raw)).toBe("Malformed")
  })

  it("never throws, and decodes only what it can re-encode", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (tail) => {
        const r = decodeEncodedWords(`=?utf-8?q?${tail}`)
        expect(["Decoded", "Malformed"]).toContain(r._tag)
      })
    )
  })
})
