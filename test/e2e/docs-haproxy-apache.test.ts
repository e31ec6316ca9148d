import { execFileSync } from "node:child_process"
import { chmodSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { basicAuthFlow, docsFlow, docsSuite } from "./support/docsFlow.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { startApache, startHaproxy } from "./support/haproxyApache.js"
import { type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { htpasswdLine } from "./support/nginx.js"

/*
 * The HAProxy and Apache httpd examples in docs/proxies/, run as written with Debian's
 * HAProxy and Apache. Both append the client's address to X-Forwarded-For (after whatever the
 * client sent), so Headtower reads it with ip_header_mode rightmost_untrusted and trusts only
 * the proxy's source address to supply it: allowed_cidrs then names the clients (here
 * 127.0.0.1), and a client elsewhere cannot talk its way in with a forged entry.
 */

const { work, stops, headscaleUrl } = docsSuite("docs-haproxy-apache")
const PROXY_SOURCE = "127.0.0.2"
const OUTSIDER = "127.0.0.4"

const behind = async (name: string) =>
  startHeadtower({
    workDir: work.dir,
    name: `behind-${name}`,
    headscaleUrl: await headscaleUrl(),
    proxyAuth: {
      allowed_cidrs: ["127.0.0.1/32"],
      ip_header: "X-Forwarded-For",
      ip_header_mode: "rightmost_untrusted",
      trusted_proxy_cidrs: [`${PROXY_SOURCE}/32`]
    }
  })

const memo = <A>(f: () => Promise<A>) => {
  let p: Promise<A> | undefined
  return () => (p ??= f())
}

const haproxy = memo(async () => {
  const headtower = await behind("haproxy")
  stops.push(headtower.stop)
  const port = await freePort()
  const hash = execFileSync("openssl", ["passwd", "-6", "alice-password"], { encoding: "utf8" }).trim()
  const config = renderDocsProxy("haproxy-basic-auth.cfg", {
    LISTEN: `127.0.0.1:${port}`,
    USER: "alice",
    PASSWORD_HASH: hash,
    HEADTOWER: `127.0.0.1:${headtower.port}`,
    PROXY_SOURCE
  })
  const proxy = await startHaproxy({ workDir: work.dir, config, readyPort: port })
  stops.push(proxy.stop)
  return { port, headtower }
})

const apache = memo(async () => {
  const headtower = await behind("apache")
  stops.push(headtower.stop)
  const port = await freePort()
  const htpasswd = join(work.dir, "apache.htpasswd")
  writeFileSync(htpasswd, `${htpasswdLine("alice", "alice-password")}\n`)
  // Apache's children run as `daemon`: let them into the temp dir to read the file.
  chmodSync(work.dir, 0o755)
  chmodSync(htpasswd, 0o644)
  const site = renderDocsProxy("apache-basic-auth.conf", {
    LISTEN: `127.0.0.1:${port}`,
    HTPASSWD: htpasswd,
    HEADTOWER: `127.0.0.1:${headtower.port}`,
    PROXY_SOURCE
  })
  const proxy = await startApache({ workDir: work.dir, site, readyPort: port })
  stops.push(proxy.stop)
  return { port, headtower }
})

const basic = basicAuthFlow

const forwardedFor = (name: string, setup: () => Promise<{ port: number; headtower: Headtower }>) =>
  describe(`docs/proxies: ${name} and X-Forwarded-For`, () => {
    it("a client's own X-Forwarded-For entries do not change the address Headtower judges", async () => {
      const { port } = await setup()
      const r = await rawRequest({
        port,
        path: "/api/me",
        headers: [...basic.signIn, ["X-Forwarded-For", "10.9.9.9, 192.0.2.1"]]
      })
      expect(r.status).toBe(200)
    })

    it("a client outside allowed_cidrs that forges an allowed address is still refused", async () => {
      const { port } = await setup()
      const r = await rawRequest({
        port,
        path: "/api/me",
        localAddress: OUTSIDER,
        headers: [...basic.signIn, ["X-Forwarded-For", "127.0.0.1"]]
      })
      expect(r.status).toBe(403)
      expect(r.json?._tag).toBeDefined()
    })
  })

docsFlow("haproxy-basic-auth.cfg", { ...basic, setup: haproxy })
forwardedFor("haproxy-basic-auth.cfg", haproxy)
docsFlow("apache-basic-auth.conf", { ...basic, setup: apache })
forwardedFor("apache-basic-auth.conf", apache)
