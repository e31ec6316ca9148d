/*
 * The Users page and the HTML error page. Each is one self-contained document: inline CSS and
 * a small inline script, no build step and no external URL (deployments may have no internet).
 * The script builds every node from user data with textContent, never innerHTML, so a
 * hostile display name or picture URL from a proxy header cannot inject markup.
 */

import { createHash } from "node:crypto"

/** Escapes text for an HTML text node or a double-quoted attribute. */
const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const STYLE = `
:root { color-scheme: light; --bg: #f5f6f8; --card: #fff; --text: #1d2330; --muted: #5b6474;
  --line: #dfe3ea; --accent: #2457c5; --danger: #b42318; --danger-bg: #fef3f2; --ok: #067647;
  --ok-bg: #ecfdf3; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 15px; line-height: 1.45; }
header.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem;
  padding: .75rem 1.5rem; background: #111827; color: #f9fafb; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top nav { display: flex; align-items: center; gap: 1rem; }
header.top a { color: #c7d7fe; }
main { max-width: 1100px; margin: 1.5rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem 1.25rem; margin-bottom: 1.25rem; }
.profile { display: flex; align-items: center; gap: 1rem; }
.profile dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .75rem; margin: 0; }
.profile dt { color: var(--muted); }
.profile dd { margin: 0; overflow-wrap: anywhere; }
.avatar { width: 40px; height: 40px; border-radius: 50%; flex: none; object-fit: cover;
  display: inline-flex; align-items: center; justify-content: center; font-weight: 600;
  background: #e0e7ff; color: #3730a3; font-size: .95rem; }
.avatar.large { width: 64px; height: 64px; font-size: 1.4rem; }
.alert { border-radius: 8px; padding: .65rem .9rem; margin-bottom: 1rem; }
.alert:empty { display: none; }
#error { background: var(--danger-bg); color: var(--danger); border: 1px solid #fecdca; }
#status { background: var(--ok-bg); color: var(--ok); border: 1px solid #abefc6; }
.notice { color: var(--muted); margin: 0; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .55rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
tbody tr:last-child td { border-bottom: none; }
.who { display: flex; align-items: center; gap: .65rem; min-width: 0; }
.who .names { display: flex; flex-direction: column; min-width: 0; }
.who .name { font-weight: 600; }
.sub { color: var(--muted); font-size: .85rem; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .8rem;
  font-weight: 600; background: #eef2f6; color: #364152; }
.badge.owner { background: #fef0c7; color: #93370d; }
.badge.admin { background: #e0eaff; color: #2d31a6; }
.badge.disabled { background: var(--danger-bg); color: var(--danger); }
.badge.active { background: var(--ok-bg); color: var(--ok); }
.you { margin-left: .35rem; font-size: .75rem; color: var(--muted); font-weight: 400; }
.controls { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
select, button { font: inherit; font-size: .9rem; padding: .3rem .6rem; border-radius: 6px;
  border: 1px solid #b9c0cc; background: #fff; color: var(--text); }
button { cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--danger); border-color: #f1a29b; }
button:disabled { opacity: 1; cursor: default; background: #f2f4f7; border-color: #d0d5dd; color: #98a2b3; }
.table-wrap { overflow-x: auto; }
:focus-visible { outline: 3px solid #84adff; outline-offset: 2px; }
tr.is-disabled .who, tr.is-disabled .email { opacity: .6; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.audit td { font-size: .88rem; }
`

/*
 * Runs in the browser. Plain ES2017, no template literals, so it can live inside this
 * TypeScript template string unescaped.
 */
const SCRIPT = `
"use strict";
var state = { me: null, users: [] };
var ROLES = ["owner", "admin", "member"];

function $(id) { return document.getElementById(id); }
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) {
    if (k === "text") node.textContent = attrs[k];
    else if (k === "className") node.className = attrs[k];
    else node.setAttribute(k, attrs[k]);
  });
  (children || []).forEach(function (c) { if (c) node.appendChild(c); });
  return node;
}
function displayName(u) { return u.name || u.email || u.identity.replace(/^proxy:/, ""); }

// Only absolute http(s) URLs become <img src>: a proxy header could carry javascript: or data:.
function safePicture(url) {
  if (!url) return null;
  try { var parsed = new URL(url); } catch (e) { return null; }
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
}
function initials(u) {
  // Letters and digits only: a name like "<b>" should not become the initials "<B".
  var words = displayName(u).split(/[^\\p{L}\\p{N}]+/u).filter(Boolean);
  return ((words[0] || "?").charAt(0) + (words[1] || "").charAt(0)).toUpperCase();
}
function avatar(u, large) {
  var cls = "avatar" + (large ? " large" : "");
  var fallback = el("span", { className: cls, "aria-hidden": "true", text: initials(u) });
  var src = safePicture(u.picture);
  if (!src) return fallback;
  var img = el("img", { className: cls, alt: "", src: src, referrerpolicy: "no-referrer" });
  // An unreachable picture (closed networks are common) falls back to initials.
  img.addEventListener("error", function () { if (img.parentNode) img.parentNode.replaceChild(fallback, img); });
  return img;
}
function relativeTime(iso) {
  var then = new Date(iso), seconds = Math.round((Date.now() - then.getTime()) / 1000);
  var steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
  var value = -seconds, fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (var i = 0; i < steps.length; i++) {
    if (Math.abs(value) < steps[i][0]) return fmt.format(Math.round(value), steps[i][1]);
    value /= steps[i][0];
  }
  return then.toLocaleString();
}
function timeEl(iso) {
  return el("time", { datetime: iso, title: new Date(iso).toLocaleString(), text: relativeTime(iso) });
}

function showError(text) { $("status").textContent = ""; $("error").textContent = text; }
function showStatus(text) { $("error").textContent = ""; $("status").textContent = text; }

// API errors are { _tag, message }; anything else (a proxy's HTML 401, a dropped connection) is described by status.
function ApiError(status, tag, message) { this.status = status; this.tag = tag; this.message = message; }
function api(method, path, body) {
  return apiResponse(method, path, body).then(function (r) { return r.data; });
}
// Every page of a listing, following its Link rel="next" — never outside the listing.
function apiPages(path) {
  var all = [];
  function page(p) {
    return apiResponse("GET", p).then(function (r) {
      for (var i = 0; i < r.data.length; i++) all.push(r.data[i]);
      var next = nextLink(r.link);
      if (next === null) return all;
      if (next.indexOf(path + "?") !== 0) throw new ApiError(0, "", "the server named an unexpected next page.");
      return page(next);
    });
  }
  return page(path);
}
// The target of rel="next" among a Link header's comma-separated values, or null.
function nextLink(header) {
  var values = (header || "").split(",");
  for (var i = 0; i < values.length; i++) {
    var m = /^\\s*<([^>]*)>\\s*;\\s*rel="?next"?\\s*$/i.exec(values[i]);
    if (m) return m[1];
  }
  return null;
}
function apiResponse(method, path, body) {
  var init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  return fetch(path, init).then(function (res) {
    return res.text().then(function (text) {
      var data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
      if (res.ok) return { data: data, link: res.headers.get("Link") };
      if (data && typeof data.message === "string") throw new ApiError(res.status, data._tag || "", data.message);
      throw new ApiError(res.status, "", "the server answered HTTP " + res.status + ".");
    });
  }, function () { throw new ApiError(0, "", "Headtower could not be reached."); });
}
function describe(err) {
  if (!(err instanceof ApiError)) return String(err);
  var text = err.message.charAt(0).toUpperCase() + err.message.slice(1);
  if (!/[.!?]$/.test(text)) text += ".";
  return err.tag ? text + " (" + err.tag + ")" : text;
}

function renderProfile(me) {
  var box = $("profile");
  box.textContent = "";
  var dl = el("dl", {}, [
    el("dt", { text: "Name" }), el("dd", { text: me.name || "—" }),
    el("dt", { text: "Identity" }), el("dd", { text: me.identity }),
    el("dt", { text: "Email" }), el("dd", { text: me.email || "—" }),
    el("dt", { text: "Role" }), el("dd", {}, [el("span", { className: "badge " + me.role, text: me.role })])
  ]);
  box.appendChild(avatar(me, true));
  box.appendChild(dl);
}

function roleControls(u) {
  var label = "Role for " + displayName(u);
  var select = el("select", { "aria-label": label, name: "role" });
  ROLES.forEach(function (r) {
    var opt = el("option", { value: r, text: r });
    if (r === u.role) opt.selected = true;
    select.appendChild(opt);
  });
  var save = el("button", { type: "button", className: "primary", text: "Save role", "aria-label": "Save role for " + displayName(u) });
  save.disabled = true;
  select.addEventListener("change", function () { save.disabled = select.value === u.role; });
  save.addEventListener("click", function () {
    update(u, { role: select.value }, "Role of " + displayName(u) + " changed to " + select.value + ".", [select, save])
      .then(function (ok) { if (!ok) { select.value = u.role; save.disabled = true; } });
  });
  return el("div", { className: "controls" }, [select, save]);
}
function disableButton(u) {
  var verb = u.disabled ? "Enable" : "Disable";
  var button = el("button", { type: "button", className: u.disabled ? "" : "danger", text: verb,
    "aria-label": verb + " " + displayName(u) });
  button.addEventListener("click", function () {
    var done = displayName(u) + (u.disabled ? " can sign in again." : " is disabled.");
    update(u, { disabled: !u.disabled }, done, [button]);
  });
  return button;
}

function renderUsers() {
  var body = $("users-body"), me = state.me, canManage = me.role === "owner";
  body.textContent = "";
  state.users.forEach(function (u) {
    var isMe = u.id === me.id;
    var nameLine = el("span", { className: "name", text: displayName(u) });
    if (isMe) nameLine.appendChild(el("span", { className: "you", text: "(you)" }));
    var who = el("div", { className: "who" }, [avatar(u, false),
      el("div", { className: "names" }, [nameLine, el("span", { className: "sub", text: u.identity })])]);
    var status = el("span", { className: "badge " + (u.disabled ? "disabled" : "active"), text: u.disabled ? "Disabled" : "Active" });
    var row = el("tr", { "data-user-id": u.id, className: u.disabled ? "is-disabled" : "" }, [
      el("td", {}, [who]),
      el("td", { className: "email", text: u.email || "—" }),
      el("td", {}, [canManage ? roleControls(u) : el("span", { className: "badge " + u.role, text: u.role })]),
      el("td", {}, [el("div", { className: "controls" }, [status, canManage ? disableButton(u) : null])]),
      el("td", {}, [timeEl(u.lastSeenAt)])
    ]);
    body.appendChild(row);
  });
  $("users-count").textContent = state.users.length === 1 ? "1 user" : state.users.length + " users";
}

function renderAudit(events) {
  var body = $("audit-body");
  body.textContent = "";
  if (events.length === 0) {
    body.appendChild(el("tr", {}, [el("td", { colspan: "4", className: "sub", text: "No changes recorded yet." })]));
  }
  events.forEach(function (e) {
    var kind = e.kind.replace(/_/g, " ");
    kind = kind.charAt(0).toUpperCase() + kind.slice(1);
    var detail = e.detail ? kind + ": " + e.detail : kind;
    body.appendChild(el("tr", {}, [
      el("td", {}, [timeEl(e.at)]),
      el("td", { text: e.actorIdentity || "system" }),
      el("td", { text: e.subjectIdentity }),
      el("td", { text: detail })
    ]));
  });
}

function update(u, patch, doneText, controls) {
  controls.forEach(function (c) { c.disabled = true; });
  // The confirmation is announced once the table shows the change, not before.
  return api("PATCH", "/api/users/" + encodeURIComponent(u.id), patch).then(function () {
    return refresh().then(function (loaded) { if (loaded) showStatus(doneText); return true; });
  }, function (err) {
    controls.forEach(function (c) { c.disabled = false; });
    showError("Could not update " + displayName(u) + ": " + describe(err));
    return false;
  });
}

// Reloads everything the current role may see; the owner's own role may just have changed.
function refresh() {
  return api("GET", "/api/me").then(function (me) {
    state.me = me;
    renderProfile(me);
    var staff = me.role === "owner" || me.role === "admin";
    $("users-section").hidden = !staff;
    $("audit-section").hidden = !staff;
    $("members-notice").hidden = staff;
    if (!staff) return true;
    return Promise.all([apiPages("/api/users"), api("GET", "/api/audit?limit=20")]).then(function (r) {
      state.users = r[0];
      renderUsers();
      renderAudit(r[1]);
      return true;
    });
  }).catch(function (err) { showError("Could not load users: " + describe(err)); return false; });
}

refresh().then(function () { document.body.setAttribute("data-ready", "true"); });
`

/** The CSP source that pins SCRIPT, the page's one script: no other inline script runs. */
export const SCRIPT_HASH = `'sha256-${createHash("sha256").update(SCRIPT).digest("base64")}'`

const htmlDocument = (title: string, body: string, script?: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
${script === undefined ? "" : `<script>${script}</script>`}
</body>
</html>
`

export const usersPage = (options: { logoutEnabled: boolean }): string =>
  htmlDocument(
    "Users · Headtower",
    `<header class="top">
  <span class="brand">Headtower</span>
  <nav aria-label="Account">${options.logoutEnabled ? `<a href="/logout">Log out</a>` : ""}</nav>
</header>
<main>
  <h1>Users</h1>
  <div id="error" class="alert" role="alert" aria-live="assertive"></div>
  <div id="status" class="alert" role="status" aria-live="polite"></div>
  <section class="card" aria-labelledby="profile-heading">
    <h2 id="profile-heading">Your profile</h2>
    <div id="profile" class="profile"><p class="notice">Loading…</p></div>
  </section>
  <section class="card" id="members-notice" hidden>
    <p class="notice">Only owners and admins can see users.</p>
  </section>
  <section class="card" id="users-section" aria-labelledby="users-heading" hidden>
    <h2 id="users-heading">All users <span id="users-count" class="sub"></span></h2>
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">User</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Last seen</th></tr></thead>
      <tbody id="users-body"></tbody>
    </table></div>
  </section>
  <section class="card audit" id="audit-section" aria-labelledby="audit-heading" hidden>
    <h2 id="audit-heading">Recent changes</h2>
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">When</th><th scope="col">By</th><th scope="col">User</th><th scope="col">Change</th></tr></thead>
      <tbody id="audit-body"></tbody>
    </table></div>
  </section>
</main>`,
    SCRIPT
  )

/** Human headings for the failures a browser can meet on `/users`; unknown tags show the tag. */
const TITLES: Record<string, string> = {
  ClientNotAllowed: "This request did not come through the trusted proxy",
  MissingIdentityHeader: "You are not signed in",
  ProxyAuthDisabled: "Proxy authentication is not enabled",
  AmbiguousHeader: "The sign-in headers were ambiguous",
  InvalidHeader: "The sign-in headers were not valid",
  InvalidForwardedAddress: "The forwarded client address was not valid",
  UserDisabled: "Your account is disabled",
  UserStoreUnavailable: "Headtower cannot reach its user store"
}

export const errorPage = (tag: string, message: string): string =>
  htmlDocument(
    `${TITLES[tag] ?? tag} · Headtower`,
    `<header class="top"><span class="brand">Headtower</span></header>
<main>
  <h1>${escapeHtml(TITLES[tag] ?? "Something went wrong")}</h1>
  <section class="card" role="alert">
    <p>${escapeHtml(message)}</p>
    <p class="sub">Error code: <code>${escapeHtml(tag)}</code></p>
  </section>
</main>`
  )
