import { readFileSync } from "node:fs"
import { join } from "node:path"

const DOCS = join(import.meta.dirname, "..", "..", "..", "docs", "proxies")

/** A proxy example from docs/proxies/ as operators copy it, with only its ${...} placeholders filled in. */
export const renderDocsProxy = (file: string, vars: Record<string, string>): string => {
  const text = readFileSync(join(DOCS, file), "utf8").replace(
    /\$\{([A-Z_]+)\}/g,
    (whole, name: string) => vars[name] ?? whole
  )
  const left = /\$\{[A-Z_]+\}/.exec(text.replace(/^\s*#.*$/gm, ""))
  if (left) throw new Error(`${file}: placeholder ${left[0]} not filled`)
  return text
}
