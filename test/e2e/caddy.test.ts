import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { caddyPasswordHash, startCaddy } from "./support/caddy.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, type RawRequest, rawRequest } from "./support/net.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * The main flow through a real Caddy. Caddy 2.6 (Debian's) cannot choose the source address
 * of its upstream connections (`local_address` arrived in a later release), so it reaches
 * Headtower from 127.0.0.1: allowed_cidrs names exactly that, and the stranger connects from
 * 127.0.0.3. (A deployment in this shape must keep other local processes off Headtower's port.)
 */

const STRANGER = "127.0.0.3"

const work = makeWorkDir("caddy")
const stops: Array<() => Promise<unknown>> = []
let headtower: Headtower
let caddyPort = 0

beforeAll(async () => {
  const headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  const [server, hashes] = await Promise.all([
    startHeadtower({ workDir: work.dir, headscaleUrl: headscale.url, proxyAuth: { allowed_cidrs: ["127.0.0.1/32"] } }),
    Promise.all(["alice", "bob", "carol"].map(async (u) => [u, await caddyPasswordHash(`${u}-password`)] as const))
  ])
  headtower = server
  stops.push(headtower.stop)
  caddyPort = await freePort()
  // `basicauth` is the 2.6 spelling (later releases call it basic_auth and still accept this).
  // header_up replaces a client's same-named header; `-Remote-Picture` deletes one Caddy does not set.
  const caddy = await startCaddy({
    workDir: work.dir,
    readyPort: caddyPort,
    caddyfile: `{
	admin off
	auto_https off
}
http://127.0.0.1:${caddyPort} {
	basicauth {
${hashes.map(([user, hash]) => `\t\t${user} ${hash}`).join("\n")}
	}
	map {http.auth.user.id} {headtower_email} {headtower_name} {
		alice alice@example.com "Alice Liddell"
		bob "" "Bob Müller"
		default "" ""
	}
	reverse_proxy 127.0.0.1:${headtower.port} {
		header_up Remote-User {http.auth.user.id}
		header_up Remote-Email {headtower_email}
		header_up Remote-Name {headtower_name}
		header_up -Remote-Picture
	}
}
`
  })
  stops.push(caddy.stop)
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const viaCaddy = (user: string, path = "/api/me", extra: Partial<RawRequest> = {}) =>
  rawRequest({ ...extra, port: caddyPort, path, basicAuth: `${user}:${user}-password` })

const identities = async () => {
  const res = await viaCaddy("alice", "/api/users")
  expect(res.status).toBe(200)
  return (res.json as Array<{ identity: string }>).map((u) => u.identity).sort()
}

describe("Headtower behind Caddy basic auth", () => {
  it("signs in the first user through Caddy as the owner, with the profile Caddy supplies", async () => {
    const res = await viaCaddy("alice")
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      identity: "proxy:alice",
      email: "alice@example.com",
      name: "Alice Liddell",
      role: "owner"
    })
  })

  it("signs in a second user as a member; Caddy's empty email header means no email", async () => {
    const res = await viaCaddy("bob")
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ identity: "proxy:bob", email: null, name: "Bob Müller", role: "member" })
  })

  it("refuses identity headers sent straight to Headtower from another address, and creates no user", async () => {
    const res = await rawRequest({
      port: headtower.port,
      path: "/api/me",
      localAddress: STRANGER,
      headers: [["Remote-User", "mallory"]]
    })
    expect(res.status).toBe(403)
    expect(res.json).toMatchObject({ _tag: "ClientNotAllowed" })
    expect(await identities()).toEqual(["proxy:alice", "proxy:bob"])
  })

  it("stops a wrong password at Caddy: 401 from Caddy, and Headtower never sees the user", async () => {
    const res = await rawRequest({ port: caddyPort, path: "/api/me", basicAuth: "carol:not-her-password" })
    expect(res.status).toBe(401)
    expect(res.headers["www-authenticate"]).toMatch(/^Basic /)
    expect(res.json).toBeUndefined()
    expect(await identities()).toEqual(["proxy:alice", "proxy:bob"])
  })

  it("does not let a client's own identity headers through Caddy authenticate or change anyone", async () => {
    const anonymous = await rawRequest({ port: caddyPort, path: "/api/me", headers: [["Remote-User", "alice"]] })
    expect(anonymous.status).toBe(401)

    const spoof = await viaCaddy("bob", "/api/me", {
      headers: [
        ["Remote-User", "alice"],
        ["Remote-Email", "alice@example.com"],
        ["Remote-Picture", "https://images.example/alice.png"]
      ]
    })
    expect(spoof.status).toBe(200)
    expect(spoof.json).toMatchObject({ identity: "proxy:bob", email: null, picture: null, role: "member" })
  })

  it("lets the owner promote a member through Caddy", async () => {
    const users = (await viaCaddy("alice", "/api/users")).json as Array<{ id: string; identity: string }>
    const bob = users.find((u) => u.identity === "proxy:bob")!
    const res = await viaCaddy("alice", `/api/users/${bob.id}`, {
      method: "PATCH",
      body: JSON.stringify({ role: "admin" })
    })
    expect(res.status).toBe(200)
    expect((await viaCaddy("bob")).json).toMatchObject({ role: "admin" })
  })
})
