import { Agent, request } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Headtower, startHeadtower } from "../e2e/support/headtower.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { PROXY } from "./cases.js"
import { snapshot } from "./db.js"

/*
 * First logins racing each other over HTTP, against one real server on a real SQLite file
 * (spec Decision 5: exactly one owner however many first requests race).
 */

const CONCURRENCY = 200
const work = makeWorkDir("races")
let server: Headtower
// Up to CONCURRENCY connections at once, all from the proxy's address, kept alive.
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })

beforeAll(async () => {
  server = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: "http://127.0.0.1:1",
    name: "races",
    proxyAuth: { allowed_cidrs: [`${PROXY}/32`] }
  })
}, 120_000)

afterAll(async () => {
  agent.destroy()
  await server?.stop()
  work.remove()
})

const signIn = (identity: string) =>
  new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path: "/api/me",
        agent,
        localAddress: PROXY,
        headers: { "Remote-User": identity },
        timeout: 30_000
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          let json: unknown
          try {
            json = JSON.parse(body)
          } catch {
            json = body
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
      }
    )
    req.on("timeout", () => req.destroy(new Error("sign-in timed out")))
    req.on("error", reject)
    req.end()
  })

const db = () => snapshot(work.path("races.db"))

describe("concurrent first logins over HTTP on SQLite", () => {
  it(`${CONCURRENCY} distinct first logins at once: all 200, ${CONCURRENCY} users, exactly one owner`, async () => {
    const results = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => signIn(`racer-${i}`)))
    expect(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.json)}`)).toEqual([])
    expect(results.filter((r) => r.json.role === "owner")).toHaveLength(1)
    const s = db()
    expect(s.users).toHaveLength(CONCURRENCY)
    expect(s.users.filter((u) => u.role === "owner")).toHaveLength(1)
    expect(s.ownerClaims).toBe(1)
    expect(s.auditEvents).toBe(CONCURRENCY)
  }, 120_000)

  it(`${CONCURRENCY} concurrent requests of one new identity create exactly one user`, async () => {
    const before = db()
    const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => signIn("same-newcomer")))
    expect(results.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.json)}`)).toEqual([])
    expect(new Set(results.map((r) => r.json.id)).size).toBe(1)
    expect(results.every((r) => r.json.role === "member")).toBe(true)
    const after = db()
    expect(after.users).toHaveLength(before.users.length + 1)
    expect(after.users.filter((u) => u.identity === "proxy:same-newcomer")).toHaveLength(1)
    expect(after.auditEvents).toBe(before.auditEvents + 1)
    expect(after.users.filter((u) => u.role === "owner")).toHaveLength(1)
  }, 120_000)
})
