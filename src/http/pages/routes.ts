import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { statusOf } from "../../domain/errors.js"
import { Authenticator } from "../../services/Authenticator.js"
import { Settings } from "../../services/Settings.js"
import { requestAuthentication } from "../Authentication.js"
import { withoutBody } from "../requestBody.js"
import { makePages } from "./usersPage.js"
import { type Asset, loadWebFiles } from "./webFiles.js"

/**
 * Browser routes outside the JSON API. `/users` authenticates like every API route (no
 * second login); `/logout` hands the browser to the proxy's own logout, since the session
 * lives there, not here. The pages' script and style sheet are public, like the repository
 * they come from: the error page a refused browser sees needs its style sheet too.
 */
export const PageRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function* () {
    const { proxyAuth } = (yield* Settings).server
    const authenticate = requestAuthentication(yield* Authenticator, proxyAuth)
    const { logoutUrl } = proxyAuth
    const files = yield* loadWebFiles
    const { usersPage, errorPage } = yield* Effect.sync(() => makePages(files))
    const page = usersPage({ logoutEnabled: logoutUrl !== undefined })
    yield* router.add("GET", "/users", (request) =>
      authenticate(request).pipe(
        Effect.zipRight(withoutBody(request, Effect.succeed(html(page, 200, USERS_CSP)))),
        Effect.catchAll((error) => Effect.succeed(html(errorPage(error), statusOf(error), ERROR_CSP)))
      )
    )
    for (const file of [files.script, files.style]) {
      const response = served(file)
      yield* router.add("GET", file.url, (request) => withoutBody(request, Effect.succeed(response)))
    }
    yield* router.add("GET", "/", (request) =>
      withoutBody(request, Effect.succeed(HttpServerResponse.redirect("/users", { status: 302 })))
    )
    const logout =
      logoutUrl === undefined
        ? HttpServerResponse.text("Logout is handled by your authenticating proxy; no logout_url is configured.", {
            status: 404
          })
        : HttpServerResponse.redirect(logoutUrl, { status: 302 })
    yield* router.add("GET", "/logout", (request) => withoutBody(request, Effect.succeed(logout)))
  })
)

const LOCKED = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
/**
 * The Users page runs only same-origin script (its own file; never inline code or handlers),
 * styles only from its own sheet, shows only http(s) pictures and fetches only its own origin.
 * Trusted Types make the DOM's HTML sinks (innerHTML and the like) refuse strings outright.
 */
const USERS_CSP = `${LOCKED}; script-src 'self'; style-src 'self'; img-src http: https:; connect-src 'self'; require-trusted-types-for 'script'; trusted-types 'none'`
/** The error page has no script and no picture: only its style sheet. */
const ERROR_CSP = `${LOCKED}; style-src 'self'`

const html = (body: string, status: number, csp: string) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: {
      "content-security-policy": csp,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store"
    }
  })

/** A page file: its URL names its content, so a browser may keep it for a year without asking again. */
const served = (file: Asset) =>
  HttpServerResponse.text(file.body, {
    contentType: file.contentType,
    headers: { "x-content-type-options": "nosniff", "cache-control": "public, max-age=31536000, immutable" }
  })
