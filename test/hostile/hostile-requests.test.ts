import { writeFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ProxyAuthYaml, startHeadtower } from "../e2e/support/headtower.js"
import { freePort } from "../e2e/support/net.js"
import { basicAuthServer, htpasswdLine, profileMaps, startNginx } from "../e2e/support/nginx.js"
import { requestBytes, sendRaw } from "../e2e/support/rawSocket.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { CASES, DIRECT_PROXY_AUTH, CLIENT, CLIENT_V6, LOOKALIKES, PROXY, type Target } from "./cases.js"
import { type Snapshot, snapshot } from "./db.js"

/*
 * Every row of cases.ts as raw bytes against real Headtower processes (and a real nginx),
 * each checked twice: the answer (status and _tag), and the SQLite file itself — a rejected
 * request must leave users, audit events and the owner claim exactly as they were.
 */

const work = makeWorkDir("hostile")
const stops: Array<() => Promise<unknown>> = []
const targets = new Map<Target, { readonly port: number; readonly db: string }>()
const DBS = ["direct", "xff", "forwarded", "realip"] as const

// Headscale is never called by these routes; nothing listens on port 1.
const HEADSCALE_URL = "http://127.0.0.1:1"
const viaHeader = (ip_header: string, ip_header_mode: "first" | "rightmost_untrusted"): ProxyAuthYaml => ({
  allowed_cidrs: [`${CLIENT}/32`, `${CLIENT_V6}/128`],
  trusted_proxy_cidrs: [`${PROXY}/32`],
  ip_header,
  ip_header_mode
})

beforeAll(async () => {
  const configs: Record<(typeof DBS)[number], ProxyAuthYaml> = {
    direct: DIRECT_PROXY_AUTH,
    xff: viaHeader("X-Forwarded-For", "first"),
    forwarded: viaHeader("Forwarded", "rightmost_untrusted"),
    realip: viaHeader("X-Real-IP", "first")
  }
  // One at a time: on a shared 2-core machine four concurrent start-ups each miss their deadline.
  for (const name of DBS) {
    const server = await startHeadtower({
      workDir: work.dir,
      headscaleUrl: HEADSCALE_URL,
      name,
      proxyAuth: configs[name]
    })
    stops.push(server.stop)
    targets.set(name, { port: server.port, db: work.path(`${name}.db`) })
  }
  const htpasswd = work.path("htpasswd")
  writeFileSync(htpasswd, htpasswdLine("bob", "bob-password") + "\n")
  const [nginxPort, nginxXffPort] = [await freePort(), await freePort()]
  const nginx = await startNginx({
    workDir: work.dir,
    readyPort: nginxPort,
    servers: [
      profileMaps({}),
      basicAuthServer({
        listenPort: nginxPort,
        upstreamPort: targets.get("direct")!.port,
        htpasswdFile: htpasswd,
        bindAddress: PROXY
      }),
      basicAuthServer({
        listenPort: nginxXffPort,
        upstreamPort: targets.get("xff")!.port,
        htpasswdFile: htpasswd,
        bindAddress: PROXY,
        forwardedFor: "overwrite"
      })
    ].join("\n")
  })
  stops.push(nginx.stop)
  targets.set("nginx", { port: nginxPort, db: targets.get("direct")!.db })
  targets.set("nginxXff", { port: nginxXffPort, db: targets.get("xff")!.db })

  // The instance owner exists before any hostile request, so "became the owner" is visible.
  const { port } = targets.get("direct")!
  const first = await sendRaw({
    port,
    localAddress: PROXY,
    bytes: requestBytes({ port, lines: ["Remote-User: owner"] })
  })
  expect(first.json).toMatchObject({ identity: "proxy:owner", role: "owner" })
}, 240_000)

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const userOf = (s: Snapshot, identity: string) => s.users.find((u) => u.identity === `proxy:${identity}`)

describe("hostile requests against the real server: the answer, and nothing written when rejected", () => {
  for (const c of CASES) {
    const outcome =
      "identity" in c.expect
        ? `200 as ${JSON.stringify(c.expect.identity)}`
        : `${c.expect.status} ${c.expect.tag ?? "(before Headtower)"}`
    it(`${c.group}: ${c.name} → ${outcome}`, async () => {
      const { port, db } = targets.get(c.target)!
      const before = snapshot(db)
      const res = await sendRaw({ port, localAddress: c.from ?? PROXY, bytes: requestBytes({ port, lines: c.lines }) })
      const after = snapshot(db)
      expect(res.status, res.body.slice(0, 300)).toBe(c.expect.status)
      if ("identity" in c.expect) {
        expect(res.json?.identity).toBe(`proxy:${c.expect.identity}`)
        const row = userOf(after, c.expect.identity)
        expect(row, "the user is stored under the exact identity").toBeDefined()
        expect(row).toMatchObject(c.expect.stored ?? {})
        expect(after.ownerClaims).toBe(before.ownerClaims === 0 ? 1 : before.ownerClaims)
      } else {
        expect(res.json?._tag).toBe(c.expect.tag)
        expect(after, "a rejected request wrote nothing").toEqual(before)
      }
    })
  }

  it("keeps look-alike identities (NFC/NFD, full-width, case, Cyrillic, NBSP) as distinct members; owner stays the one owner", () => {
    const s = snapshot(targets.get("direct")!.db)
    const names = ["owner", ...LOOKALIKES, "\u00a0owner", "owner\u3000"]
    const rows = names.map((n) => userOf(s, n))
    expect(rows.every((r) => r !== undefined)).toBe(true)
    expect(new Set(rows.map((r) => r!.id)).size).toBe(names.length)
    expect(s.users.filter((u) => u.role === "owner").map((u) => u.identity)).toEqual(["proxy:owner"])
  })

  it("stored profiles hold no control characters and only http(s) pictures, on every server", () => {
    for (const name of DBS) {
      for (const u of snapshot(targets.get(name)!.db).users) {
        for (const value of [u.identity, u.email, u.name, u.picture]) {
          expect(value ?? "").not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
        }
        if (u.picture !== null) expect(u.picture).toMatch(/^https?:\/\//)
      }
    }
  })
})
