import { copyFileSync, writeFileSync } from "node:fs"
import { Agent } from "node:https"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHeadscale, sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { ALLOWED_CLIENT, makePki, type Pki } from "./support/certificates.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { type TlsRequest, tlsRequest } from "./support/tlsClient.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * A real Headtower process serving HTTPS with server.tls.client_ca_file, and Node TLS clients
 * presenting certificates made with openssl: the proxy's, and every certificate that must be
 * refused. Sessions are resumed explicitly (nodejs/node#35317), and the files are replaced
 * and re-read on SIGHUP.
 */

const work = makeWorkDir("mtls")
const stops: Array<() => Promise<unknown>> = []
let headscale: FakeHeadscale
let pki: Pki
let server: Headtower
/** allowed_client_names empty: any certificate of the CA. Where the resumption trap bites (a name check would hide it). */
let anyOfCa: Headtower
/** The files the server reads: copies, so the SIGHUP tests can replace them. */
const files = { cert: "", key: "", ca: "" }

beforeAll(async () => {
  pki = await makePki(work.dir)
  files.cert = work.path("tls.crt")
  files.key = work.path("tls.key")
  files.ca = work.path("client-ca.crt")
  copyFileSync(pki.server.cert, files.cert)
  copyFileSync(pki.server.key, files.key)
  copyFileSync(pki.proxyCa, files.ca)
  headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  server = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    name: "mtls",
    tls: {
      cert_file: files.cert,
      key_file: files.key,
      client_ca_file: files.ca,
      allowed_client_names: [ALLOWED_CLIENT]
    }
  })
  stops.push(server.stop)
  anyOfCa = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    name: "mtls-any",
    tls: { cert_file: pki.server.cert, key_file: pki.server.key, client_ca_file: pki.proxyCa }
  })
  stops.push(anyOfCa.stop)
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const get = (options: Partial<TlsRequest> & { readonly user?: string } = {}) =>
  tlsRequest({
    port: server.port,
    path: "/api/me",
    ca: pki.serverCa,
    ...options,
    headers: options.headers ?? (options.user === undefined ? [] : [["Remote-User", options.user]])
  })

const identities = async () => {
  const res = await get({ path: "/api/users", cert: pki.proxy, user: "alice" })
  expect(res.status).toBe(200)
  return (res.json as Array<{ identity: string }>).map((u) => u.identity).sort()
}

describe("HTTPS with the proxy's client certificate required (server.tls.client_ca_file)", () => {
  it("believes the identity headers on a connection with the proxy's certificate", async () => {
    const res = await get({ cert: pki.proxy, user: "alice" })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ identity: "proxy:alice", role: "owner" })
  })

  it("accepts a certificate whose DNS SAN alone names the allowed client", async () => {
    const res = await get({ cert: pki.sanOnly, user: "alice" })
    expect(res.status).toBe(200)
  })

  it("refuses, 403, no certificate, another CA's, a name not allowed and an expired one; creates nobody", async () => {
    const cases = [
      ["no certificate", undefined, /no client certificate/],
      ["another CA", pki.foreign, /not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/],
      ["a name not allowed", pki.wrongName, /does not name an allowed client/],
      ["expired", pki.expired, /not trusted \(CERT_HAS_EXPIRED\)/]
    ] as const
    for (const [what, cert, message] of cases) {
      const res = await get({ ...(cert === undefined ? {} : { cert }), user: "mallory" })
      expect(res.status, what).toBe(403)
      expect(res.json, what).toMatchObject({ _tag: "UntrustedClientCertificate" })
      expect(res.json.message, what).toMatch(message)
    }
    const page = await get({ path: "/users", user: "mallory" })
    expect(page.status).toBe(403)
    expect(page.headers["content-type"]).toMatch(/text\/html/)
    expect(page.body).toContain("UntrustedClientCertificate")
    expect(await identities()).not.toContain("proxy:mallory")
  })

  it("answers /healthz and /readyz without a certificate", async () => {
    expect((await get({ path: "/healthz" })).status).toBe(200)
    expect((await get({ path: "/readyz" })).status).toBe(200)
    expect((await get({ path: "/healthz", cert: pki.foreign })).status).toBe(200)
  })

  it("judges a resumed TLS 1.3 session like a fresh one: one made without a certificate stays refused", async () => {
    for (const target of [server, anyOfCa]) {
      const first = await get({ port: target.port, user: "mallory", maxVersion: "TLSv1.3" })
      expect(first.status).toBe(403)
      expect(first.session).toBeDefined()
      // Resumed, the session reports `authorized` with no peer certificate (nodejs/node#35317).
      for (const extra of [{}, { cert: pki.proxy }]) {
        const resumed = await get({
          ...extra,
          port: target.port,
          user: "mallory",
          session: first.session!,
          maxVersion: "TLSv1.3"
        })
        expect(resumed.sessionReused, target.name).toBe(true)
        expect(resumed.status, target.name).toBe(403)
        expect(resumed.json).toMatchObject({ _tag: "UntrustedClientCertificate" })
      }
    }
    expect(await identities()).not.toContain("proxy:mallory")
  })

  it("with allowed_client_names empty, trusts any certificate of the CA and still no other", async () => {
    const port = anyOfCa.port
    expect((await get({ port, cert: pki.wrongName, user: "carol" })).status).toBe(200)
    expect((await get({ port, cert: pki.foreign, user: "mallory" })).status).toBe(403)
    expect((await get({ port, cert: pki.expired, user: "mallory" })).status).toBe(403)
    expect((await get({ port, user: "mallory" })).status).toBe(403)
  })

  it("keeps a session made with the proxy's certificate trusted when resumed, and a refused one refused", async () => {
    for (const maxVersion of ["TLSv1.3", "TLSv1.2"] as const) {
      const first = await get({ cert: pki.proxy, user: "alice", maxVersion })
      expect(first.status).toBe(200)
      const resumed = await get({ user: "alice", session: first.session!, maxVersion })
      expect(resumed.sessionReused, maxVersion).toBe(true)
      expect(resumed.status, maxVersion).toBe(200)

      const stranger = await get({ cert: pki.wrongName, user: "mallory", maxVersion })
      const again = await get({ user: "mallory", session: stranger.session!, maxVersion })
      expect(again.sessionReused, maxVersion).toBe(true)
      expect(again.status, maxVersion).toBe(403)
    }
  })

  it("serves many requests over one kept-alive connection with the certificate", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const sockets = new Set<unknown>()
      for (let i = 0; i < 5; i++) {
        const res = await get({ cert: pki.proxy, user: "alice", agent })
        expect(res.status).toBe(200)
        sockets.add(res.socket)
      }
      expect(sockets.size).toBe(1)
    } finally {
      agent.destroy()
    }
  })

  it("logs each refusal with its reason", () => {
    expect(server.log()).toMatch(/"reason":"UntrustedClientCertificate"/)
  })
})

/** Polls until `probe` holds (the server handles SIGHUP asynchronously); no fixed sleep. */
const eventually = async (probe: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (await probe()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not observed within 20 s: ${what}\n${server.log()}`)
}

describe("SIGHUP re-reads the certificate, key and client CA without dropping connections", () => {
  it("uses a renewed server certificate and a new client CA for new connections; an open one keeps working", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      const before = await get({ cert: pki.proxy, user: "alice", agent })
      expect(before.status).toBe(200)
      const oldFingerprint = before.serverFingerprint

      // Renewal: a new server certificate and key; the proxy now gets its certificate from another CA.
      const renewed = await pki.issue("renewed-server")
      copyFileSync(renewed.cert, files.cert)
      copyFileSync(renewed.key, files.key)
      copyFileSync(pki.otherCa, files.ca)
      process.kill(server.pid, "SIGHUP")
      await eventually(
        async () => (await get({ path: "/healthz", ca: undefined })).serverFingerprint !== oldFingerprint,
        "the renewed certificate in use"
      )

      // New connections: the old CA's certificate is refused, the new CA's accepted.
      expect((await get({ cert: pki.proxy, user: "alice", ca: undefined })).status).toBe(403)
      expect((await get({ cert: pki.foreign, user: "alice", ca: undefined })).status).toBe(200)
      // The connection opened before the reload was not dropped, and was judged at its handshake.
      const after = await get({ cert: pki.proxy, user: "alice", agent })
      expect(after.socket).toBe(before.socket)
      expect(after.status).toBe(200)
    } finally {
      agent.destroy()
    }
  })

  it("keeps the files in use when a new one cannot be used, and says so", async () => {
    const inUse = (await get({ path: "/healthz", ca: undefined })).serverFingerprint
    writeFileSync(files.ca, "not a certificate\n")
    process.kill(server.pid, "SIGHUP")
    await eventually(async () => server.log().includes("TLS files not re-read"), "the refusal logged")
    expect(server.log()).toMatch(/server\.tls\.client_ca_file: .*holds no PEM certificate/)
    expect(server.hasExited()).toBe(false)
    const res = await get({ cert: pki.foreign, user: "alice", ca: undefined })
    expect(res.status).toBe(200)
    expect(res.serverFingerprint).toBe(inUse)
  })
})
