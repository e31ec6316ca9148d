import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { caddyPasswordHash, startCaddy } from "./support/caddy.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { htpasswdLine, startNginx } from "./support/nginx.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * The proxy examples operators copy from docs/proxies/ are run as written, with only their
 * ${...} placeholders filled in: if an example stops protecting the identity headers, this
 * fails.
 */

const STRANGER = "127.0.0.3"
const flow = (name: string, setup: () => Promise<{ port: number; headtower: Headtower }>) =>
  describe(`docs/proxies: ${name}`, () => {
    let port = 0
    let headtower: Headtower
    beforeAll(async () => {
      ;({ port, headtower } = await setup())
    })

    it("an authenticated user reaches Headtower as proxy:<user>; the first is owner", async () => {
      const me = await rawRequest({ port, path: "/api/me", basicAuth: "alice:alice-password" })
      expect(me.status).toBe(200)
      expect(me.json).toMatchObject({ identity: "proxy:alice", role: "owner", email: null })
    })

    it("identity headers a client sends are replaced or removed by the proxy", async () => {
      const me = await rawRequest({
        port,
        path: "/api/me",
        basicAuth: "alice:alice-password",
        headers: [
          ["Remote-User", "root"],
          ["Remote-Email", "evil@example.com"],
          ["Remote-Picture", "https://evil.example/x.png"]
        ]
      })
      expect(me.json).toMatchObject({ identity: "proxy:alice", email: null, picture: null })
    })

    it("without credentials the proxy answers 401, whatever headers the client sends", async () => {
      const r = await rawRequest({ port, path: "/api/me", headers: [["Remote-User", "alice"]] })
      expect(r.status).toBe(401)
      expect(r.json?._tag).toBeUndefined()
    })

    it("the same headers sent straight to Headtower from elsewhere are refused", async () => {
      const r = await rawRequest({
        port: headtower.port,
        path: "/api/me",
        localAddress: STRANGER,
        headers: [["Remote-User", "alice"]]
      })
      expect(r.status).toBe(403)
    })
  })

const work = makeWorkDir("docs-examples")
const stops: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined)
  work.remove()
})

const headscaleUrl = async () => {
  const headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  return headscale.url
}

flow("nginx-basic-auth.conf", async () => {
  const source = "127.0.0.2"
  const headtower = await startHeadtower({
    workDir: work.dir,
    name: "behind-nginx",
    headscaleUrl: await headscaleUrl(),
    proxyAuth: { allowed_cidrs: [`${source}/32`] }
  })
  stops.push(headtower.stop)
  const port = await freePort()
  const htpasswd = join(work.dir, "docs.htpasswd")
  writeFileSync(htpasswd, `${htpasswdLine("alice", "alice-password")}\n`)
  const servers = renderDocsProxy("nginx-basic-auth.conf", {
    LISTEN: `127.0.0.1:${port}`,
    HTPASSWD: htpasswd,
    HEADTOWER: `127.0.0.1:${headtower.port}`,
    PROXY_SOURCE: source
  })
  const nginx = await startNginx({ workDir: work.dir, name: "docs-nginx", servers, readyPort: port })
  stops.push(nginx.stop)
  return { port, headtower }
})

flow("Caddyfile.basic-auth", async () => {
  const headtower = await startHeadtower({
    workDir: work.dir,
    name: "behind-caddy",
    headscaleUrl: await headscaleUrl(),
    proxyAuth: { allowed_cidrs: ["127.0.0.1/32"] }
  })
  stops.push(headtower.stop)
  const port = await freePort()
  const caddyfile = renderDocsProxy("Caddyfile.basic-auth", {
    LISTEN: `127.0.0.1:${port}`,
    USER: "alice",
    PASSWORD_HASH: await caddyPasswordHash("alice-password"),
    HEADTOWER: `127.0.0.1:${headtower.port}`
  })
  const caddy = await startCaddy({ workDir: work.dir, caddyfile, readyPort: port })
  stops.push(caddy.stop)
  return { port, headtower }
})
