import { describe, expect, it } from "@effect/vitest"
import { printable, printableLines, quoted, redactUrl } from "../../src/domain/display.js"

describe("printable: what an operator's terminal or log may show", () => {
  it("shows C0, DEL, C1 and bidi/format characters as escapes", () => {
    expect(printable("a\x1b]0;t\x07b\x7f\x9b\u202e\u200bc\td")).toBe(
      "a\\x1b]0;t\\x07b\\x7f\\x9b\\u{202e}\\u{200b}c\\td"
    )
  })

  it("leaves ordinary text, including non-ASCII letters, as it is", () => {
    expect(printable("José ｏｗｎｅｒ 127.0.0.1")).toBe("José ｏｗｎｅｒ 127.0.0.1")
  })

  it("cuts a long value with a marker giving its length", () => {
    expect(printable("x".repeat(250))).toBe(`${"x".repeat(200)}…[250 characters]`)
    expect(quoted("y".repeat(10), 4)).toBe('"yyyy…[10 characters]"')
  })

  it("is idempotent, and keeps the lines of multi-line text", () => {
    const once = printable("\x1b[2J")
    expect(printable(once)).toBe(once)
    expect(printableLines("a\x1b\nb")).toBe("a\\x1b\nb")
  })
})

describe("redactUrl", () => {
  it.each([
    ["https://user:secret@hs.example.com/x", "https://***@hs.example.com/x"],
    ["postgres://u:p@ss@host/db", "postgres://***@host/db"],
    ["postgres://u:pa ss@h:port/db", "postgres://***@h:port/db"],
    ["postgres://h/db?sslmode=require&password=s3cret", "postgres://h/db?sslmode=require&password=***"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
    // Found by the attack review: secrets in other parameters, and the host shown being another.
    ["postgres://h/db?sslpassword=s3cretM", "postgres://h/db?sslpassword=***"],
    ["postgres://h/db?pass%77ord=s3cret&sslmode=require", "postgres://h/db?pass%77ord=***&sslmode=require"],
    ["postgres://h/db?x=1;password=s3cret", "postgres://h/db?x=1;password=***"],
    ["https://hs.example/api?api_key=k3y&token=t0k", "https://hs.example/api?api_key=***&token=***"],
    ["https://user:pw@h.example/p@x", "https://***@h.example/p@x"],
    ["https://user:pw@h.example\\@other", "https://***@h.example\\@other"]
  ])("%s → %s", (text, shown) => {
    expect(redactUrl(text)).toBe(shown)
  })
})
