import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { E2E_API_KEY } from "../e2e/support/headtower.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { PROXY } from "./cases.js"

/*
 * `headtower explain` is how operators check a deployment, so it must judge a header value
 * exactly as the server does (hostile-requests.test.ts pins the server's answers).
 */

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, "..", "..")
const work = makeWorkDir("explain")
afterAll(() => work.remove())

const configFile = work.path("explain.yaml")
writeFileSync(
  configFile,
  stringify({
    headscale: { url: "http://127.0.0.1:1", api_key: E2E_API_KEY },
    server: { listen: "127.0.0.1:0", proxy_auth: { enabled: true, allowed_cidrs: [`${PROXY}/32`] } },
    database: { url: `sqlite:${work.path("never-created.db")}` }
  })
)

const explain = async (...headers: Array<string>) => {
  const args = ["--import", "tsx", "src/main.ts", "explain", "--config", configFile, "--peer", PROXY]
  for (const h of headers) args.push("-H", h)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEADTOWER_")))
  const result = await run(process.execPath, args, { cwd: ROOT, env, encoding: "utf8" }).catch(
    (e: { stdout: string }) => e
  )
  return result.stdout
}

describe("headtower explain agrees with the server on hostile header values", () => {
  it("keeps a no-break space before the name: another identity, as the server signs it in", async () => {
    const out = await explain("Remote-User: \u00a0owner")
    expect(out).toContain("identity: proxy:\u00a0owner")
  }, 60_000)

  it("trims only spaces and tabs around the value, as Node does", async () => {
    const out = await explain("Remote-User:  \t alice \t ")
    expect(out).toContain("identity: proxy:alice (")
  }, 60_000)
})
