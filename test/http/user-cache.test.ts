import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { rawRequest } from "../e2e/support/net.js"
import { testConfig } from "../../src/testing/config.js"
import { serveRoutes } from "./support/servedRoutes.js"

/*
 * The sign-in cache seen from outside, over a real socket, with a long sync_ttl: a change
 * made through the API takes effect on the user's very next request, never after the TTL.
 */

let dir: string
let server: Awaited<ReturnType<typeof serveRoutes>> | undefined
let port: number

const call = (path: string, user: string, options: { method?: string; body?: unknown } = {}) =>
  rawRequest({
    port,
    path,
    method: options.method ?? "GET",
    headers: [["Remote-User", user]],
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
  })

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headtower-cache-"))
  const config = testConfig({ syncTtlSeconds: 3600 }, { database: { kind: "sqlite", path: join(dir, "users.db") } })
  server = await serveRoutes(config)
  port = server.port
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe("the sign-in cache over HTTP", () => {
  it("a promotion, a demotion and a disable made through the API apply to the user's next request", async () => {
    expect((await call("/api/me", "owner")).json.role).toBe("owner")
    const bob = (await call("/api/me", "bob")).json
    expect(bob.role).toBe("member")
    expect((await call("/api/users", "bob")).status).toBe(403) // cached as a member now

    expect((await call(`/api/users/${bob.id}`, "owner", { method: "PATCH", body: { role: "admin" } })).status).toBe(200)
    expect((await call("/api/me", "bob")).json.role).toBe("admin")
    expect((await call("/api/users", "bob")).status).toBe(200)

    expect((await call(`/api/users/${bob.id}`, "owner", { method: "PATCH", body: { role: "member" } })).status).toBe(
      200
    )
    expect((await call("/api/users", "bob")).status).toBe(403)

    expect((await call(`/api/users/${bob.id}`, "owner", { method: "PATCH", body: { disabled: true } })).status).toBe(
      200
    )
    const refused = await call("/api/me", "bob")
    expect([refused.status, refused.json._tag]).toEqual([403, "UserDisabled"])
    // That read put the disabled user back in the cache: answered from memory, still refused.
    const again = await call("/api/me", "bob")
    expect([again.status, again.json._tag]).toEqual([403, "UserDisabled"])
  })

  it("user changes are authorised on the stored role, not a cached one another replica made stale", async () => {
    const carol = (await call("/api/me", "carol")).json
    expect((await call(`/api/users/${carol.id}`, "owner", { method: "PATCH", body: { role: "owner" } })).status).toBe(
      200
    )
    expect((await call("/api/me", "carol")).json.role).toBe("owner") // cached as owner for an hour
    const dave = (await call("/api/me", "dave")).json
    // Another replica demotes carol: this process's cache does not know.
    const db = new Sqlite(join(dir, "users.db"))
    db.prepare("UPDATE users SET role = 'member' WHERE identity = 'proxy:carol'").run()
    db.close()
    expect((await call("/api/me", "carol")).json.role).toBe("owner")
    const patch = await call(`/api/users/${dave.id}`, "carol", { method: "PATCH", body: { role: "admin" } })
    expect([patch.status, patch.json._tag]).toEqual([403, "Forbidden"])
    expect((await call("/api/users", "carol")).status).toBe(403)
  })
})
