import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { caddyPasswordHash, startCaddy } from "./support/caddy.js"
import { basicAuthFlow, docsFlow, docsSuite } from "./support/docsFlow.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { startHeadtower } from "./support/headtower.js"
import { freePort } from "./support/net.js"
import { htpasswdLine, startNginx } from "./support/nginx.js"

/*
 * The proxy examples operators copy from docs/proxies/ are run as written, with only their
 * ${...} placeholders filled in: if an example stops protecting the identity headers, this
 * fails.
 */

const basic = basicAuthFlow

const { work, stops, headscaleUrl } = docsSuite("docs-examples")

docsFlow("nginx-basic-auth.conf", {
  ...basic,
  setup: async () => {
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
  }
})

docsFlow("Caddyfile.basic-auth", {
  ...basic,
  setup: async () => {
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
  }
})
