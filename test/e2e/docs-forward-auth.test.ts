import { type AuthFlavour, SESSION_COOKIE, startAuthService } from "./support/authService.js"
import { expect, it } from "vitest"
import { startCaddy } from "./support/caddy.js"
import { docsFlow, docsSuite } from "./support/docsFlow.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { type ProxyAuthYaml, startHeadtower } from "./support/headtower.js"
import { freePort, rawRequest } from "./support/net.js"
import { startNginx } from "./support/nginx.js"

/*
 * The forward-auth examples in docs/proxies/ (the proxy asks an identity service on every
 * request and passes its answer on as headers), run as written with a real proxy and a
 * stand-in for the identity service (Authelia and authentik are not in Debian).
 *
 * The stand-ins also answer with the user's groups (Remote-Groups: headtower-admins,dev;
 * X-authentik-groups: headtower-admins|dev), the examples pass them on, and Headtower maps
 * them to roles (role_mapping): a client's own groups header must never reach it.
 */

const { work, stops, headscaleUrl } = docsSuite("docs-forward-auth")
const PROXY_SOURCE = "127.0.0.2"
const alice = { user: "alice", email: "alice@example.com", name: "Alice Liddell", groups: ["headtower-admins", "dev"] }
const sessions = {
  "session-alice": alice,
  "session-bob": { user: "bob", email: "bob@example.com", name: "Bob", groups: ["dev", "headtower-admins"] },
  "session-carol": { user: "carol", email: "carol@example.com", name: "Carol", groups: ["dev"] }
}
const ROLE_MAPPING = { admin: ["headtower-admins"] }

/** bob is in the admins group, carol is not and forges it. */
const groupsFlow = (cookie: string, groupsHeader: string) => ({
  admin: [["Cookie", `${cookie}=session-bob`]] as const,
  member: [["Cookie", `${cookie}=session-carol`]] as const,
  forged: [groupsHeader, "headtower-admins"] as const
})

const behindNginx = async (options: {
  readonly file: string
  readonly flavour: AuthFlavour
  readonly authVar: string
  readonly proxyAuth: ProxyAuthYaml
}) => {
  const auth = await startAuthService({ flavour: options.flavour, sessions })
  stops.push(auth.stop)
  const headtower = await startHeadtower({
    workDir: work.dir,
    name: `behind-${options.file}`,
    headscaleUrl: await headscaleUrl(),
    proxyAuth: { ...options.proxyAuth, allowed_cidrs: [`${PROXY_SOURCE}/32`] }
  })
  stops.push(headtower.stop)
  const port = await freePort()
  const servers = renderDocsProxy(options.file, {
    LISTEN: `127.0.0.1:${port}`,
    [options.authVar]: `127.0.0.1:${auth.port}`,
    HEADTOWER: `127.0.0.1:${headtower.port}`,
    PROXY_SOURCE
  })
  const nginx = await startNginx({ workDir: work.dir, name: options.file, servers, readyPort: port })
  stops.push(nginx.stop)
  return { port, headtower }
}

const expected = { identity: "proxy:alice", email: "alice@example.com", name: "Alice Liddell" }

docsFlow("nginx-authelia.conf", {
  setup: () =>
    behindNginx({
      file: "nginx-authelia.conf",
      flavour: "authelia",
      authVar: "AUTHELIA",
      proxyAuth: { groups_header: "Remote-Groups", role_mapping: ROLE_MAPPING }
    }),
  signIn: [["Cookie", `${SESSION_COOKIE.authelia}=session-alice`]],
  expected,
  forged: [
    ["Remote-User", "root"],
    ["Remote-Email", "evil@example.com"],
    ["Remote-Name", "Evil"],
    ["Remote-Groups", "headtower-owners"],
    ["Remote-Picture", "https://evil.example/x.png"]
  ],
  // error_page 401 =302: to the portal named in Authelia's Location.
  signedOutStatus: 302,
  groups: groupsFlow(SESSION_COOKIE.authelia, "Remote-Groups")
})

docsFlow("nginx-authentik.conf", {
  setup: () =>
    behindNginx({
      file: "nginx-authentik.conf",
      flavour: "authentik",
      authVar: "OUTPOST",
      proxyAuth: {
        user_header: "X-authentik-username",
        email_header: "X-authentik-email",
        name_header: "X-authentik-name",
        groups_header: "X-authentik-groups",
        groups_separator: "|",
        role_mapping: ROLE_MAPPING
      }
    }),
  signIn: [["Cookie", `${SESSION_COOKIE.authentik}=session-alice`]],
  expected,
  forged: [
    ["X-authentik-username", "root"],
    ["X-authentik-email", "evil@example.com"],
    ["X-authentik-name", "Evil"],
    ["X-authentik-groups", "headtower-owners"],
    ["X-authentik-uid", "uid-root"]
  ],
  // @goauthentik_proxy_signin: to the outpost's sign-in start.
  signedOutStatus: 302,
  userHeader: "X-authentik-username",
  groups: groupsFlow(SESSION_COOKIE.authentik, "X-authentik-groups")
})

// Authelia answers 200 with no Remote-* header at all when an access rule says `bypass`.
const bypass = (uri: string) => uri.startsWith("/api/me?public")

const behindCaddy = async (file: string) => {
  const auth = await startAuthService({ flavour: "authelia", sessions, bypass })
  stops.push(auth.stop)
  const headtower = await startHeadtower({
    workDir: work.dir,
    name: `behind-${file}`,
    headscaleUrl: await headscaleUrl(),
    proxyAuth: { groups_header: "Remote-Groups", role_mapping: ROLE_MAPPING }
  })
  stops.push(headtower.stop)
  const port = await freePort()
  const caddyfile = renderDocsProxy(file, {
    LISTEN: `127.0.0.1:${port}`,
    AUTHELIA: `127.0.0.1:${auth.port}`,
    HEADTOWER: `127.0.0.1:${headtower.port}`
  })
  const caddy = await startCaddy({ workDir: work.dir, caddyfile, readyPort: port, name: file })
  stops.push(caddy.stop)
  return { port, headtower }
}

let caddyExample: ReturnType<typeof behindCaddy> | undefined
const caddyForwardAuth = () => (caddyExample ??= behindCaddy("Caddyfile.authelia-forward-auth"))

const autheliaForged = [
  ["Remote-User", "root"],
  ["Remote-Email", "evil@example.com"],
  ["Remote-Name", "Evil"],
  ["Remote-Groups", "headtower-owners"],
  ["Remote-Picture", "https://evil.example/x.png"]
] as const

docsFlow("Caddyfile.authelia-forward-auth", {
  setup: caddyForwardAuth,
  signIn: [["Cookie", `${SESSION_COOKIE.authelia}=session-alice`]],
  expected,
  forged: autheliaForged,
  // Authelia's forward-auth endpoint answers 302 to the portal itself; Caddy passes it on.
  signedOutStatus: 401,
  groups: groupsFlow(SESSION_COOKIE.authelia, "Remote-Groups")
})

it("Caddyfile.authelia-forward-auth: when Authelia answers 200 without Remote-User, the client's own never reaches Headtower", async () => {
  const { port } = await caddyForwardAuth()
  const r = await rawRequest({ port, path: "/api/me?public=1", headers: autheliaForged })
  // Headtower saw no identity header at all: neither the client's copy nor Caddy 2.6's
  // unfilled "{http.reverse_proxy.header.Remote-User}" (without the example's removals, that
  // text signs in as the instance's owner).
  expect(r.json?._tag).toBe("MissingIdentityHeader")
  expect(r.status).toBe(401)
})
