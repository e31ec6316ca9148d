import * as FileSystem from "@effect/platform/FileSystem"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
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

/** Reads web/; a missing or unreadable file fails start-up with its path. */
export const loadWebFiles = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const dir = join(packageRoot(import.meta.dirname), "web")
  const read = (file: string) => fs.readFileString(join(dir, file))
  return {
    script: asset("users", "js", "text/javascript; charset=utf-8", yield* read("users.js")),
    style: asset("style", "css", "text/css; charset=utf-8", yield* read("style.css")),
    usersHtml: yield* read("users.html"),
    errorHtml: yield* read("error.html")
  } satisfies WebFiles
})
