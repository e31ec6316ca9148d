import { HttpLayerRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { Authenticator } from "../../services/Authenticator.js"
import { Config } from "../../services/Config.js"
import { observeAuthentication } from "../../services/Metrics.js"
import { requestFactsOf } from "../requestFacts.js"
import { errorPage, usersPage } from "./usersPage.js"

/**
 * Browser routes outside the JSON API. `/users` authenticates like every API route (no
 * second login); `/logout` hands the browser to the proxy's own logout, since the session
 * lives there, not here.
 */
export const PageRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function* () {
    const authenticator = yield* Authenticator
    const { logoutUrl } = (yield* Config).server.proxyAuth
    yield* router.add("GET", "/users", (request: HttpServerRequest.HttpServerRequest) =>
      observeAuthentication(authenticator.authenticate(requestFactsOf(request))).pipe(
        Effect.as(html(usersPage({ logoutEnabled: logoutUrl !== undefined }), 200)),
        Effect.catchAll((error) => Effect.succeed(html(errorPage(error._tag, error.message), statusOf(error))))
      )
    )
    yield* router.add("GET", "/", HttpServerResponse.redirect("/users", { status: 302 }))
    yield* router.add(
      "GET",
      "/logout",
      logoutUrl === undefined
        ? HttpServerResponse.text("Logout is handled by your authenticating proxy; no logout_url is configured.", {
            status: 404
          })
        : HttpServerResponse.redirect(logoutUrl, { status: 302 })
    )
  })
)

const html = (body: string, status: number) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    // The page runs only its own inline script and shows only http(s) pictures.
    headers: {
      "content-security-policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src http: https:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store"
    }
  })

const STATUS: Record<string, number> = {
  ProxyAuthDisabled: 401,
  MissingIdentityHeader: 401,
  ClientNotAllowed: 403,
  UserDisabled: 403,
  AmbiguousHeader: 400,
  InvalidHeader: 400,
  InvalidForwardedAddress: 400,
  UserStoreUnavailable: 503
}
const statusOf = (error: { _tag: string }) => STATUS[error._tag] ?? 500
