import { USERS_QUERY_MAX } from "../../src/domain/User.js"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { rawRequest, type RawResponse } from "../e2e/support/net.js"
import { TEST_API_KEY, testConfig } from "../../src/testing/config.js"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { serveRoutes } from "./support/servedRoutes.js"

/*
 * The HTTP contract over a real socket, with the server built in process from the same
 * layers `headtower serve` uses: statuses, error bodies, roles, and what never leaks.
 */

const PROXY = "127.0.0.2"
const STRANGER = "127.0.0.3"
let dir: string
let headscale: FakeHeadscale
let server: Awaited<ReturnType<typeof serveRoutes>> | undefined
let port: number

const call = (
  path: string,
  user: string | undefined,
  options: { method?: string; body?: unknown; from?: string; headers?: ReadonlyArray<readonly [string, string]> } = {}
): Promise<RawResponse> =>
  rawRequest({
    port,
    path,
    method: options.method ?? "GET",
    localAddress: options.from ?? PROXY,
    headers: [...(user === undefined ? [] : [["Remote-User", user] as const]), ...(options.headers ?? [])],
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
  })

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "headtower-api-"))
  headscale = await startFakeHeadscale({ apiKey: TEST_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  const config = testConfig(
    { allowedCidrs: [`${PROXY}/32`], logoutUrl: "https://auth.example.com/logout" },
    {
      database: { kind: "sqlite", path: join(dir, "users.db") },
      headscale: { ...testConfig().headscale, url: headscale.url, timeoutMs: 1_000 }
    }
  )
  server = await serveRoutes(config)
  port = server.port
})

afterAll(async () => {
  await server?.stop()
  await headscale?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** /readyz until it answers 200: a Headscale outage is remembered for the readiness period. */
const readyzOnceHealed = async (): Promise<RawResponse> => {
  for (;;) {
    const ready = await call("/readyz", undefined)
    if (ready.status === 200) return ready
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const expectError = (res: RawResponse, status: number, tag: string) => {
  expect(res.status).toBe(status)
  expect(res.json).toEqual({ _tag: tag, message: expect.any(String) })
  // Never the configuration or internals: no CIDR, no stack trace.
  expect(res.body).not.toMatch(/\/32|\/128|127\.0\.0\.2|at .*\.ts:\d+|Error:/)
}

describe("HTTP API", () => {
  it("the first user is the owner, later ones members; /api/me has the documented shape", async () => {
    const alice = await call("/api/me", "alice", { headers: [["Remote-Email", "alice@example.com"]] })
    expect(alice.status).toBe(200)
    expect(alice.json).toEqual({
      id: expect.any(String),
      identity: "proxy:alice",
      email: "alice@example.com",
      name: null,
      picture: null,
      role: "owner"
    })
    expect((await call("/api/me", "bob")).json.role).toBe("member")
  })

  it("error statuses and bodies: 403 not allowed, 401 missing, 400 ambiguous", async () => {
    expectError(await call("/api/me", "mallory", { from: STRANGER }), 403, "ClientNotAllowed")
    expectError(await call("/api/me", undefined), 401, "MissingIdentityHeader")
    expectError(await call("/api/me", "a", { headers: [["Remote-User", "b"]] }), 400, "AmbiguousHeader")
    expectError(await call("/api/me", "al\tice"), 400, "InvalidHeader")
  })

  it("a stranger's request creates no user", async () => {
    await call("/api/me", "stranger-danger", { from: STRANGER })
    const users = await call("/api/users", "alice")
    expect(users.json.map((u: { identity: string }) => u.identity)).not.toContain("proxy:stranger-danger")
  })

  it("GET /api/users is for owners and admins; a member gets 403 Forbidden", async () => {
    const list = await call("/api/users", "alice")
    expect(list.status).toBe(200)
    expect(list.json[0]).toEqual(
      expect.objectContaining({
        identity: "proxy:alice",
        role: "owner",
        disabled: false,
        createdAt: expect.any(String),
        lastSeenAt: expect.any(String)
      })
    )
    expectError(await call("/api/users", "bob"), 403, "Forbidden")
  })

  it("GET /api/users pages: limit, a Link to the next page until the last, 400 for a bad limit, 404 for an unknown cursor", async () => {
    for (const name of ["page-1", "page-2", "page-3"]) await call("/api/me", name)
    const everyone = (await call("/api/users", "alice")).json.map((u: { identity: string }) => u.identity)
    expect(everyone.length).toBeGreaterThan(3)
    const seen: Array<string> = []
    let path: string | undefined = "/api/users?limit=2"
    while (path !== undefined) {
      const page: RawResponse = await call(path, "alice")
      expect(page.status).toBe(200)
      expect(page.json.length).toBeLessThanOrEqual(2)
      seen.push(...page.json.map((u: { identity: string }) => u.identity))
      const link = page.headers["link"]
      path =
        link === undefined ? undefined : /<(\/api\/users\?limit=2&after=[^>]+)>; rel="next"/.exec(String(link))?.[1]
      // The last page links back only.
      if (link !== undefined && path === undefined) expect(String(link)).toMatch(/^<[^>]+>; rel="prev"$/)
    }
    expect(seen).toEqual(everyone)
    // Every user fits the default page here: no Link.
    expect((await call("/api/users", "alice")).headers["link"]).toBeUndefined()
    for (const limit of ["0", "1001", "1.5", "x"]) {
      const bad = await call(`/api/users?limit=${limit}`, "alice")
      expect([bad.status, bad.json._tag]).toEqual([400, "HttpApiDecodeError"])
    }
    expectError(await call("/api/users?after=no-such-user", "alice"), 404, "UserNotFound")
    // A control character in a user id is refused at the edge (PostgreSQL could not even compare it).
    for (const path of ["/api/users?after=%00", "/api/users?after=a%0D%0Alink:%20x"]) {
      const bad = await call(path, "alice")
      expect([bad.status, bad.json._tag, bad.headers["link"]]).toEqual([400, "HttpApiDecodeError", undefined])
    }
    const patch = await call("/api/users/%00", "alice", { method: "PATCH", body: { disabled: true } })
    expect([patch.status, patch.json._tag]).toEqual([400, "HttpApiDecodeError"])
  })

  it("GET /api/users?q=&role=: Link rel=next and rel=prev repeat the search and filter; over-long q, unknown role, after with before are 400s", async () => {
    for (const name of ["linked-1", "linked-2", "linked-3"]) await call("/api/me", name)
    const first = await call("/api/users?limit=1&q=LINKED&role=member", "alice")
    expect(first.json.map((u: { identity: string }) => u.identity)).toEqual(["proxy:linked-1"])
    const next = /^<(\/api\/users\?limit=1&after=[^&>]+&q=LINKED&role=member)>; rel="next"$/.exec(
      String(first.headers["link"])
    )
    expect(next).not.toBeNull()
    const second = await call(next![1]!, "alice")
    expect(second.json.map((u: { identity: string }) => u.identity)).toEqual(["proxy:linked-2"])
    const links = String(second.headers["link"]).split(", ")
    expect(links).toHaveLength(2)
    expect(links[0]).toMatch(/^<\/api\/users\?limit=1&after=[^&>]+&q=LINKED&role=member>; rel="next"$/)
    const prev = /^<(\/api\/users\?limit=1&before=[^&>]+&q=LINKED&role=member)>; rel="prev"$/.exec(links[1]!)
    expect(prev).not.toBeNull()
    const back = await call(prev![1]!, "alice")
    expect(back.json.map((u: { identity: string }) => u.identity)).toEqual(["proxy:linked-1"])
    expect(back.headers["link"]).toMatch(/; rel="next"$/)
    // A q with LIKE's wildcards is sent on literally, encoded.
    const wild = await call("/api/users?limit=1&q=a%25_b", "alice")
    expect([wild.status, wild.json, wild.headers["link"]]).toEqual([200, [], undefined])
    expect((await call(`/api/users?q=${"a".repeat(USERS_QUERY_MAX)}`, "alice")).status).toBe(200)
    for (const path of [
      `/api/users?q=${"a".repeat(USERS_QUERY_MAX + 1)}`,
      "/api/users?q=a%00b",
      "/api/users?role=superuser",
      "/api/users?after=x&before=y"
    ]) {
      const bad = await call(path, "alice")
      expect([path, bad.status, bad.json._tag, bad.headers["link"]]).toEqual([
        path,
        400,
        "HttpApiDecodeError",
        undefined
      ])
    }
    expectError(await call("/api/users?before=no-such-user", "alice"), 404, "UserNotFound")
  })

  it("a member asking for a page learns nothing: 403 before any read, with no Link and no cursor check", async () => {
    await call("/api/me", "page-member")
    for (const path of ["/api/users?limit=1", "/api/users?after=no-such-user"]) {
      const res = await call(path, "page-member")
      expectError(res, 403, "Forbidden")
      expect(res.headers["link"]).toBeUndefined()
    }
  })

  it("PATCH /api/users/{id}: owner promotes, member may not, unknown id 404, bad body 400, last owner 409", async () => {
    const bob = (await call("/api/me", "bob")).json
    const alice = (await call("/api/me", "alice")).json
    expectError(
      await call(`/api/users/${alice.id}`, "bob", { method: "PATCH", body: { role: "member" } }),
      403,
      "Forbidden"
    )
    const promoted = await call(`/api/users/${bob.id}`, "alice", { method: "PATCH", body: { role: "admin" } })
    expect(promoted.status).toBe(200)
    expect(promoted.json.role).toBe("admin")
    expect((await call("/api/me", "bob")).json.role).toBe("admin")
    expectError(
      await call("/api/users/no-such-id", "alice", { method: "PATCH", body: { disabled: true } }),
      404,
      "UserNotFound"
    )
    expect((await call(`/api/users/${bob.id}`, "alice", { method: "PATCH", body: { role: "emperor" } })).status).toBe(
      400
    )
    expectError(
      await call(`/api/users/${alice.id}`, "alice", { method: "PATCH", body: { role: "member" } }),
      409,
      "LastOwner"
    )
    expectError(
      await call(`/api/users/${alice.id}`, "alice", { method: "PATCH", body: { disabled: true } }),
      409,
      "LastOwner"
    )
  })

  it("PATCH /api/users/{id} assigns each of Headplane's roles, and each role's capabilities decide what it reads", async () => {
    const dave = (await call("/api/me", "roles-dave")).json
    // Role → [GET /api/users (read_users), GET /api/headscale/nodes (read_machines)].
    const expected: Record<string, readonly [number, number]> = {
      owner: [200, 200],
      admin: [200, 200],
      network_admin: [403, 200],
      it_admin: [200, 200],
      auditor: [200, 200],
      viewer: [403, 200],
      member: [403, 403]
    }
    for (const [role, [users, nodes]] of Object.entries(expected)) {
      const changed = await call(`/api/users/${dave.id}`, "alice", { method: "PATCH", body: { role } })
      expect(changed.status, role).toBe(200)
      expect(changed.json.role).toBe(role)
      expect((await call("/api/users?limit=1", "roles-dave")).status, `${role} listing users`).toBe(users)
      expect((await call("/api/headscale/nodes", "roles-dave")).status, `${role} listing nodes`).toBe(nodes)
    }
    // Only the owner changes users, whatever else a role may do.
    await call(`/api/users/${dave.id}`, "alice", { method: "PATCH", body: { role: "it_admin" } })
    expectError(
      await call(`/api/users/${dave.id}`, "roles-dave", { method: "PATCH", body: { role: "owner" } }),
      403,
      "Forbidden"
    )
    // The Users page offers every role.
    const page = (await call("/users", "alice")).body
    const data = JSON.parse(page.match(/data-page="([^"]*)"/)![1]!.replaceAll("&#34;", '"'))
    expect(data.roles).toEqual(Object.keys(expected))
  })

  it("a disabled user is refused with 403 UserDisabled on the next request, and enabled again", async () => {
    const carol = (await call("/api/me", "carol")).json
    expect((await call(`/api/users/${carol.id}`, "alice", { method: "PATCH", body: { disabled: true } })).status).toBe(
      200
    )
    expectError(await call("/api/me", "carol"), 403, "UserDisabled")
    expect((await call(`/api/users/${carol.id}`, "alice", { method: "PATCH", body: { disabled: false } })).status).toBe(
      200
    )
    expect((await call("/api/me", "carol")).status).toBe(200)
  })

  it("the audit log records who did what from where", async () => {
    const audit = await call("/api/audit?limit=50", "alice")
    expect(audit.status).toBe(200)
    expect(audit.json).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: "role_changed",
          actorIdentity: "proxy:alice",
          subjectIdentity: "proxy:bob",
          clientIp: PROXY
        }),
        expect.objectContaining({ kind: "user_disabled", subjectIdentity: "proxy:carol" }),
        expect.objectContaining({ kind: "user_provisioned", subjectIdentity: "proxy:alice", actorIdentity: null })
      ])
    )
  })

  it("Headscale lists are fetched with the configured key; Headscale down → 502 typed", async () => {
    const users = await call("/api/headscale/users", "alice")
    expect(users.status).toBe(200)
    expect(users.json.users.length).toBe(sampleUsers.length)
    expect(headscale.requests.at(-1)).toMatchObject({ auth: "valid" })
    expect((await call("/api/headscale/nodes", "alice")).json.nodes.length).toBe(sampleNodes.length)
    // The whole tailnet's inventory, read with the operator's key: not for members.
    const requests = headscale.requests.length
    expectError(await call("/api/headscale/nodes", "carol"), 403, "Forbidden")
    expectError(await call("/api/headscale/users", "carol"), 403, "Forbidden")
    expect(headscale.requests.length).toBe(requests)
    await headscale.setFault({ down: true })
    try {
      expectError(await call("/api/headscale/nodes", "alice"), 502, "HeadscaleUnavailable")
      expect((await call("/api/me", "alice")).status).toBe(200)
      const ready = await call("/readyz", undefined, { from: STRANGER })
      expect(ready.status).toBe(503)
      // Not ready, and nothing about which dependency or why: that is in the log.
      expect(ready.json).toEqual({ _tag: "NotReady", message: "a dependency is not ready" })
    } finally {
      await headscale.setFault({})
    }
    expect((await readyzOnceHealed()).json).toEqual({ status: "ready" })
  })

  it("/readyz from a flood of strangers: at most one Headscale call per readiness period, however many ask", async () => {
    await readyzOnceHealed()
    const healthCalls = () => headscale.requests.filter((r) => r.url === "/api/v1/health").length
    const before = healthCalls()
    const answers = await Promise.all(Array.from({ length: 50 }, () => call("/readyz", undefined, { from: STRANGER })))
    expect(answers.map((a) => a.json)).toEqual(answers.map(() => ({ status: "ready" })))
    expect(healthCalls() - before).toBeLessThanOrEqual(1)
  })

  it("/healthz needs no authentication; /logout redirects to the proxy's logout", async () => {
    expect((await call("/healthz", undefined, { from: STRANGER })).json).toEqual({ status: "ok" })
    const logout = await call("/logout", undefined, { from: STRANGER })
    expect(logout.status).toBe(302)
    expect(logout.headers.location).toBe("https://auth.example.com/logout")
  })

  it("the Users page is served to authenticated users only, with a restrictive CSP", async () => {
    const page = await call("/users", "alice")
    expect(page.status).toBe(200)
    expect(page.headers["content-type"]).toContain("text/html")
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'")
    const refused = await call("/users", "alice", { from: STRANGER })
    expect(refused.status).toBe(403)
    expect(refused.body).not.toContain("127.0.0.2/32")
  })

  it("unknown routes are 404", async () => {
    expect((await call("/api/nope", "alice")).status).toBe(404)
  })

  it("the API key never appears in any response", async () => {
    for (const path of ["/api/me", "/api/users", "/api/headscale/users", "/readyz", "/api/audit"]) {
      expect((await call(path, "alice")).body).not.toContain(TEST_API_KEY)
    }
  })
})
