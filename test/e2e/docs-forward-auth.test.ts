import { type AuthFlavour, SESSION_COOKIE, startAuthService } from "./support/authService.js"
import { docsFlow, docsSuite } from "./support/docsFlow.js"
import { renderDocsProxy } from "./support/docsProxies.js"
import { type ProxyAuthYaml, startHeadtower } from "./support/headtower.js"
import { freePort } from "./support/net.js"
import { startNginx } from "./support/nginx.js"

/*
 * The forward-auth examples in docs/proxies/ (the proxy asks an identity service on every
 * request and passes its answer on as headers), run as written with a real proxy and a
 * stand-in for the identity service (Authelia and authentik are not in Debian).
 *
 * The stand-ins also answer with the user's groups (Remote-Groups: headtower-admins,dev;
 * X-authentik-groups: headtower-admins|dev) and the examples pass them on. Once issue 17's
 * groups_header and role_mapping land, the signed-in test should also assert the mapped role,
 * and the forged-header test that a client's own groups header does not change it.
 */

const { work, stops, headscaleUrl } = docsSuite("docs-forward-auth")
const PROXY_SOURCE = "127.0.0.2"
const alice = { user: "alice", email: "alice@example.com", name: "Alice Liddell", groups: ["headtower-admins", "dev"] }

const behindNginx = async (options: {
  readonly file: string
  readonly flavour: AuthFlavour
  readonly authVar: string
  readonly proxyAuth: ProxyAuthYaml
}) => {
  const auth = await startAuthService({ flavour: options.flavour, sessions: { "session-alice": alice } })
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
      proxyAuth: {}
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
  signedOutStatus: 302
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
        name_header: "X-authentik-name"
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
  userHeader: "X-authentik-username"
})
