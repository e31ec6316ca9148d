import { writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { caddyPasswordHash, startCaddy } from "./support/caddy.js"
import { ALLOWED_CLIENT, type KeyPair, makePki, type Pki } from "./support/certificates.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { htpasswdLine, startNginx } from "./support/nginx.js"
import { startTlsRelay, type TlsRelay } from "./support/tlsRelay.js"
import { tlsRequest } from "./support/tlsClient.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * A real nginx (`proxy_ssl_certificate`) and a real Caddy (`tls_client_auth`) in front of
 * Headtower over HTTPS, configured from docs/proxies/ as operators copy it, presenting
 * certificates made with openssl: the proxy's is trusted; another CA's, a name not allowed,
 * an expired one and none are refused. nginx resumes its upstream TLS sessions (a relay reads
 * each ServerHello to prove it), and resumed sessions are judged like fresh ones.
 */

const PROXY = "127.0.0.2"

const work = makeWorkDir("mtls-proxies")
const stops: Array<() => Promise<unknown>> = []
let headscale: FakeHeadscale
let pki: Pki
/** allowed_client_names: [proxy.internal]. */
let named: Headtower
/** allowed_client_names empty: any certificate of the CA (where a resumed session without one would slip through). */
let anyOfCa: Headtower
/**
 * nginx → relay → Headtower, to see nginx resume its sessions. One relay per site: nginx keeps
 * one upstream session per proxy_pass address, shared by every location that names it, so
 * sites presenting different certificates to one address would resume each other's sessions.
 */
const relays: Record<"proxy" | "foreign" | "wrongName" | "expired" | "none", TlsRelay> = {} as never
const nginxPort = { proxy: 0, foreign: 0, wrongName: 0, expired: 0, none: 0 }
const caddyPort = { proxy: 0, foreign: 0, expired: 0 }

beforeAll(async () => {
  pki = await makePki(work.dir)
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  const start = (name: string, allowedNames: ReadonlyArray<string>) =>
    startHeadtower({
      workDir: work.dir,
      headscaleUrl: headscale.url,
      name,
      // nginx connects from PROXY; Caddy 2.6 cannot choose its source address (caddy.test.ts).
      proxyAuth: { allowed_cidrs: [`${PROXY}/32`, "127.0.0.1/32"] },
      tls: {
        cert_file: pki.server.cert,
        key_file: pki.server.key,
        client_ca_file: pki.proxyCa,
        allowed_client_names: allowedNames
      }
    }).then((h) => {
      stops.push(h.stop)
      return h
    })
  named = await start("named", [ALLOWED_CLIENT])
  anyOfCa = await start("any-of-ca", [])
  for (const site of ["proxy", "foreign", "wrongName", "expired"] as const) {
    relays[site] = await startTlsRelay(named.port, PROXY)
  }
  relays.none = await startTlsRelay(anyOfCa.port, PROXY)
  stops.push(...Object.values(relays).map((relay) => relay.close))

  const htpasswd = work.path("htpasswd")
  writeFileSync(htpasswd, ["alice", "mallory"].map((u) => htpasswdLine(u, `${u}-password`)).join("\n") + "\n")
  for (const key of Object.keys(nginxPort) as Array<keyof typeof nginxPort>) nginxPort[key] = await freePort()
  const nginxSite = (listen: number, upstream: number, cert: KeyPair | undefined) => {
    const site = renderDocsProxy("nginx-client-cert.conf", {
      LISTEN: `127.0.0.1:${listen}`,
      HTPASSWD: htpasswd,
      HEADTOWER: `127.0.0.1:${upstream}`,
      PROXY_SOURCE: PROXY,
      CLIENT_CERT: cert?.cert ?? "",
      CLIENT_KEY: cert?.key ?? "",
      HEADTOWER_CA: pki.serverCa,
      HEADTOWER_NAME: "localhost"
    })
    // The same site presenting no certificate at all.
    return cert === undefined ? site.replace(/^\s*proxy_ssl_certificate(_key)? .*$/gm, "") : site
  }
  const nginx = await startNginx({
    workDir: work.dir,
    readyPort: nginxPort.proxy,
    servers: [
      nginxSite(nginxPort.proxy, relays.proxy.port, pki.proxy),
      nginxSite(nginxPort.foreign, relays.foreign.port, pki.foreign),
      nginxSite(nginxPort.wrongName, relays.wrongName.port, pki.wrongName),
      nginxSite(nginxPort.expired, relays.expired.port, pki.expired),
      nginxSite(nginxPort.none, relays.none.port, undefined)
    ].join("\n")
  })
  stops.push(nginx.stop)

  for (const key of Object.keys(caddyPort) as Array<keyof typeof caddyPort>) caddyPort[key] = await freePort()
  const [aliceHash, malloryHash] = await Promise.all([
    caddyPasswordHash("alice-password"),
    caddyPasswordHash("mallory-password")
  ])
  const caddySite = (listen: number, cert: KeyPair, user: string, hash: string) =>
    renderDocsProxy("Caddyfile.client-cert", {
      LISTEN: `127.0.0.1:${listen}`,
      USER: user,
      PASSWORD_HASH: hash,
      HEADTOWER: `127.0.0.1:${named.port}`,
      CLIENT_CERT: cert.cert,
      CLIENT_KEY: cert.key,
      HEADTOWER_CA: pki.serverCa,
      HEADTOWER_NAME: "localhost"
    })
  // One Caddy, three sites: the global options block is written once.
  const withoutGlobals = (caddyfile: string) => caddyfile.replace(/^\{\n[\s\S]*?\n\}\n/m, "")
  const caddy = await startCaddy({
    workDir: work.dir,
    readyPort: caddyPort.proxy,
    caddyfile: [
      caddySite(caddyPort.proxy, pki.proxy, "alice", aliceHash),
      withoutGlobals(caddySite(caddyPort.foreign, pki.foreign, "mallory", malloryHash)),
      withoutGlobals(caddySite(caddyPort.expired, pki.expired, "mallory", malloryHash))
    ].join("\n")
  })
  stops.push(caddy.stop)
}, 180_000)

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const through = (port: number, user: string, path = "/api/me") =>
  rawRequest({ port, path, basicAuth: `${user}:${user}-password` })

const identities = async (server: Headtower) => {
  const res = await tlsRequest({
    port: server.port,
    path: "/api/users",
    ca: pki.serverCa,
    cert: pki.proxy,
    headers: [["Remote-User", "alice"]]
  })
  expect(res.status).toBe(200)
  return (res.json as Array<{ identity: string }>).map((u) => u.identity).sort()
}

describe("nginx presenting the proxy's client certificate (proxy_ssl_certificate)", () => {
  it("signs users in through nginx, over sessions nginx resumes", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await through(nginxPort.proxy, "alice")
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({ identity: "proxy:alice", role: "owner" })
    }
    // Each request was a new upstream connection; nginx resumed the session after the first.
    expect(relays.proxy.connections.length).toBeGreaterThanOrEqual(4)
    expect(relays.proxy.connections[0]!.resumed).toBe(false)
    expect(relays.proxy.connections.slice(1).some((c) => c.resumed === true)).toBe(true)
  })

  it("refuses identity from nginx presenting another CA's certificate, a name not allowed, or an expired one", async () => {
    for (const [what, port, reason] of [
      ["another CA", nginxPort.foreign, /UNABLE_TO_VERIFY_LEAF_SIGNATURE/],
      ["a name not allowed", nginxPort.wrongName, /does not name an allowed client/],
      ["expired", nginxPort.expired, /CERT_HAS_EXPIRED/]
    ] as const) {
      const res = await through(port, "mallory")
      expect(res.status, what).toBe(403)
      expect(res.json, what).toMatchObject({ _tag: "UntrustedClientCertificate" })
      expect(res.json.message, what).toMatch(reason)
    }
    expect(await identities(named)).not.toContain("proxy:mallory")
  })

  it("refuses nginx presenting no certificate, on fresh and resumed sessions alike (nodejs/node#35317)", async () => {
    for (let i = 0; i < 4; i++) {
      const res = await through(nginxPort.none, "mallory")
      expect(res.status).toBe(403)
      expect(res.json).toMatchObject({ _tag: "UntrustedClientCertificate" })
    }
    // The trap needs a resumed session made without a certificate: nginx made them.
    expect(relays.none.connections.slice(1).some((c) => c.resumed === true)).toBe(true)
    expect(await identities(anyOfCa)).not.toContain("proxy:mallory")
  })
})

describe("Caddy presenting the proxy's client certificate (tls_client_auth)", () => {
  it("signs a user in through Caddy", async () => {
    const res = await through(caddyPort.proxy, "alice")
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ identity: "proxy:alice" })
  })

  it("refuses identity from Caddy presenting another CA's certificate or an expired one", async () => {
    for (const port of [caddyPort.foreign, caddyPort.expired]) {
      const res = await through(port, "mallory")
      expect(res.status).toBe(403)
      expect(res.json).toMatchObject({ _tag: "UntrustedClientCertificate" })
    }
    expect(await identities(named)).not.toContain("proxy:mallory")
  })
})
