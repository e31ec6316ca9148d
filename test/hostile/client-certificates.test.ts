import { readFileSync } from "node:fs"
import type { ConnectionOptions } from "node:tls"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ALLOWED_CLIENT, type KeyPair, makePki, type Pki } from "../e2e/support/certificates.js"
import { startHeadtower } from "../e2e/support/headtower.js"
import { requestBytes, sendRaw } from "../e2e/support/rawSocket.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { CASES, DIRECT_PROXY_AUTH, PROXY } from "./cases.js"
import { snapshot } from "./db.js"

/*
 * The hostile table (cases.ts) again, over TLS against a real Headtower that requires the
 * proxy's client certificate (server.tls.client_ca_file), from the same addresses and as the
 * same bytes. With the proxy's certificate every row is answered as on the plain server: the
 * mode is invisible to the proxy. Without one, with another CA's, or with a name not allowed,
 * every row that reaches authentication is 403 UntrustedClientCertificate, whatever its
 * headers say, and nothing is written; rows refused before authentication (Node's parser,
 * the header limits) are refused as before.
 */

const work = makeWorkDir("hostile-mtls")
const stops: Array<() => Promise<unknown>> = []
let pki: Pki
let port = 0
let db = ""

/** The rows judged by the plain `direct` server: allowed_cidrs is PROXY alone there, and here. */
const ROWS = CASES.filter((c) => c.target === "direct")

beforeAll(async () => {
  pki = await makePki(work.dir)
  const server = await startHeadtower({
    workDir: work.dir,
    // Headscale is never called by these routes; nothing listens on port 1.
    headscaleUrl: "http://127.0.0.1:1",
    name: "mtls",
    proxyAuth: DIRECT_PROXY_AUTH,
    tls: {
      cert_file: pki.server.cert,
      key_file: pki.server.key,
      client_ca_file: pki.proxyCa,
      allowed_client_names: [ALLOWED_CLIENT]
    }
  })
  stops.push(server.stop)
  port = server.port
  db = work.path("mtls.db")
  // The instance owner exists before any hostile request, as on the plain server.
  const first = await send(pki.proxy, PROXY, ["Remote-User: owner"])
  expect(first.json).toMatchObject({ identity: "proxy:owner", role: "owner" })
}, 240_000)

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const send = (cert: KeyPair | undefined, from: string, lines: (typeof CASES)[number]["lines"]) => {
  const tls: ConnectionOptions = {
    ca: readFileSync(pki.serverCa),
    servername: "localhost",
    ...(cert === undefined ? {} : { cert: readFileSync(cert.cert), key: readFileSync(cert.key) })
  }
  return sendRaw({ port, localAddress: from, bytes: requestBytes({ port, lines }), tls })
}

/** Refused before authentication runs: Node's parser (no JSON of Headtower's) or the edge's header limits. */
const beforeAuthentication = (c: (typeof CASES)[number]) =>
  !("identity" in c.expect) && (c.expect.tag === undefined || c.expect.tag === "RequestHeadersTooLarge")

describe("hostile rows over TLS with the proxy's certificate: answered as on the plain server", () => {
  for (const c of ROWS) {
    it(`${c.group}: ${c.name}`, async () => {
      const res = await send(pki.proxy, c.from ?? PROXY, c.lines)
      expect(res.status, res.body.slice(0, 300)).toBe(c.expect.status)
      if ("identity" in c.expect) expect(res.json?.identity).toBe(`proxy:${c.expect.identity}`)
      else expect(res.json?._tag).toBe(c.expect.tag)
    })
  }
})

describe("hostile rows over TLS without the proxy's certificate: 403 whatever the headers, nothing written", () => {
  const strangers = (): ReadonlyArray<readonly [string, KeyPair | undefined]> => [
    ["no certificate", undefined],
    ["another CA's", pki.foreign],
    ["a name not allowed", pki.wrongName],
    ["expired", pki.expired]
  ]
  for (const c of ROWS) {
    it(`${c.group}: ${c.name}`, async () => {
      for (const [what, cert] of strangers()) {
        const before = snapshot(db)
        const res = await send(cert, c.from ?? PROXY, c.lines)
        if (beforeAuthentication(c)) {
          expect(res.status, what).toBe(c.expect.status)
        } else {
          expect(res.status, `${what}: ${res.body.slice(0, 300)}`).toBe(403)
          expect(res.json?._tag, what).toBe("UntrustedClientCertificate")
        }
        expect(snapshot(db), `${what}: a refused request wrote nothing`).toEqual(before)
      }
    })
  }
})
