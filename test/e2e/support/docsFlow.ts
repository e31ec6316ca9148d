import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../../src/testing/fakeHeadscale.js"
import { E2E_API_KEY, type Headtower } from "./headtower.js"
import { rawRequest } from "./net.js"
import { makeWorkDir } from "./workdir.js"

/*
 * What every example in docs/proxies/ must do, whatever the proxy: let a signed-in user
 * through with the identity the identity service vouched for, replace or remove the client's
 * own copies of every header Headtower reads, keep everyone else out, and leave Headtower
 * refusing the same headers from anyone but the proxy.
 */

export type HeaderList = ReadonlyArray<readonly [string, string]>

export const basicAuthHeader = (credentials: string): readonly [string, string] => [
  "Authorization",
  `Basic ${Buffer.from(credentials).toString("base64")}`
]

export interface DocsFlow {
  /** The proxy's listen port and the Headtower behind it. */
  readonly setup: () => Promise<{ port: number; headtower: Headtower }>
  /** Headers that sign the user in at the proxy (basic credentials, a session cookie). */
  readonly signIn: HeaderList
  /** What /api/me must show of that user. */
  readonly expected: { readonly identity: string; readonly email: string | null; readonly name: string | null }
  /** The client's own copies of the headers Headtower reads (and the groups the proxy passes on). */
  readonly forged: HeaderList
  /** The proxy's answer without credentials: 401, or 302 to the sign-in portal. */
  readonly signedOutStatus: number
  /** The identity header as Headtower is configured to read it. */
  readonly userHeader?: string
  /**
   * Where the identity service also vouches for groups and Headtower maps them (role_mapping
   * `admin: ["headtower-admins"]`): a user the service puts in that group, one it does not,
   * and the client's own copy of the groups header claiming it.
   */
  readonly groups?: {
    readonly admin: HeaderList
    readonly member: HeaderList
    readonly forged: readonly [string, string]
  }
}

const STRANGER = "127.0.0.3"

/** The basic-auth examples: alice signs in with a password and has no profile metadata. */
export const basicAuthFlow = {
  signIn: [basicAuthHeader("alice:alice-password")],
  expected: { identity: "proxy:alice", email: null, name: null },
  forged: [
    ["Remote-User", "root"],
    ["Remote-User", "admin"],
    ["Remote-Email", "evil@example.com"],
    ["Remote-Name", "Evil"],
    ["Remote-Picture", "https://evil.example/x.png"]
  ],
  signedOutStatus: 401
} satisfies Omit<DocsFlow, "setup">

export const docsFlow = (name: string, flow: DocsFlow) =>
  describe(`docs/proxies: ${name}`, () => {
    let port = 0
    let headtower: Headtower
    const userHeader = flow.userHeader ?? "Remote-User"
    beforeAll(async () => {
      ;({ port, headtower } = await flow.setup())
    })

    it("a signed-in user reaches Headtower with the identity service's identity; the first is owner", async () => {
      const me = await rawRequest({ port, path: "/api/me", headers: flow.signIn })
      expect(me.status).toBe(200)
      expect(me.json).toMatchObject({ ...flow.expected, role: "owner" })
    })

    it("identity headers a client sends are replaced or removed by the proxy", async () => {
      const me = await rawRequest({ port, path: "/api/me", headers: [...flow.signIn, ...flow.forged] })
      expect(me.status).toBe(200)
      expect(me.json).toMatchObject({ ...flow.expected, picture: null })
    })

    if (flow.groups !== undefined) {
      const groups = flow.groups
      it("the identity service's groups decide the role; a client's own groups header never does", async () => {
        // After the owner (the first test): a later user's role comes from the mapping.
        const admin = await rawRequest({ port, path: "/api/me", headers: groups.admin })
        expect([admin.status, admin.json?.role]).toEqual([200, "admin"])
        const member = await rawRequest({ port, path: "/api/me", headers: [...groups.member, groups.forged] })
        expect([member.status, member.json?.role]).toEqual([200, "member"])
      })
    }

    it("without credentials the proxy refuses, whatever headers the client sends", async () => {
      const r = await rawRequest({ port, path: "/api/me", headers: flow.forged })
      expect(r.status).toBe(flow.signedOutStatus)
      // Headtower's answers are tagged JSON: this one never reached it.
      expect(r.json?._tag).toBeUndefined()
    })

    it("the same headers sent straight to Headtower from elsewhere are refused", async () => {
      const r = await rawRequest({
        port: headtower.port,
        path: "/api/me",
        localAddress: STRANGER,
        headers: [[userHeader, "alice"]]
      })
      expect(r.status).toBe(403)
    })
  })

/** One test file's temp directory, its processes (stopped in reverse order after all) and fake Headscales. */
export const docsSuite = (name: string) => {
  const work = makeWorkDir(name)
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
  return { work, stops, headscaleUrl }
}
