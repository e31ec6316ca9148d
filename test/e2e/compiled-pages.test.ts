import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { rawRequest } from "./support/net.js"
import { pageAssets } from "./support/pages.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * `npm start` serves the compiled dist/, not src/: the Users page must be whole there too. This
 * suite builds as `npm start` does (`tsc -b tsconfig.build.json`) and runs dist/main.js.
 */

const ROOT = join(import.meta.dirname, "..", "..")
const work = makeWorkDir("compiled-pages")
const stops: Array<() => Promise<unknown>> = []
let headtower: Headtower

beforeAll(async () => {
  await promisify(execFile)(
    process.execPath,
    [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-b", "tsconfig.build.json"],
    { cwd: ROOT }
  )
  const headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  headtower = await startHeadtower({ workDir: work.dir, headscaleUrl: headscale.url, compiled: true })
  stops.push(headtower.stop)
}, 300_000)

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const get = (path: string, user?: string) =>
  rawRequest({ port: headtower.port, path, headers: user === undefined ? [] : [["Remote-User", user]] })

describe("the compiled server (dist/main.js)", () => {
  it("serves the Users page with web/'s script and style sheet", async () => {
    const page = await get("/users", "alice")
    expect(page.status).toBe(200)
    const { script, style } = pageAssets(page.body)
    expect((await get(script!)).body).toBe(readFileSync(join(ROOT, "web", "users.js"), "utf8"))
    expect((await get(style!)).body).toBe(readFileSync(join(ROOT, "web", "style.css"), "utf8"))
  })

  it("serves a refused browser the error page with the same style sheet", async () => {
    const refused = await get("/users")
    expect(refused.status).toBe(401)
    expect(refused.body).toContain("You are not signed in")
    const { style } = pageAssets(refused.body)
    expect((await get(style!)).status).toBe(200)
  })
})
