import { describe, expect, it } from "vitest"
import { htmlTemplate } from "../../src/http/pages/template.js"

/* The pages' HTML files are filled by code: every value is escaped, and a file whose slots drift from the code is refused. */

describe("htmlTemplate", () => {
  const page = htmlTemplate(
    "page.html",
    `<p title="{{name}}">{{name}}</p>{{#admin}}<a href="/x">{{link}}</a>{{/admin}}`,
    {
      text: ["name", "link"],
      flags: ["admin"]
    }
  )

  it("escapes every text value, attribute or text, and keeps a section only when its flag is true", () => {
    expect(page({ name: `"><script>&'`, link: "go", admin: false })).toBe(
      `<p title="&#34;&#62;&#60;script&#62;&#38;&#39;">&#34;&#62;&#60;script&#62;&#38;&#39;</p>`
    )
    expect(page({ name: "a", link: "<b>", admin: true })).toBe(`<p title="a">a</p><a href="/x">&#60;b&#62;</a>`)
  })

  it("refuses a file with a slot the code does not fill, without one it fills, or with a stray marker", () => {
    expect(() => htmlTemplate("a.html", "{{name}} {{other}}", { text: ["name"] })).toThrow(/a\.html: its slots are not/)
    expect(() => htmlTemplate("b.html", "{{name}}", { text: ["name", "missing"] })).toThrow(/b\.html/)
    expect(() => htmlTemplate("c.html", "{{name}}", { text: ["name"], flags: ["admin"] })).toThrow(/c\.html/)
    expect(() => htmlTemplate("d.html", "{{#admin}}x {{name}}", { text: ["name"], flags: ["admin"] })).toThrow(
      /d\.html/
    )
    expect(() => htmlTemplate("e.html", "{{name}}{{/admin}}", { text: ["name"] })).toThrow(/e\.html/)
    expect(() => htmlTemplate("f.html", "{{ name }}", { text: [] })).toThrow(/f\.html/)
  })
})
