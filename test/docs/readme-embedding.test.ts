import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

/*
 * The README's "Embedding" code is the example backend's own: the `// #region embedding` parts
 * of examples/nodes/routes.ts and main.ts, in that order, whitespace aside. If either changes,
 * the README must change with it.
 */

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8")

/** Whitespace runs as one space: line breaks and indentation are not the code. */
const normalised = (code: string) => code.replace(/\s+/g, " ").trim()

const regions = (path: string) => {
  const found = [...read(path).matchAll(/\/\/ #region embedding\n([\s\S]*?)\/\/ #endregion/g)].map((match) => match[1]!)
  expect(found.length, `${path} marks its embedding code`).toBeGreaterThan(0)
  return found
}

const embeddingSection = (readme: string) => {
  const start = readme.indexOf("\n## Embedding\n")
  expect(start, "README has an Embedding section").toBeGreaterThan(-1)
  const end = readme.indexOf("\n## ", start + 1)
  return readme.slice(start, end === -1 ? undefined : end)
}

describe("README Embedding", () => {
  it("its ts code is the example's embedding regions, whitespace aside", () => {
    const blocks = [...embeddingSection(read("README.md")).matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)
    expect(blocks).toHaveLength(1)
    const example = [...regions("examples/nodes/routes.ts"), ...regions("examples/nodes/main.ts")].join("\n")
    expect(normalised(blocks[0]!)).toBe(normalised(example))
  })
})
