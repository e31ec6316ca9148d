import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/*
 * A stand-in for the identity service a forward-auth proxy asks on every request (Authelia's
 * /api/authz/*, authentik's outpost), answering the way the real one does: 200 with the
 * user's headers for a valid session cookie, 401 (with the portal in Location) otherwise.
 * Neither service is packaged in Debian; the proxy in front of Headtower is the real one.
 */

export interface SignedInUser {
  readonly user: string
  readonly email: string
  readonly name: string
  readonly groups: ReadonlyArray<string>
}

/** Authelia (`Remote-*`, `,`-separated groups) or the authentik outpost (`X-authentik-*`, `|`-separated). */
export type AuthFlavour = "authelia" | "authentik"

const answerHeaders = (flavour: AuthFlavour, u: SignedInUser): Record<string, string> =>
  flavour === "authelia"
    ? { "Remote-User": u.user, "Remote-Email": u.email, "Remote-Name": u.name, "Remote-Groups": u.groups.join(",") }
    : {
        "X-authentik-username": u.user,
        "X-authentik-email": u.email,
        "X-authentik-name": u.name,
        "X-authentik-groups": u.groups.join("|"),
        "X-authentik-uid": `uid-${u.user}`
      }

export const SESSION_COOKIE = { authelia: "authelia_session", authentik: "authentik_proxy" } as const

export interface AuthService {
  readonly port: number
  /** The headers of every subrequest the proxy made, in order. */
  readonly asked: ReadonlyArray<IncomingHttpHeaders>
  readonly stop: () => Promise<void>
}

export const startAuthService = async (options: {
  readonly flavour: AuthFlavour
  /** Session cookie value → the user it belongs to. */
  readonly sessions: Readonly<Record<string, SignedInUser>>
  /**
   * Original URIs an access rule lets through without a session (Authelia's `policy: bypass`):
   * answered 200 with no identity headers at all, as the real service does.
   */
  readonly bypass?: (uri: string) => boolean
}): Promise<AuthService> => {
  const asked: Array<IncomingHttpHeaders> = []
  const cookieName = SESSION_COOKIE[options.flavour]
  const server = createServer((req, res) => {
    asked.push(req.headers)
    const original = String(req.headers["x-original-url"] ?? req.headers["x-forwarded-uri"] ?? "")
    const uri = original.replace(/^https?:\/\/[^/]+/, "")
    if (options.bypass?.(uri) === true) {
      res.writeHead(200).end()
      return
    }
    const cookies = String(req.headers.cookie ?? "")
      .split(";")
      .map((c) => c.trim().split("="))
    const session = cookies.find(([name]) => name === cookieName)?.[1]
    const user = session === undefined ? undefined : options.sessions[session]
    if (user === undefined) {
      res.writeHead(401, { Location: `https://auth.example.com/?rd=${encodeURIComponent(original)}` }).end()
      return
    }
    res.writeHead(200, answerHeaders(options.flavour, user)).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as AddressInfo).port,
    asked,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
