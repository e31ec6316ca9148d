import Sqlite from "better-sqlite3"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { Browser, BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sampleNodes, sampleUsers, startFakeHeadscale } from "../../src/testing/fakeHeadscale.js"
import { launchChromium } from "./support/chromium.js"
import { E2E_API_KEY, type Headtower, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { basicAuthServer, htpasswdLine, profileMaps, startNginx } from "./support/nginx.js"
import { pageAssets } from "./support/pages.js"
import { makeWorkDir } from "./support/workdir.js"

/*
 * The Users page in a real headless Chromium, signed in through a real nginx with basic auth:
 * what an operator actually does, click by click. The screenshot lands in test-output/ so a
 * person can look at the page (it is gitignored).
 */

const PROXY = "127.0.0.2"
const SCREENSHOT = join(import.meta.dirname, "..", "..", "test-output", "users-page.png")
const HOSTILE_NAME = "<img src=x onerror=alert(1)>"

const work = makeWorkDir("users-page")
const stops: Array<() => Promise<unknown>> = []
let headtower: Headtower
let nginxPort = 0
let browser: Browser
const pageErrors: Array<string> = []

beforeAll(async () => {
  const headscale = await startFakeHeadscale({ apiKey: E2E_API_KEY, users: sampleUsers, nodes: sampleNodes, port: 0 })
  stops.push(() => headscale.close())
  nginxPort = await freePort()
  const avatarPort = await freePort()
  headtower = await startHeadtower({
    workDir: work.dir,
    headscaleUrl: headscale.url,
    proxyAuth: { allowed_cidrs: [`${PROXY}/32`], logout_url: `http://127.0.0.1:${nginxPort}/signed-out` }
  })
  stops.push(headtower.stop)

  // A picture the page can really load: a small SVG served by nginx on its own port.
  mkdirSync(work.path("avatars"))
  writeFileSync(
    work.path("avatars/alice.svg"),
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#7c3aed"/>` +
      `<circle cx="32" cy="25" r="12" fill="#ede9fe"/><rect x="14" y="42" width="36" height="22" rx="11" fill="#ede9fe"/></svg>`
  )
  const users = ["alice", "bob", "carol", "dave"]
  writeFileSync(work.path("htpasswd"), users.map((u) => htpasswdLine(u, `${u}-password`)).join("\n") + "\n")
  const nginx = await startNginx({
    workDir: work.dir,
    readyPort: nginxPort,
    servers: [
      profileMaps({
        alice: {
          email: "alice@example.com",
          name: "Alice Liddell",
          picture: `http://127.0.0.1:${avatarPort}/alice.svg`
        },
        bob: { email: "bob@example.com", name: "Bob Müller" },
        carol: { email: "carol@example.com", name: HOSTILE_NAME },
        dave: { name: "Dave Member" }
      }),
      basicAuthServer({
        listenPort: nginxPort,
        upstreamPort: headtower.port,
        htpasswdFile: work.path("htpasswd"),
        bindAddress: PROXY
      }),
      `  server { listen 127.0.0.1:${avatarPort}; root ${work.path("avatars")}; types { image/svg+xml svg; } }`
    ].join("\n")
  })
  stops.push(nginx.stop)

  // Sign everyone in once, in order: alice is the first user and so the owner.
  for (const user of users) {
    const res = await api(user, "/api/me")
    expect(res.status, `${user} signs in`).toBe(200)
  }

  browser = await launchChromium()
  stops.push(() => browser.close())
})

afterAll(async () => {
  await Promise.allSettled(stops.reverse().map((stop) => stop()))
  work.remove()
})

const api = (user: string, path: string) => rawRequest({ port: nginxPort, path, basicAuth: `${user}:${user}-password` })

const userNamed = async (name: string) => {
  const list = (await api("alice", "/api/users")).json as Array<{ name: string; role: string; disabled: boolean }>
  return list.find((u) => u.name === name)!
}

/** A signed-in browser tab on /users, ready once the page's script has rendered. */
const openUsersPage = async (
  user: string,
  prepare?: (page: Page) => Promise<unknown>
): Promise<{ context: BrowserContext; page: Page }> => {
  const context = await browser.newContext({
    httpCredentials: { username: user, password: `${user}-password` },
    viewport: { width: 1200, height: 800 }
  })
  const page = await context.newPage()
  page.on("pageerror", (error) => pageErrors.push(error.message))
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text())
  })
  await prepare?.(page)
  const response = await page.goto(`http://127.0.0.1:${nginxPort}/users`)
  expect(response?.status()).toBe(200)
  await page.locator("body[data-ready=true]").waitFor()
  return { context, page }
}

describe("the Users page through nginx, in Chromium", () => {
  let owner: { context: BrowserContext; page: Page }

  beforeAll(async () => {
    owner = await openUsersPage("alice")
  })
  afterAll(async () => {
    await owner?.context.close()
  })

  it("shows the owner every user with identity, email, role and the owner's own profile", async () => {
    const { page } = owner
    const rows = page.locator("#users-body tr")
    await expect.poll(() => rows.count()).toBe(4)
    const table = await page.locator("#users-body").innerText()
    for (const text of [
      "Alice Liddell",
      "proxy:alice",
      "alice@example.com",
      "Bob Müller",
      "proxy:bob",
      "Dave Member"
    ]) {
      expect(table).toContain(text)
    }
    expect(await page.locator("#profile").innerText()).toContain("proxy:alice")
    expect(await page.getByLabel("Role for Alice Liddell", { exact: true }).inputValue()).toBe("owner")
    expect(await page.getByLabel("Role for Bob Müller", { exact: true }).inputValue()).toBe("member")
    await expect.poll(() => page.getByRole("link", { name: "Log out" }).getAttribute("href")).toBe("/logout")
    const logout = await api("alice", "/logout")
    expect(logout.status).toBe(302)
    expect(logout.headers["location"]).toBe(`http://127.0.0.1:${nginxPort}/signed-out`)
  })

  it("renders a hostile display name as text, never as markup", async () => {
    const { page } = owner
    expect(await page.locator("#users-body").innerText()).toContain(HOSTILE_NAME)
    expect(await page.locator('img[src="x"]').count()).toBe(0)
  })

  it("renders an http picture as an image", async () => {
    const { page } = owner
    const picture = page.locator("#profile img.avatar")
    await expect
      .poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0))
      .toBe(true)
  })

  it("promotes a member to admin from the page, and /api/users shows the change", async () => {
    const { page } = owner
    await page.getByLabel("Role for Bob Müller", { exact: true }).selectOption("admin")
    await page.getByRole("button", { name: "Save role for Bob Müller" }).click()
    await expect.poll(() => page.locator("#status").innerText()).toBe("Role of Bob Müller changed to admin.")
    expect((await userNamed("Bob Müller")).role).toBe("admin")
    expect(await page.locator("#audit-body").innerText()).toContain("proxy:bob")
  })

  it("disables a user from the page, and that user is then refused", async () => {
    const { page } = owner
    await page.getByRole("button", { name: "Disable Dave Member" }).click()
    await expect.poll(() => page.locator("#status").innerText()).toBe("Dave Member is disabled.")
    expect((await userNamed("Dave Member")).disabled).toBe(true)
    const refused = await api("dave", "/api/me")
    expect(refused.status).toBe(403)
    expect(refused.json).toMatchObject({ _tag: "UserDisabled" })
    await page.getByRole("button", { name: "Enable Dave Member" }).click()
    await expect.poll(() => page.locator("#status").innerText()).toBe("Dave Member can sign in again.")
  })

  it("shows the last-owner refusal in words in the alert region, and keeps the owner", async () => {
    const { page } = owner
    await page.getByLabel("Role for Alice Liddell", { exact: true }).selectOption("member")
    await page.getByRole("button", { name: "Save role for Alice Liddell" }).click()
    const alert = page.getByRole("alert")
    await expect.poll(() => alert.innerText()).toMatch(/^Could not update Alice Liddell: .+ \(LastOwner\)$/)
    expect(await alert.isVisible()).toBe(true)
    expect(await page.getByLabel("Role for Alice Liddell", { exact: true }).inputValue()).toBe("owner")
    expect((await api("alice", "/api/me")).json).toMatchObject({ role: "owner" })

    mkdirSync(join(SCREENSHOT, ".."), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  })

  it("shows a member their own profile and says politely that only owners and admins see users", async () => {
    const { context, page } = await openUsersPage("carol")
    try {
      expect(await page.locator("#profile").innerText()).toContain("proxy:carol")
      expect(await page.getByText("Only owners and admins can see users.").isVisible()).toBe(true)
      expect(await page.locator("#users-section").isVisible()).toBe(false)
      expect(await page.locator("#error").innerText()).toBe("")
    } finally {
      await context.close()
    }
  })

  it("shows one page at a time: with more users than a page holds, Next and Previous move between pages", async () => {
    const db = new Sqlite(work.path("headtower.db"))
    try {
      const now = new Date().toISOString()
      const insert = db.prepare(
        "INSERT INTO users (id, identity, email, name, picture, role, disabled, created_at, last_seen_at) VALUES (?, ?, NULL, ?, NULL, 'member', 0, ?, ?)"
      )
      db.transaction(() => {
        for (let i = 0; i < 1_200; i++) insert.run(`bulk-${i}`, `proxy:bulk-${i}`, `Bulk ${i}`, now, now)
      })()
    } finally {
      db.close()
    }
    const first = await api("alice", "/api/users")
    expect(first.json).toHaveLength(1_000)
    expect(first.headers["link"]).toMatch(/; rel="next"$/)
    const { page } = owner
    await page.reload()
    await page.locator("body[data-ready=true]").waitFor()
    const rows = page.locator("#users-body tr")
    expect(await rows.count()).toBe(50)
    expect(await page.locator("#users-count").innerText()).toBe("· page 1, users 1–50, more follow")
    expect(await page.getByRole("button", { name: "Previous" }).isDisabled()).toBe(true)
    await page.getByRole("button", { name: "Next" }).click()
    await expect.poll(() => page.locator("#users-count").innerText()).toBe("· page 2, users 51–100, more follow")
    expect(await rows.count()).toBe(50)
    // The four signed-in users, then bulk-0…: the second page starts at bulk-46.
    expect(await rows.first().innerText()).toContain("proxy:bulk-46")
    await page.getByRole("button", { name: "Previous" }).click()
    await expect.poll(() => page.locator("#users-count").innerText()).toBe("· page 1, users 1–50, more follow")
    expect(await rows.first().innerText()).toContain("proxy:alice")
    expect(await page.locator("#error").innerText()).toBe("")
  })

  it("follows a next link only within the listing: a foreign one is shown as an error and never fetched", async () => {
    const foreign: Array<string> = []
    const { context, page } = await openUsersPage("alice", async (page) => {
      // The listing's real answer, with its Link pointing elsewhere.
      await page.route(/\/api\/users\?/, async (route) => {
        const response = await route.fetch()
        await route.fulfill({
          response,
          headers: { ...response.headers(), link: '<http://elsewhere.example/steal>; rel="next"' }
        })
      })
      await page.route("http://elsewhere.example/**", (route) => {
        foreign.push(route.request().url())
        return route.abort()
      })
    })
    try {
      expect(await page.locator("#error").innerText()).toContain("unexpected next page")
      expect(foreign).toEqual([])
    } finally {
      await context.close()
    }
  })

  it("serves its script and style sheet same-origin at content-hashed URLs, and its CSP allows no inline code", async () => {
    const html = await api("alice", "/users")
    const csp = String(html.headers["content-security-policy"])
    expect(csp).toContain("script-src 'self';")
    expect(csp).toContain("style-src 'self';")
    expect(csp).toContain("require-trusted-types-for 'script'")
    expect(csp).not.toContain("unsafe")
    expect(html.headers["cache-control"]).toBe("no-store")
    expect(html.body).not.toMatch(/<script>|<style>| style=| on\w+=/)
    const { script, style } = pageAssets(html.body)
    for (const [url, type] of [
      [script, "text/javascript; charset=utf-8"],
      [style, "text/css; charset=utf-8"]
    ] as const) {
      expect(url, `${type} linked from the page`).toBeDefined()
      const file = await api("alice", url!)
      expect(file.status).toBe(200)
      expect(file.headers["content-type"]).toBe(type)
      expect(file.headers["x-content-type-options"]).toBe("nosniff")
      expect(file.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
      // The URL names the content: another hash is not this file.
      expect((await api("alice", url!.replace(/\.[0-9a-f]{16}\./, ".0000000000000000."))).status).toBe(404)
    }
    expect((await api("alice", script!)).body).toContain("textContent")
    // Like every route that takes no body (issue 11's edge): a GET with one is refused.
    expect((await rawRequest({ port: headtower.port, path: script!, body: "x" })).status).toBe(413)
  })

  it("blocks script injected into the page (inline and in a handler) and still works; HTML sinks refuse strings", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "alice", password: "alice-password" } })
    const consoleErrors: Array<string> = []
    try {
      const page = await context.newPage()
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text())
      })
      await page.addInitScript(() => {
        const seen: Array<string> = ((window as unknown as { violations: Array<string> }).violations = [])
        document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective))
      })
      // What a markup injection would add to the page, served with the page's own headers (its CSP).
      await page.route("**/users", async (route) => {
        const response = await route.fetch()
        const injected = (await response.text()).replace(
          "</body>",
          `<script>window.injected = "inline script ran"</script><img src="/no-such-picture" onerror="window.injected = 'handler ran'"></body>`
        )
        await route.fulfill({ response, body: injected })
      })
      await page.goto(`http://127.0.0.1:${nginxPort}/users`)
      await page.locator("body[data-ready=true]").waitFor()
      expect(await page.locator("#users-body tr").count()).toBeGreaterThan(0)
      expect(await page.locator("#error").innerText()).toBe("")
      expect(await page.evaluate(() => (window as unknown as { injected?: string }).injected)).toBeUndefined()
      await expect
        .poll(() => page.evaluate(() => (window as unknown as { violations: Array<string> }).violations))
        .toEqual(expect.arrayContaining(["script-src-elem", "script-src-attr"]))
      expect(consoleErrors.join("\n")).toMatch(
        /inline script violates the following Content Security Policy directive 'script-src 'self''/
      )
      const assigned = await page.evaluate(() => {
        try {
          document.body.innerHTML = "<b>markup</b>"
          return "assigned"
        } catch (error) {
          return (error as Error).name
        }
      })
      expect(assigned).toBe("TypeError")
    } finally {
      await context.close()
    }
  })

  it("ran without script errors or Content-Security-Policy violations", () => {
    // Chromium logs every non-2xx response (the 409 above, the favicon's 404) as a console
    // error; those are asserted where they matter. Exceptions and CSP blocks are not.
    expect(
      pageErrors.filter((e) => !/^Failed to load resource: the server responded with a status of/.test(e))
    ).toEqual([])
  })
})
