import { SignJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startHeadtower } from "../e2e/support/headtower.js"
import { type HeaderLine, requestBytes, sendRaw } from "../e2e/support/rawSocket.js"
import { makeWorkDir } from "../e2e/support/workdir.js"
import {
  AUDIENCE,
  ISSUER,
  type JwksServer,
  makeKey,
  sign,
  signRaw,
  startJwksServer,
  type TestKey
} from "../fixtures/jwks.js"
import { PROXY, STRANGER } from "./cases.js"
import { snapshot } from "./db.js"

/*
 * Hostile requests against a real Headtower process in assertion mode, as raw bytes: the
 * answer, and the SQLite file untouched by every rejected request. A signed token is the only
 * way in; headers beside it, a second token, header tricks and token-header tricks (jku, x5u,
 * crit, kid traversal, alg swaps) are not.
 */

const work = makeWorkDir("hostile-assertion")
let keys: JwksServer
let key: TestKey
let port: number
let db: string
let stop: (() => Promise<void>) | undefined
const H = "Cf-Access-Jwt-Assertion"

beforeAll(async () => {
  key = await makeKey("hostile-key")
  keys = await startJwksServer([key.publicJwk])
  const server = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: "http://127.0.0.1:1",
    name: "assertion",
    proxyAuth: {
      allowed_cidrs: [`${PROXY}/32`],
      assertion: { header: H, issuer: ISSUER, audience: [AUDIENCE], jwks_url: keys.url }
    },
    onSpawn: (s) => (stop = s)
  })
  port = server.port
  db = work.path("assertion.db")
  // The first user (the owner) exists, so a case that slipped through would show as a new row.
  const first = await send([`${H}: ${await sign(key, { sub: "owner" })}`])
  expect(first.status).toBe(200)
}, 180_000)

afterAll(async () => {
  await stop?.()
  await keys?.stop()
  work.remove()
})

const send = (lines: ReadonlyArray<HeaderLine>, from = PROXY) =>
  sendRaw({ port, localAddress: from, bytes: requestBytes({ port, path: "/api/me", lines }) })

const withHeader = async (header: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
  sign(key, { sub: "mallory", ...claims }, { header })

type Case = readonly [
  name: string,
  lines: () => Promise<ReadonlyArray<HeaderLine>>,
  status: number,
  tag: string,
  from?: string
]

const CASES: ReadonlyArray<Case> = [
  [
    "identity headers alone",
    async () => ["Remote-User: owner", "Remote-Email: owner@example.com"],
    401,
    "MissingAssertion"
  ],
  [
    "a valid token from a stranger's address",
    async () => [`${H}: ${await sign(key, { sub: "mallory" })}`],
    403,
    "ClientNotAllowed",
    STRANGER
  ],
  [
    "a valid token twice (two lines)",
    async () => {
      const t = await sign(key, { sub: "mallory" })
      return [`${H}: ${t}`, `${H}: ${t}`]
    },
    400,
    "AmbiguousHeader"
  ],
  [
    "a valid token and a forged one",
    async () => [
      `${H}: ${await sign(key, { sub: "mallory" })}`,
      `${H}: ${await sign(await makeKey("hostile-key"), { sub: "owner" })}`
    ],
    400,
    "AmbiguousHeader"
  ],
  [
    "two tokens joined by a comma in one line",
    async () => {
      const t = await sign(key, { sub: "mallory" })
      return [`${H}: ${t}, ${t}`]
    },
    401,
    "InvalidAssertion"
  ],
  [
    "the header name in another case, with a forged token",
    async () => [`cf-access-JWT-assertion: ${await sign(await makeKey("hostile-key"), { sub: "owner" })}`],
    401,
    "InvalidAssertion"
  ],
  [
    "jku pointing at an attacker's key set (never fetched)",
    async () => [
      `${H}: ${await sign(await makeKey("evil"), { sub: "owner" }, { header: { jku: "http://127.0.0.1:1/evil.json" } })}`
    ],
    401,
    "InvalidAssertion"
  ],
  [
    "x5u / embedded jwk header (never believed)",
    async () => {
      const evil = await makeKey("evil-jwk")
      return [
        `${H}: ${await sign(evil, { sub: "owner" }, { header: { jwk: evil.publicJwk, x5u: "http://127.0.0.1:1/c" } })}`
      ]
    },
    401,
    "InvalidAssertion"
  ],
  [
    "kid with path traversal",
    async () => [`${H}: ${await withHeader({ kid: "../../../../etc/passwd" })}`],
    401,
    "InvalidAssertion"
  ],
  [
    "an unknown crit extension (signed by the real key)",
    async () => [`${H}: ${await signRaw(key, { alg: "RS256", kid: key.kid, crit: ["exp-ext"], "exp-ext": true })}`],
    401,
    "InvalidAssertion"
  ],
  [
    "alg swapped to RS512 in the header (signature by RS256)",
    async () => {
      const t = await sign(key, { sub: "owner" })
      const [, p, s] = t.split(".")
      const h = Buffer.from(JSON.stringify({ alg: "RS512", kid: key.kid })).toString("base64url")
      return [`${H}: ${h}.${p}.${s}`]
    },
    401,
    "InvalidAssertion"
  ],
  [
    "an HS256 token keyed with the published JWK",
    async () => [
      `${H}: ${await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: "owner", exp: Math.floor(Date.now() / 1000) + 600 })
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .sign(Buffer.from(JSON.stringify(key.publicJwk)))}`
    ],
    401,
    "InvalidAssertion"
  ],
  [
    "a token longer than 8 KiB",
    async () => [`${H}: ${await sign(key, { sub: "mallory", pad: "x".repeat(9000) })}`],
    401,
    "InvalidAssertion"
  ],
  [
    "a token as Latin-1 bytes",
    async () => [Buffer.concat([Buffer.from(`${H}: `), Buffer.from([0xe9, 0x2e, 0x61, 0x2e, 0x62])])],
    401,
    "InvalidAssertion"
  ],
  ["an empty header", async () => [`${H}: `], 401, "MissingAssertion"],
  [
    "the token in Authorization instead of the configured header",
    async () => [`Authorization: Bearer ${await sign(key, { sub: "mallory" })}`],
    401,
    "MissingAssertion"
  ]
]

describe("hostile requests in assertion mode: the answer, and nothing written", () => {
  for (const [name, lines, status, tag, from] of CASES) {
    it(`${name} → ${status} ${tag}`, async () => {
      const built = await lines()
      const before = snapshot(db)
      const res = await send(built, from)
      expect(res.status, res.body.slice(0, 300)).toBe(status)
      expect(res.json?._tag).toBe(tag)
      expect(snapshot(db), "a rejected request wrote nothing").toEqual(before)
    })
  }

  it("a valid token with forged identity headers beside it signs in the token's subject only", async () => {
    const res = await send([`${H}: ${await sign(key, { sub: "dave" })}`, "Remote-User: owner"])
    expect(res.status).toBe(200)
    expect(res.json.identity).toBe("proxy:dave")
    expect(res.json.role).toBe("member")
    expect(
      snapshot(db)
        .users.filter((u) => u.role === "owner")
        .map((u) => u.identity)
    ).toEqual(["proxy:owner"])
  })
})
