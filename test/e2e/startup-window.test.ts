import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "vitest"
import { freePort } from "./support/net.js"

/** One GET /healthz: its status, "refused" before the socket listens, or "hung" after `ms` without an answer. */
const probe = (port: number, ms: number) =>
  new Promise<number | "refused" | "hung">((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", agent: false }, (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
    })
    req.setTimeout(ms, () => {
      req.destroy()
      resolve("hung")
    })
    req.on("error", () => resolve("refused"))
    req.end()
  })

it("a request that arrives while the server is starting is answered, not left hanging", async () => {
  const dir = mkdtempSync(join(tmpdir(), "headtower-startup-"))
  const port = await freePort()
  const config = join(dir, "headtower.yaml")
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }\ndatabase: { url: "sqlite:${join(dir, "data", "h.db")}" }\n`
  )
  const root = join(import.meta.dirname, "..", "..")
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--config", config], {
    cwd: root,
    stdio: "ignore"
  })
  try {
    // From the moment of spawn: every probe is refused (not listening yet) or answered.
    let outcome: number | "refused" | "hung" = "refused"
    const deadline = Date.now() + 60_000
    while (outcome === "refused" && Date.now() < deadline) {
      outcome = await probe(port, 5_000)
      if (outcome === "refused") await new Promise((r) => setTimeout(r, 10))
    }
    expect(outcome).toBe(200)
  } finally {
    child.kill("SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
}, 90_000)
