import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { E2E_API_KEY } from "../e2e/support/headtower.js"
import { freePort, rawRequest } from "../e2e/support/net.js"
import { type Started, startProcess, waitUntilReady } from "../e2e/support/process.js"
import { requestBytes, sendRaw } from "../e2e/support/rawSocket.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import { PROXY, STRANGER } from "./cases.js"
import { snapshot } from "./db.js"

/*
 * Decision 1 over real sockets: on a dual-stack listener Node reports IPv4 clients as
 * `::ffff:127.0.0.x`. That form must be the IPv4 address for every CIDR check, in both
 * directions: a mapped rule in allowed_cidrs, an IPv4 rule in trusted_proxy_cidrs.
 * (startHeadtower listens on 127.0.0.1 only, hence the hand-written start here.)
 */

const work = makeWorkDir("dual-stack")
let server: Started
let port = 0

beforeAll(async () => {
  port = await freePort("::")
  const configFile = work.path("dual.yaml")
  writeFileSync(
    configFile,
    stringify({
      headscale: { url: "http://127.0.0.1:1", api_key: E2E_API_KEY },
      server: {
        listen: `[::]:${port}`,
        proxy_auth: {
          enabled: true,
          allowed_cidrs: [`::ffff:${PROXY}/128`, "::1/128"],
          ip_header: "X-Forwarded-For",
          trusted_proxy_cidrs: [`${PROXY}/32`]
        }
      },
      database: { url: `sqlite:${work.path("dual.db")}` }
    })
  )
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HEADTOWER_")))
  server = startProcess(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--config", configFile], {
    cwd: join(import.meta.dirname, "..", ".."),
    env,
    logFile: work.path("dual.log")
  })
  await waitUntilReady(
    "headtower (dual stack)",
    server,
    async () => (await rawRequest({ port, path: "/healthz" })).status === 200,
    90_000
  )
}, 120_000)

afterAll(async () => {
  await server?.stop()
  work.remove()
})

const send = (from: string, lines: ReadonlyArray<string>) =>
  sendRaw({
    port,
    host: from.includes(":") ? "::1" : "127.0.0.1",
    localAddress: from,
    bytes: requestBytes({ port, lines })
  })

const cases: ReadonlyArray<{ name: string; from: string; lines: ReadonlyArray<string>; status: number; tag?: string }> =
  [
    {
      name: "IPv4 proxy seen as ::ffff:127.0.0.2 is trusted by the IPv4 rule, and names ::1",
      from: PROXY,
      lines: ["Remote-User: first", "X-Forwarded-For: ::1"],
      status: 200
    },
    {
      name: "the proxy naming itself matches the mapped allowed rule",
      from: PROXY,
      lines: ["Remote-User: first", `X-Forwarded-For: ${PROXY}`],
      status: 200
    },
    {
      name: "the proxy naming a stranger is refused",
      from: PROXY,
      lines: ["Remote-User: x", `X-Forwarded-For: ${STRANGER}`],
      status: 403,
      tag: "ClientNotAllowed"
    },
    {
      name: "the proxy sending no X-Forwarded-For fails closed",
      from: PROXY,
      lines: ["Remote-User: x"],
      status: 400,
      tag: "InvalidForwardedAddress"
    },
    {
      name: "a stranger (::ffff:127.0.0.3) claiming ::1 is judged by its own address",
      from: STRANGER,
      lines: ["Remote-User: x", "X-Forwarded-For: ::1"],
      status: 403,
      tag: "ClientNotAllowed"
    },
    {
      name: "::1 itself, untrusted as a proxy, is judged by its socket address: allowed",
      from: "::1",
      lines: ["Remote-User: v6", `X-Forwarded-For: ${STRANGER}`],
      status: 200
    }
  ]

describe("dual-stack listener: IPv4-mapped peers are their IPv4 address (Decision 1)", () => {
  for (const c of cases) {
    it(`${c.name} → ${c.status}${c.tag ? ` ${c.tag}` : ""}`, async () => {
      const before = snapshot(work.path("dual.db"))
      const res = await send(c.from, c.lines)
      expect(res.status, res.body.slice(0, 200)).toBe(c.status)
      if (c.tag !== undefined) {
        expect(res.json?._tag).toBe(c.tag)
        expect(snapshot(work.path("dual.db"))).toEqual(before)
      }
    })
  }
})
