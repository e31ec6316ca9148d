// @ts-check
/*
 * The Users page's program: a module script served same-origin (the page's CSP allows no
 * inline script). It builds every node from user data with textContent, never innerHTML, so a
 * hostile display name or picture URL from a proxy header cannot inject markup. The API's
 * shapes and the page's data are typed by the server's own definitions (`npm run typecheck`).
 */

/** @import { Me, UserPatch } from "../src/http/Api.js" */
/** @import { AuditEvent } from "../src/domain/AuditEvent.js" */
/** @import { User } from "../src/domain/User.js" */
/** @import { UsersPageData } from "../src/http/pages/usersPage.js" */
/** @typedef {typeof Me.Encoded} MeJson */
/** @typedef {typeof User.Encoded} UserJson */
/** @typedef {typeof AuditEvent.Encoded} AuditJson */
/** @typedef {Pick<MeJson, "identity" | "email" | "name" | "picture">} Person */

/** What the server rendered into the page: the roles, and which of them see and change users. */
const page = /** @type {UsersPageData} */ (JSON.parse(document.body.dataset["page"] ?? "null"))

/** @param {string} id */
const byId = (id) => {
  const node = document.getElementById(id)
  if (node === null) throw new Error(`the page has no #${id}`)
  return node
}

/**
 * An element; `text` sets its textContent, `className` its class, every other key an attribute.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attrs]
 * @param {ReadonlyArray<Node | null>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
const el = (tag, attrs = {}, children = []) => {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value
    else if (key === "className") node.className = value
    else node.setAttribute(key, value)
  }
  for (const child of children) if (child) node.appendChild(child)
  return node
}

/** @param {Person} u */
const displayName = (u) => u.name || u.email || u.identity.replace(/^proxy:/, "")

/**
 * Only absolute http(s) URLs become <img src>: a proxy header could carry javascript: or data:.
 * @param {string | null} url
 */
const safePicture = (url) => {
  if (!url) return null
  let parsed
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null
}

/** @param {Person} u */
const initials = (u) => {
  // Letters and digits only: a name like "<b>" should not become the initials "<B".
  const words = displayName(u)
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
  return ((words[0] || "?").charAt(0) + (words[1] || "").charAt(0)).toUpperCase()
}

/**
 * @param {Person} u
 * @param {boolean} large
 */
const avatar = (u, large) => {
  const cls = "avatar" + (large ? " large" : "")
  const fallback = el("span", { className: cls, "aria-hidden": "true", text: initials(u) })
  const src = safePicture(u.picture)
  if (!src) return fallback
  const img = el("img", { className: cls, alt: "", src, referrerpolicy: "no-referrer" })
  // An unreachable picture (closed networks are common) falls back to initials.
  img.addEventListener("error", () => img.replaceWith(fallback))
  return img
}

/** @type {ReadonlyArray<readonly [number, Intl.RelativeTimeFormatUnit]>} */
const STEPS = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [30, "day"],
  [12, "month"],
  [Infinity, "year"]
]

/** @param {string} iso */
const relativeTime = (iso) => {
  const then = new Date(iso)
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
  let value = -Math.round((Date.now() - then.getTime()) / 1000)
  for (const [size, unit] of STEPS) {
    if (Math.abs(value) < size) return format.format(Math.round(value), unit)
    value /= size
  }
  return then.toLocaleString()
}

/** @param {string} iso */
const timeEl = (iso) => el("time", { datetime: iso, title: new Date(iso).toLocaleString(), text: relativeTime(iso) })

/** @param {string} text */
const showError = (text) => {
  byId("status").textContent = ""
  byId("error").textContent = text
}
/** @param {string} text */
const showStatus = (text) => {
  byId("error").textContent = ""
  byId("status").textContent = text
}

/** API errors are `{ _tag, message }`; anything else (a proxy's HTML 401, a dropped connection) is described by status. */
class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} tag
   * @param {string} message
   */
  constructor(status, tag, message) {
    super(message)
    this.status = status
    this.tag = tag
  }
}

/**
 * @param {unknown} data
 * @returns {data is { readonly _tag?: unknown, readonly message: string }}
 */
const isErrorBody = (data) =>
  typeof data === "object" && data !== null && "message" in data && typeof data.message === "string"

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<{ readonly data: unknown, readonly link: string | null }>}
 */
const apiResponse = async (method, path, body) => {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" }
  /** @type {RequestInit} */
  const init = { method, headers, credentials: "same-origin" }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json"
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, "", "Headtower could not be reached.")
  }
  const text = await res.text()
  /** @type {unknown} */
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    data = null
  }
  if (res.ok) return { data, link: res.headers.get("Link") }
  if (isErrorBody(data)) throw new ApiError(res.status, typeof data._tag === "string" ? data._tag : "", data.message)
  throw new ApiError(res.status, "", `the server answered HTTP ${res.status}.`)
}

/**
 * The body of a successful call, as the server's schema for that route encodes it.
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
const api = async (method, path, body) => /** @type {T} */ ((await apiResponse(method, path, body)).data)

/**
 * The target of `rel` among a Link header's comma-separated values, or null.
 * @param {string | null} header
 * @param {"next" | "prev"} rel
 */
const linkTo = (header, rel) => {
  for (const value of (header || "").split(",")) {
    const m = /^\s*<([^>]*)>\s*;\s*rel="?([a-z]+)"?\s*$/i.exec(value)
    if (m && m[2]?.toLowerCase() === rel) return m[1] ?? ""
  }
  return null
}

/** How many users one screen shows: the server pages, the page never fetches them all. */
const PAGE_SIZE = 50
const USERS_PATH = "/api/users"

/**
 * What the table shows: the search and filter, the URL of the page on screen, the links on
 * either side (only ever within the listing) and the page's number, counted from the first.
 * @type {{ q: string, role: string, path: string, next: string | null, prev: string | null, number: number }}
 */
const listing = { q: "", role: "", path: "", next: null, prev: null, number: 1 }

/** The first page of the current search and filter. */
const firstPage = () => {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) })
  if (listing.q !== "") query.set("q", listing.q)
  if (listing.role !== "") query.set("role", listing.role)
  return `${USERS_PATH}?${query}`
}

/**
 * A link the server named, if it stays within the listing; a foreign one is an error.
 * @param {string | null} link
 * @param {"next" | "prev"} rel
 */
const withinListing = (link, rel) => {
  if (link === null || link.startsWith(USERS_PATH + "?")) return link
  throw new ApiError(0, "", `the server named an unexpected ${rel} page.`)
}

/** @param {unknown} err */
const describe = (err) => {
  if (!(err instanceof ApiError)) return String(err)
  let text = err.message.charAt(0).toUpperCase() + err.message.slice(1)
  if (!/[.!?]$/.test(text)) text += "."
  return err.tag ? `${text} (${err.tag})` : text
}

/** @param {MeJson} me */
const renderProfile = (me) => {
  const box = byId("profile")
  box.textContent = ""
  const dl = el("dl", {}, [
    el("dt", { text: "Name" }),
    el("dd", { text: me.name || "—" }),
    el("dt", { text: "Identity" }),
    el("dd", { text: me.identity }),
    el("dt", { text: "Email" }),
    el("dd", { text: me.email || "—" }),
    el("dt", { text: "Role" }),
    el("dd", {}, [el("span", { className: "badge " + me.role, text: me.role })])
  ])
  box.appendChild(avatar(me, true))
  box.appendChild(dl)
}

/** @param {UserJson} u */
const roleControls = (u) => {
  const select = el("select", { "aria-label": "Role for " + displayName(u), name: "role" })
  for (const role of page.roles) {
    const option = el("option", { value: role, text: role })
    if (role === u.role) option.selected = true
    select.appendChild(option)
  }
  const save = el("button", {
    type: "button",
    className: "primary",
    text: "Save role",
    "aria-label": "Save role for " + displayName(u)
  })
  save.disabled = true
  select.addEventListener("change", () => {
    save.disabled = select.value === u.role
  })
  save.addEventListener("click", async () => {
    const role = /** @type {typeof u.role} */ (select.value)
    const ok = await update(u, { role }, `Role of ${displayName(u)} changed to ${role}.`, [select, save])
    if (!ok) {
      select.value = u.role
      save.disabled = true
    }
  })
  return el("div", { className: "controls" }, [select, save])
}

/**
 * The role, and beside it where a mapped one came from ("from groups: ops"), as the server records it.
 * @param {UserJson} u
 * @param {boolean} canManage
 */
const roleCell = (u, canManage) => {
  const role = canManage ? roleControls(u) : el("span", { className: "badge " + u.role, text: u.role })
  if (u.roleSource !== "groups") return el("td", {}, [role])
  const groups = (u.roleGroups ?? []).join(", ") || "none mapped"
  return el("td", {}, [role, el("span", { className: "sub role-source", text: "from groups: " + groups })])
}

/** @param {UserJson} u */
const disableButton = (u) => {
  const verb = u.disabled ? "Enable" : "Disable"
  const button = el("button", {
    type: "button",
    className: u.disabled ? "" : "danger",
    text: verb,
    "aria-label": `${verb} ${displayName(u)}`
  })
  button.addEventListener("click", () => {
    const done = displayName(u) + (u.disabled ? " can sign in again." : " is disabled.")
    void update(u, { disabled: !u.disabled }, done, [button])
  })
  return button
}

/**
 * @param {MeJson} me
 * @param {ReadonlyArray<UserJson>} users
 */
const renderUsers = (me, users) => {
  const body = byId("users-body")
  const canManage = page.managers.includes(me.role)
  body.textContent = ""
  for (const u of users) {
    const nameLine = el("span", { className: "name", text: displayName(u) })
    if (u.id === me.id) nameLine.appendChild(el("span", { className: "you", text: "(you)" }))
    const who = el("div", { className: "who" }, [
      avatar(u, false),
      el("div", { className: "names" }, [nameLine, el("span", { className: "sub", text: u.identity })])
    ])
    const status = el("span", {
      className: "badge " + (u.disabled ? "disabled" : "active"),
      text: u.disabled ? "Disabled" : "Active"
    })
    body.appendChild(
      el("tr", { "data-user-id": u.id, className: u.disabled ? "is-disabled" : "" }, [
        el("td", {}, [who]),
        el("td", { className: "email", text: u.email || "—" }),
        roleCell(u, canManage),
        el("td", {}, [el("div", { className: "controls" }, [status, canManage ? disableButton(u) : null])]),
        el("td", {}, [timeEl(u.lastSeenAt)])
      ])
    )
  }
  const from = (listing.number - 1) * PAGE_SIZE + 1
  const shown = users.length === 0 ? "no users" : `users ${from}–${from + users.length - 1}`
  const filtered = listing.q !== "" || listing.role !== "" ? " matching" : ""
  byId("users-count").textContent =
    `· page ${listing.number}, ${shown}${filtered}${listing.next ? ", more follow" : ""}`
  const prev = /** @type {HTMLButtonElement} */ (byId("users-prev"))
  const next = /** @type {HTMLButtonElement} */ (byId("users-next"))
  prev.disabled = listing.prev === null
  next.disabled = listing.next === null
  // Which page the table shows, for whoever waits for an answer (the browser test does).
  body.setAttribute("data-listing", listing.path)
}

/** @param {ReadonlyArray<AuditJson>} events */
const renderAudit = (events) => {
  const body = byId("audit-body")
  body.textContent = ""
  if (events.length === 0) {
    body.appendChild(el("tr", {}, [el("td", { colspan: "4", className: "sub", text: "No changes recorded yet." })]))
  }
  for (const e of events) {
    const words = e.kind.replace(/_/g, " ")
    const kind = words.charAt(0).toUpperCase() + words.slice(1)
    body.appendChild(
      el("tr", {}, [
        el("td", {}, [timeEl(e.at)]),
        el("td", { text: e.actorIdentity || "system" }),
        el("td", { text: e.subjectIdentity }),
        el("td", { text: e.detail ? `${kind}: ${e.detail}` : kind })
      ])
    )
  }
}

/**
 * Applies a change; the confirmation is announced once the table shows it, not before.
 * @param {UserJson} u
 * @param {typeof UserPatch.Encoded} patch
 * @param {string} doneText
 * @param {ReadonlyArray<HTMLButtonElement | HTMLSelectElement>} controls
 */
const update = async (u, patch, doneText, controls) => {
  for (const c of controls) c.disabled = true
  try {
    await api("PATCH", "/api/users/" + encodeURIComponent(u.id), patch)
  } catch (err) {
    for (const c of controls) c.disabled = false
    showError(`Could not update ${displayName(u)}: ${describe(err)}`)
    return false
  }
  if (await refresh()) showStatus(doneText)
  return true
}

/** Counts the answers asked for, so a slow one never replaces a later search's. */
let asked = 0

/**
 * Reloads everything the current role may see, with the page of users at `path` (the page
 * on screen when absent); the owner's own role may just have changed.
 * @param {string} [path]
 * @param {number} [number] the page's number, when it moves
 */
const refresh = async (path = listing.path || firstPage(), number = listing.number) => {
  const mine = ++asked
  try {
    /** @type {MeJson} */
    const me = await api("GET", "/api/me")
    if (mine !== asked) return false
    renderProfile(me)
    const staff = page.viewers.includes(me.role)
    byId("users-section").hidden = !staff
    byId("audit-section").hidden = !staff
    byId("members-notice").hidden = staff
    if (!staff) return true
    const [users, events] = await Promise.all([apiResponse("GET", path), api("GET", "/api/audit?limit=20")])
    if (mine !== asked) return false
    Object.assign(listing, {
      path,
      number,
      next: withinListing(linkTo(users.link, "next"), "next"),
      prev: withinListing(linkTo(users.link, "prev"), "prev")
    })
    renderUsers(me, /** @type {ReadonlyArray<UserJson>} */ (users.data))
    renderAudit(/** @type {ReadonlyArray<AuditJson>} */ (events))
    return true
  } catch (err) {
    showError(`Could not load users: ${describe(err)}`)
    return false
  }
}

/** A new search or filter starts again from its first page. */
const search = () => {
  listing.q = /** @type {HTMLInputElement} */ (byId("users-search")).value.trim()
  listing.role = /** @type {HTMLSelectElement} */ (byId("users-role")).value
  void refresh(firstPage(), 1)
}

/** Typing waits for a pause before it asks the server: one request per search, not per key. */
const SEARCH_DELAY_MS = 250
/** @type {ReturnType<typeof setTimeout> | undefined} */
let typing

const wire = () => {
  const roleFilter = byId("users-role")
  for (const role of page.roles) roleFilter.appendChild(el("option", { value: role, text: role }))
  roleFilter.addEventListener("change", search)
  byId("users-search").addEventListener("input", () => {
    clearTimeout(typing)
    typing = setTimeout(search, SEARCH_DELAY_MS)
  })
  byId("users-filter").addEventListener("submit", (event) => {
    event.preventDefault()
    clearTimeout(typing)
    search()
  })
  byId("users-next").addEventListener("click", () => {
    if (listing.next !== null) void refresh(listing.next, listing.number + 1)
  })
  byId("users-prev").addEventListener("click", () => {
    if (listing.prev !== null) void refresh(listing.prev, Math.max(1, listing.number - 1))
  })
}

wire()
await refresh()
document.body.setAttribute("data-ready", "true")
