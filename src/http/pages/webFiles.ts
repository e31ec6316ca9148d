import { Effect } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"

/*
 * The pages' files live in web/ at the repository's root, beside src/ and dist/, and are read
 * once at start-up: the same files whether the server runs from src/ (tsx, the tests) or from
 * dist/ (`npm start`), so the build has nothing to copy and nothing can go stale.
 */

/** The nearest directory at or above `dir` holding a package.json: the repository, from src/ or dist/. */
const packageRoot = (dir: string): string => {
  if (existsSync(join(dir, "package.json"))) return dir
  if (dirname(dir) === dir) throw new Error(`no package.json above ${dir}`)
  return packageRoot(dirname(dir))
}

/** A file served under a URL naming its content (`/assets/users.<hash>.js`), so it can be cached for good. */
export interface Asset {
  readonly url: `/assets/${string}`
  readonly body: string
  readonly contentType: string
}

export interface WebFiles {
  readonly script: Asset
  readonly style: Asset
  readonly usersHtml: string
  readonly errorHtml: string
}

const asset = (name: string, extension: string, contentType: string, body: string): Asset => {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 16)
  return { url: `/assets/${name}.${hash}.${extension}`, body, contentType }
}

/**
 * Reads web/; a missing or unreadable file fails start-up with its path. Synchronously, on
 * purpose: read asynchronously while the routes were being built, a request that arrived in
 * that moment was accepted and never answered.
 */
export const loadWebFiles = Effect.try({
  try: (): WebFiles => {
    const dir = join(packageRoot(import.meta.dirname), "web")
    const read = (file: string) => readFileSync(join(dir, file), "utf8")
    return {
      script: asset("users", "js", "text/javascript; charset=utf-8", read("users.js")),
      style: asset("style", "css", "text/css; charset=utf-8", read("style.css")),
      usersHtml: read("users.html"),
      errorHtml: read("error.html")
    }
  },
  catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
})
