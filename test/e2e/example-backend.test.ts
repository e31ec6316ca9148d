import { writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHeadscale, sampleNodes, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { basicAuthServer, htpasswdLine, type Nginx, profileMaps, startNginx } from "./support/nginx.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * The example backend (examples/nodes), which imports Headtower by its package name, started
 * for real as its own process, behind a real nginx doing basic auth from 127.0.0.2.
 */

const PROXY = "127.0.0.2"
const STRANGER = "127.0.0.3"

const work = makeWorkDir("example")
const stops: Array<() => Promise<unknown>> = []
let headscale: FakeHeadscale
let backend: Headtower
let nginx: Nginx
let nginxPort = 0

beforeAll(async () => {
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, nodes: sampleNodes })
  stops.push(() => headscale.close())
  backend = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    name: "nodes-backend",
    program: "examples/nodes/main.ts",
    proxyAuth: { allowed_cidrs: [`${PROXY}/32`] }
  })
  stops.push(backend.stop)
  const htpasswd = work.path("htpasswd")
  writeFileSync(htpasswd, `${htpasswdLine("alice", "alice-password")}\n`)
  nginxPort = await freePort()
  nginx = await startNginx({
    workDir: work.dir,
    readyPort: nginxPort,
    servers: [
      profileMaps({}),
      basicAuthServer({ listenPort: nginxPort, upstreamPort: backend.port, htpasswdFile: htpasswd, bindAddress: PROXY })
    ].join("\n")
  })
  stops.push(nginx.stop)
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

describe("the example backend embedding Headtower, behind nginx", () => {
  it("a request through the proxy reaches its handler with the signed-in user", async () => {
    const res = await rawRequest({ port: nginxPort, path: "/api/nodes", basicAuth: "alice:alice-password" })
    expect(res.status).toBe(200)
    expect(res.json.viewer).toBe("proxy:alice")
    expect(res.json.nodes).toHaveLength(sampleNodes.length)
  })

  it("a stranger outside allowed_cidrs is refused (403 ClientNotAllowed), whatever identity it claims", async () => {
    const before = headscale.requests.length
    const res = await rawRequest({
      port: backend.port,
      path: "/api/nodes",
      localAddress: STRANGER,
      headers: [["Remote-User", "alice"]]
    })
    expect(res.status).toBe(403)
    expect(res.json._tag).toBe("ClientNotAllowed")
    expect(headscale.requests.length).toBe(before)
  })
})
