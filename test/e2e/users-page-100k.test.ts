import Sqlite from "better-sqlite3"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { launchChromium } from "./support/chromium.js"
import { E2E_API_KEY, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { basicAuthServer, htpasswdLine, profileMaps, startNginx } from "./support/nginx.js"
import { makeWorkDir } from "./support/workdir.js"
import { writeFileSync } from "node:fs"

/*
 * The Users page over a store of 100,000 users, in a real Chromium through nginx: one page on
 * the first screen, Next and Previous, a search that narrows to one user, the role filter
 * showing the admins. The times to the first screen and to each answer are printed (for the
 * report), never asserted.
 */

const PROXY = "127.0.0.2"
const USERS = 100_000
/** Every 20,000th seeded user is an admin: five of them, plus the owner alice. */
const ADMIN_EVERY = 20_000

const work = makeWorkDir("users-page-100k")
const stops: Array<() => Promise<unknown>> = []
let nginxPort = 0
let browser: Browser

beforeAll(async () => {
  const headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  nginxPort = await freePort()
  const headtower = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    proxyAuth: { allowed_cidrs: [`${PROXY}/32`] }
  })
  stops.push(headtower.stop)
  writeFileSync(work.path("htpasswd"), htpasswdLine("alice", "alice-password") + "\n")
  const nginx = await startNginx({
    workDir: work.dir,
    readyPort: nginxPort,
    servers: [
      profileMaps({ alice: { email: "alice@example.com", name: "Alice Liddell" } }),
      basicAuthServer({
        listenPort: nginxPort,
        upstreamPort: headtower.port,
        htpasswdFile: work.path("htpasswd"),
        bindAddress: PROXY
      })
    ].join("\n")
  })
  stops.push(nginx.stop)
  // alice signs in first and so is the owner; the rest are written in one transaction.
  expect((await rawRequest({ port: nginxPort, path: "/api/me", basicAuth: "alice:alice-password" })).status).toBe(200)
  const db = new Sqlite(work.path("headtower.db"))
  try {
    const now = new Date().toISOString()
    const insert = db.prepare(
      "INSERT INTO users (id, identity, email, name, picture, role, disabled, created_at, last_seen_at) VALUES (?, ?, ?, ?, NULL, ?, 0, ?, ?)"
    )
    db.transaction(() => {
      for (let i = 1; i <= USERS; i++) {
        const role = i % ADMIN_EVERY === 0 ? "admin" : "member"
        insert.run(`seed-${i}`, `proxy:user-${i}`, `user-${i}@example.com`, `Person ${i}`, role, now, now)
      }
    })()
  } finally {
    db.close()
  }
  browser = await launchChromium()
  stops.push(() => browser.close())
}, 120_000)

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

/** Runs `action` and waits for the table to show `listing`'s answer; prints how long it took. */
const timed = async (page: Page, label: string, action: () => Promise<unknown>, listing: RegExp) => {
  const started = performance.now()
  await action()
  await page.waitForFunction(
    (source) => new RegExp(source).test(document.getElementById("users-body")?.dataset["listing"] ?? ""),
    listing.source
  )
  console.log(
    `users page at ${USERS.toLocaleString("en")} users: ${label} in ${Math.round(performance.now() - started)} ms`
  )
}

describe(`the Users page with ${USERS.toLocaleString("en")} users, in Chromium`, () => {
  it("shows one page first, pages both ways, narrows to a searched user and filters the admins", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "alice", password: "alice-password" } })
    const requests: Array<string> = []
    try {
      const page = await context.newPage()
      page.on("request", (request) => {
        if (request.url().includes("/api/users")) requests.push(request.url())
      })
      const rows = page.locator("#users-body tr")
      await timed(page, "first screen", () => page.goto(`http://127.0.0.1:${nginxPort}/users`), /limit=50$/)
      expect(await rows.count()).toBe(50)
      expect(requests).toHaveLength(1)
      expect(await page.locator("#users-count").innerText()).toBe("· page 1, users 1–50, more follow")

      await timed(page, "next page", () => page.getByRole("button", { name: "Next" }).click(), /after=/)
      expect(await page.locator("#users-count").innerText()).toBe("· page 2, users 51–100, more follow")
      expect(await rows.first().innerText()).toContain("proxy:user-50")
      await timed(page, "previous page", () => page.getByRole("button", { name: "Previous" }).click(), /before=/)
      expect(await rows.first().innerText()).toContain("proxy:alice")

      // A user near the end of the store: the search walks most of it.
      await timed(page, "search answer", () => page.getByLabel("Search users").fill("user-99999@"), /q=user-99999%40/)
      expect(await rows.count()).toBe(1)
      expect(await rows.first().innerText()).toContain("proxy:user-99999")
      await timed(
        page,
        "search answer (no match)",
        () => page.getByLabel("Search users").fill("nobody-at-all"),
        /q=nobody/
      )
      expect(await rows.count()).toBe(0)

      await page.getByLabel("Search users").fill("")
      await timed(
        page,
        "role filter answer",
        () => page.getByLabel("Filter by role").selectOption("admin"),
        /role=admin$/
      )
      const admins = await page.locator("#users-body tr .sub").allInnerTexts()
      expect(admins).toEqual([
        "proxy:user-20000",
        "proxy:user-40000",
        "proxy:user-60000",
        "proxy:user-80000",
        "proxy:user-100000"
      ])
      expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true)
      // Never more than one page per answer: a handful of requests, not 100 pages.
      expect(requests.length).toBeLessThan(12)
    } finally {
      await context.close()
    }
  }, 120_000)
})
