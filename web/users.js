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
 * The target of rel="next" among a Link header's comma-separated values, or null.
 * @param {string | null} header
 */
const nextLink = (header) => {
  for (const value of (header || "").split(",")) {
    const m = /^\s*<([^>]*)>\s*;\s*rel="?next"?\s*$/i.exec(value)
    if (m) return m[1] ?? ""
  }
  return null
}

/**
 * Every page of a listing, following its Link rel="next" — never outside the listing.
 * @template T
 * @param {string} path
 * @returns {Promise<Array<T>>}
 */
const apiPages = async (path) => {
  /** @type {Array<T>} */
  const all = []
  let current = path
  for (;;) {
    const { data, link } = await apiResponse("GET", current)
    for (const item of /** @type {ReadonlyArray<T>} */ (data)) all.push(item)
    const next = nextLink(link)
    if (next === null) return all
    if (!next.startsWith(path + "?")) throw new ApiError(0, "", "the server named an unexpected next page.")
    current = next
  }
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
  byId("users-count").textContent = users.length === 1 ? "1 user" : `${users.length} users`
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

/** Reloads everything the current role may see; the owner's own role may just have changed. */
const refresh = async () => {
  try {
    /** @type {MeJson} */
    const me = await api("GET", "/api/me")
    renderProfile(me)
    const staff = page.viewers.includes(me.role)
    byId("users-section").hidden = !staff
    byId("audit-section").hidden = !staff
    byId("members-notice").hidden = staff
    if (!staff) return true
    /** @type {[Array<UserJson>, Array<AuditJson>]} */
    const [users, events] = await Promise.all([apiPages("/api/users"), api("GET", "/api/audit?limit=20")])
    renderUsers(me, users)
    renderAudit(events)
    return true
  } catch (err) {
    showError(`Could not load users: ${describe(err)}`)
    return false
  }
}

await refresh()
document.body.setAttribute("data-ready", "true")
