import { writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { E2E_API_KEY, type Headtower, type ProxyAuthYaml, startHeadtower } from "./support/headtower.js"
import { freePort, type RawRequest, rawRequest } from "./support/net.js"
import { basicAuthServer, htpasswdLine, type Nginx, profileMaps, startNginx } from "./support/nginx.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * A real nginx doing basic auth in front of real Headtower processes. nginx connects from
 * 127.0.0.2 (proxy_bind); test clients connect from other loopback addresses, so "the proxy"
 * and "a stranger" are distinct peers, as on a real network.
 */

const PROXY = "127.0.0.2"
const STRANGER = "127.0.0.3"
const ALLOWED_CLIENT = "127.0.0.5"
const OTHER_CLIENT = "127.0.0.6"

const work = makeWorkDir("nginx")
const stops: Array<() => Promise<unknown>> = []
let headscale: FakeHeadscale
let direct: Headtower
let firstMode: Headtower
let rightmostMode: Headtower
let nginx: Nginx
const port = { main: 0, firstOverwrite: 0, firstAppend: 0, rightmostOverwrite: 0, rightmostAppend: 0 }

beforeAll(async () => {
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  const start = (name: string, proxyAuth: ProxyAuthYaml) =>
    startHeadtower({ workDir: work.dir, headscaleUrl: headscale.url, name, proxyAuth }).then((h) => {
      stops.push(h.stop)
      return h
    }) // Three servers start at once: start-up dominates this file's run time.
  ;[direct, firstMode, rightmostMode] = await Promise.all([
    start("direct", { allowed_cidrs: [`${PROXY}/32`] }),
    start("first", {
      allowed_cidrs: [`${ALLOWED_CLIENT}/32`],
      ip_header: "X-Forwarded-For",
      ip_header_mode: "first",
      trusted_proxy_cidrs: [`${PROXY}/32`]
    }),
    start("rightmost", {
      allowed_cidrs: [`${ALLOWED_CLIENT}/32`],
      ip_header: "X-Forwarded-For",
      ip_header_mode: "rightmost_untrusted",
      trusted_proxy_cidrs: [`${PROXY}/32`]
    })
  ])

  const htpasswd = work.path("htpasswd")
  writeFileSync(htpasswd, ["alice", "bob", "carol"].map((u) => htpasswdLine(u, `${u}-password`)).join("\n") + "\n")
  for (const key of Object.keys(port) as Array<keyof typeof port>) port[key] = await freePort()
  const site = (listenPort: number, upstream: Headtower, forwardedFor?: "append" | "overwrite") =>
    basicAuthServer({
      listenPort,
      upstreamPort: upstream.port,
      htpasswdFile: htpasswd,
      bindAddress: PROXY,
      forwardedFor
    })
  nginx = await startNginx({
    workDir: work.dir,
    readyPort: port.main,
    servers: [
      profileMaps({
        alice: { email: "alice@example.com", name: "Alice Liddell" },
        bob: { name: "Bob Müller" }
      }),
      site(port.main, direct),
      site(port.firstOverwrite, firstMode, "overwrite"),
      site(port.firstAppend, firstMode, "append"),
      site(port.rightmostOverwrite, rightmostMode, "overwrite"),
      site(port.rightmostAppend, rightmostMode, "append")
    ].join("\n")
  })
  stops.push(nginx.stop)
})

afterAll(async () => {
  // Everything is stopped even if one stop fails, newest first.
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const viaNginx = (user: string, path = "/api/me", extra: Partial<RawRequest> = {}) =>
  rawRequest({ ...extra, port: port.main, path, basicAuth: `${user}:${user}-password` })

const identities = async () => {
  const res = await viaNginx("alice", "/api/users")
  expect(res.status).toBe(200)
  return (res.json as Array<{ identity: string }>).map((u) => u.identity).sort()
}

describe("Headtower behind nginx basic auth (allowed_cidrs = nginx's bind address)", () => {
  it("signs in the first user through nginx as the owner, with the profile nginx supplies", async () => {
    const res = await viaNginx("alice")
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      identity: "proxy:alice",
      email: "alice@example.com",
      name: "Alice Liddell",
      picture: null,
      role: "owner"
    })
  })

  it("signs in a second user as a member; a UTF-8 name survives the proxy", async () => {
    const res = await viaNginx("bob")
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ identity: "proxy:bob", email: null, name: "Bob Müller", role: "member" })
  })

  it("refuses identity headers sent straight to Headtower from another address, and creates no user", async () => {
    for (const localAddress of [STRANGER, "127.0.0.1"]) {
      const res = await rawRequest({
        port: direct.port,
        path: "/api/me",
        localAddress,
        headers: [
          ["Remote-User", "mallory"],
          ["Remote-Email", "mallory@example.com"]
        ]
      })
      expect(res.status).toBe(403)
      expect(res.json).toMatchObject({ _tag: "ClientNotAllowed" })
    }
    const page = await rawRequest({
      port: direct.port,
      path: "/users",
      localAddress: STRANGER,
      headers: [["Remote-User", "mallory"]]
    })
    expect(page.status).toBe(403)
    expect(page.headers["content-type"]).toMatch(/text\/html/)
    expect(page.body).toContain("ClientNotAllowed")
    expect(await identities()).toEqual(["proxy:alice", "proxy:bob"])
  })

  it("stops a wrong password at nginx: 401 from nginx, and Headtower never sees the user", async () => {
    const res = await rawRequest({ port: port.main, path: "/api/me", basicAuth: "carol:not-her-password" })
    expect(res.status).toBe(401)
    expect(res.headers["www-authenticate"]).toMatch(/^Basic realm="Headtower"/)
    expect(res.json).toBeUndefined() // nginx's HTML page, not Headtower's JSON error
    expect(await identities()).toEqual(["proxy:alice", "proxy:bob"])
  })

  it("does not let a client's own Remote-User header through nginx authenticate anyone", async () => {
    const anonymous = await rawRequest({ port: port.main, path: "/api/me", headers: [["Remote-User", "alice"]] })
    expect(anonymous.status).toBe(401)
    expect(anonymous.json).toBeUndefined()

    // Signed in as bob but claiming to be alice: nginx replaces the header rather than adding a second one.
    const spoof = await viaNginx("bob", "/api/me", {
      headers: [
        ["Remote-User", "alice"],
        ["Remote-Email", "alice@example.com"],
        ["Remote-Picture", "https://images.example/alice.png"]
      ]
    })
    expect(spoof.status).toBe(200)
    expect(spoof.json).toMatchObject({ identity: "proxy:bob", email: null, picture: null, role: "member" })
  })

  it("serves the Users page through nginx to a signed-in user", async () => {
    const res = await viaNginx("alice", "/users")
    expect(res.status).toBe(200)
    expect(res.headers["content-type"]).toMatch(/text\/html/)
    expect(res.body).toContain("<h1>Users</h1>")
  })

  it("lets the owner promote a member, and refuses to demote the last owner with 409 LastOwner", async () => {
    const users = (await viaNginx("alice", "/api/users")).json as Array<{ id: string; identity: string }>
    const id = (identity: string) => users.find((u) => u.identity === identity)!.id
    const patch = (target: string, body: object) =>
      viaNginx("alice", `/api/users/${id(target)}`, { method: "PATCH", body: JSON.stringify(body) })

    const promoted = await patch("proxy:bob", { role: "admin" })
    expect(promoted.status).toBe(200)
    expect(promoted.json).toMatchObject({ identity: "proxy:bob", role: "admin" })

    const demoted = await patch("proxy:alice", { role: "member" })
    expect(demoted.status).toBe(409)
    expect(demoted.json).toMatchObject({ _tag: "LastOwner" })
    expect((await viaNginx("alice")).json).toMatchObject({ role: "owner" })
  })
})

describe("ip_header: X-Forwarded-For from nginx, allowed_cidrs = the end client's address", () => {
  const call = (listenPort: number, localAddress: string, xff?: string) =>
    rawRequest({
      port: listenPort,
      path: "/api/me",
      localAddress,
      basicAuth: "alice:alice-password",
      headers: xff === undefined ? [] : [["X-Forwarded-For", xff]]
    })

  const sites = () => [
    { name: "first mode, nginx overwrites ($remote_addr)", port: port.firstOverwrite },
    { name: "first mode, nginx appends ($proxy_add_x_forwarded_for)", port: port.firstAppend },
    { name: "rightmost_untrusted mode, nginx overwrites", port: port.rightmostOverwrite },
    { name: "rightmost_untrusted mode, nginx appends", port: port.rightmostAppend }
  ]

  it("admits a client in allowed_cidrs and refuses one outside it, in every mode and nginx style", async () => {
    for (const site of sites()) {
      expect((await call(site.port, ALLOWED_CLIENT)).status, site.name).toBe(200)
      const outside = await call(site.port, OTHER_CLIENT)
      expect(outside.status, site.name).toBe(403)
      expect(outside.json, site.name).toMatchObject({ _tag: "ClientNotAllowed" })
    }
  })

  it("a client-supplied X-Forwarded-For naming the proxy (127.0.0.2) never lets an outside client in", async () => {
    for (const site of sites()) {
      const res = await call(site.port, OTHER_CLIENT, PROXY)
      expect(res.status, site.name).toBe(403)
    }
  })

  it("a client-supplied X-Forwarded-For naming an allowed client is ignored when nginx overwrites, and in rightmost_untrusted mode", async () => {
    for (const listenPort of [port.firstOverwrite, port.rightmostOverwrite, port.rightmostAppend]) {
      const res = await call(listenPort, OTHER_CLIENT, ALLOWED_CLIENT)
      expect(res.status, `port ${listenPort}`).toBe(403)
      expect(res.json).toMatchObject({ _tag: "ClientNotAllowed" })
    }
  })

  it("documents the risk of the default: first mode behind an appending nginx trusts the client's first entry", async () => {
    // This is why rightmost_untrusted exists and check-config warns (spec, Decision 3).
    expect((await call(port.firstAppend, OTHER_CLIENT, ALLOWED_CLIENT)).status).toBe(200)
  })

  it("ignores X-Forwarded-For from a peer outside trusted_proxy_cidrs and judges the socket address", async () => {
    for (const server of [firstMode, rightmostMode]) {
      const allowedPeer = await rawRequest({
        port: server.port,
        path: "/api/me",
        localAddress: ALLOWED_CLIENT,
        headers: [
          ["Remote-User", "dave"],
          ["X-Forwarded-For", OTHER_CLIENT]
        ]
      })
      expect(allowedPeer.status).toBe(200)
      expect(allowedPeer.json).toMatchObject({ identity: "proxy:dave" })

      const spoofed = await rawRequest({
        port: server.port,
        path: "/api/me",
        localAddress: OTHER_CLIENT,
        headers: [
          ["Remote-User", "mallory"],
          ["X-Forwarded-For", ALLOWED_CLIENT]
        ]
      })
      expect(spoofed.status).toBe(403)
      expect(spoofed.json).toMatchObject({ _tag: "ClientNotAllowed" })
    }
  })

  it("fails closed when the trusted proxy sends no X-Forwarded-For", async () => {
    for (const server of [firstMode, rightmostMode]) {
      const res = await rawRequest({
        port: server.port,
        path: "/api/me",
        localAddress: PROXY,
        headers: [["Remote-User", "alice"]]
      })
      expect(res.status).toBe(400)
      expect(res.json).toMatchObject({ _tag: "InvalidForwardedAddress" })
    }
  })
})
