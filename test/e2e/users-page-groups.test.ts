import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { launchChromium } from "./support/chromium.js"
import { type Headtower, startHeadtower } from "./support/headtower.js"
import { rawRequest } from "./support/net.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * Roles from the proxy's groups on the Users page, in a real headless Chromium against a real
 * Headtower process: a mapped role shows where it came from ("from groups: ops"), a manual one
 * does not, and changing a mapped role by hand shows the server's refusal.
 */

const work = makeWorkDir("users-page-groups")
let headtower: Headtower
let browser: Browser

const signIn = (user: string, groups?: string) =>
  rawRequest({
    port: headtower.port,
    path: "/api/me",
    headers: [["Remote-User", user], ...(groups === undefined ? [] : [["Remote-Groups", groups] as const])]
  })

beforeAll(async () => {
  headtower = await startHeadtower({
    workDir: work.dir,
    // Headscale is never called by these routes; nothing listens on port 1.
    headscaleUrl: "http://127.0.0.1:1",
    proxyAuth: { groups_header: "Remote-Groups", role_mapping: { admin: ["ops"], viewer: ["staff"] } }
  })
  for (const [user, groups] of [
    ["alice", "ops"],
    ["bob", "dev,ops"],
    ["carol", undefined]
  ] as const) {
    expect((await signIn(user, groups)).status, `${user} signs in`).toBe(200)
  }
  browser = await launchChromium()
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await headtower?.stop()
  work.remove()
})

describe("the Users page with role_mapping, in Chromium", () => {
  it("shows 'from groups: ops' beside a mapped role only, and the 409 when it is changed by hand", async () => {
    // The browser stands in for the proxy: every request carries the owner's identity headers.
    const context = await browser.newContext({ extraHTTPHeaders: { "Remote-User": "alice" } })
    const page = await context.newPage()
    expect((await page.goto(`http://127.0.0.1:${headtower.port}/users`))?.status()).toBe(200)
    await page.locator("body[data-ready=true]").waitFor()
    const row = (identity: string) => page.locator("#users-body tr", { hasText: identity })
    await expect.poll(() => row("proxy:bob").textContent()).toContain("from groups: ops")
    expect(await row("proxy:carol").textContent()).not.toContain("from groups")
    // alice is the owner: outside the mapping, whatever her groups.
    expect(await row("proxy:alice").textContent()).not.toContain("from groups")

    await row("proxy:bob").getByRole("combobox").selectOption("member")
    await row("proxy:bob")
      .getByRole("button", { name: /Save role/ })
      .click()
    await expect.poll(() => page.locator("body").textContent()).toContain("server.proxy_auth.role_mapping")
    const users = await rawRequest({ port: headtower.port, path: "/api/users", headers: [["Remote-User", "alice"]] })
    const stored = (users.json as Array<{ identity: string; role: string }>).find((u) => u.identity === "proxy:bob")!
    expect(stored.role).toBe("admin")
    await context.close()
  }, 120_000)
})
