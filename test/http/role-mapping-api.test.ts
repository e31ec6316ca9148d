import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { testConfig } from "../../src/testing/config.js"
import { rawRequest, type RawResponse } from "../e2e/support/net.js"
import { serveRoutes } from "./support/servedRoutes.js"

/*
 * Roles from the proxy's groups over a real socket, with the server's own layers: the API shows
 * each role's source, a mapped role cannot be changed by hand (409), and a change of groups
 * takes effect on the user's next request although the sign-in cache is on.
 */

const PROXY = "127.0.0.2"
let dir: string
let server: Awaited<ReturnType<typeof serveRoutes>> | undefined
let port: number

const call = (
  path: string,
  user: string,
  groups: string | undefined,
  options: { method?: string; body?: unknown } = {}
): Promise<RawResponse> =>
  rawRequest({
    port,
    path,
    method: options.method ?? "GET",
    localAddress: PROXY,
    headers: [["Remote-User", user], ...(groups === undefined ? [] : [["Remote-Groups", groups] as const])],
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
  })

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headtower-groups-api-"))
  const config = testConfig(
    {
      allowedCidrs: [`${PROXY}/32`],
      groupsHeader: "Remote-Groups",
      groupsSeparator: "|",
      roleMapping: [
        { role: "admin", groups: ["ops"] },
        { role: "member", groups: ["staff"] }
      ],
      syncTtlSeconds: 3600
    },
    { database: { kind: "sqlite", path: join(dir, "users.db") } }
  )
  server = await serveRoutes(config)
  port = server.port
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe("role_mapping over the API", () => {
  it("shows the source, refuses a hand-made change of a mapped role (409), keeps owner and disable", async () => {
    expect((await call("/api/me", "alice", "ops")).json.role).toBe("owner")
    expect((await call("/api/me", "bob", "dev|ops")).json.role).toBe("admin")
    const users = (await call("/api/users", "alice", undefined)).json as Array<Record<string, unknown>>
    const bob = users.find((u) => u.identity === "proxy:bob")!
    expect([bob.role, bob.roleSource, bob.roleGroups]).toEqual(["admin", "groups", ["ops"]])
    expect(users.find((u) => u.identity === "proxy:alice")!.roleSource).toBe("manual")

    const refused = await call(`/api/users/${bob.id}`, "alice", undefined, {
      method: "PATCH",
      body: { role: "member" }
    })
    expect([refused.status, refused.json._tag]).toEqual([409, "RoleManagedByGroups"])
    expect(refused.json.message).toContain("server.proxy_auth.role_mapping")

    const disabled = await call(`/api/users/${bob.id}`, "alice", undefined, {
      method: "PATCH",
      body: { disabled: true }
    })
    expect([disabled.status, disabled.json.disabled]).toEqual([200, true])
    expect((await call("/api/me", "bob", "ops")).status).toBe(403)
    await call(`/api/users/${bob.id}`, "alice", undefined, { method: "PATCH", body: { disabled: false } })

    const owner = await call(`/api/users/${bob.id}`, "alice", undefined, { method: "PATCH", body: { role: "owner" } })
    expect([owner.status, owner.json.role, owner.json.roleSource]).toEqual([200, "owner", "manual"])
    // An owner is outside the mapping: groups that map to nothing leave them owner.
    expect((await call("/api/me", "bob", "dev")).json.role).toBe("owner")
  })

  it("a change of groups takes effect on the next request, cache on; no header keeps the role", async () => {
    expect((await call("/api/me", "carol", "ops")).json.role).toBe("admin")
    expect((await call("/api/me", "carol", "ops")).json.role).toBe("admin")
    expect((await call("/api/me", "carol", "staff")).json.role).toBe("member")
    expect((await call("/api/me", "carol", undefined)).json.role).toBe("member")
    expect((await call("/api/me", "carol", "ops")).json.role).toBe("admin")
    const audit = (await call("/api/audit", "alice", undefined)).json as Array<Record<string, unknown>>
    const carol = audit.filter((e) => e.subjectIdentity === "proxy:carol" && e.kind === "role_changed")
    expect(carol.map((e) => [e.actorIdentity, e.detail])).toEqual([
      ["groups:ops", "member→admin (groups: ops)"],
      ["groups:staff", "admin→member (groups: staff)"]
    ])
  })

  it("answers and refusals vary on the groups header too: the groups decide the role they show", async () => {
    const answered = await call("/api/me", "dave", "ops")
    const refused = await rawRequest({
      port,
      path: "/api/me",
      localAddress: PROXY,
      headers: [
        ["Remote-User", "dave"],
        ["Remote-User", "erin"]
      ]
    })
    expect([answered.status, refused.status]).toEqual([200, 400])
    for (const response of [answered, refused]) {
      expect(String(response.headers.vary).split(", ")).toContain("Remote-Groups")
    }
  })
})
