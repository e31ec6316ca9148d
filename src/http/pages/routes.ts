import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Authenticator } from "../../services/Authenticator.js"
import { Settings } from "../../services/Settings.js"
import { AuthenticationFailure } from "../Api.js"
import { authenticateRequest } from "../Authentication.js"
import { withoutBody } from "../requestBody.js"
import { errorPage, SCRIPT_HASH, usersPage } from "./usersPage.js"

/**
 * Browser routes outside the JSON API. `/users` authenticates like every API route (no
 * second login); `/logout` hands the browser to the proxy's own logout, since the session
 * lives there, not here.
 */
export const PageRoutes = HttpLayerRouter.use((router) =>
  Effect.gen(function* () {
    const { proxyAuth } = (yield* Settings).server
    const authenticate = authenticateRequest(yield* Authenticator, proxyAuth)
    const { logoutUrl } = proxyAuth
    yield* router.add("GET", "/users", (request) =>
      authenticate(request).pipe(
        Effect.zipRight(withoutBody(request, Effect.succeed(html(usersPage({ logoutEnabled: logoutUrl !== undefined }), 200)))),
        Effect.catchAll((error) => Effect.succeed(html(errorPage(error._tag, error.message), statusOf(error))))
      )
    )
    yield* router.add("GET", "/", (request) => withoutBody(request, Effect.succeed(HttpServerResponse.redirect("/users", { status: 302 }))))
    const logout =
      logoutUrl === undefined
        ? HttpServerResponse.text("Logout is handled by your authenticating proxy; no logout_url is configured.", {
            status: 404
          })
        : HttpServerResponse.redirect(logoutUrl, { status: 302 })
    yield* router.add("GET", "/logout", (request) => withoutBody(request, Effect.succeed(logout)))
  })
)

const html = (body: string, status: number) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    // The page runs only its own inline script (pinned by its hash) and shows only http(s) pictures.
    headers: {
      "content-security-policy":
        `default-src 'none'; script-src ${SCRIPT_HASH}; style-src 'unsafe-inline'; img-src http: https:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store"
    }
  })

/** The same status the API answers for each failure, read from the error schemas themselves. */
const STATUS = new Map<string, number>(
  AuthenticationFailure.members.map((error) => [error._tag, HttpApiSchema.getStatusError(error)])
)
const statusOf = (error: { readonly _tag: string }) => STATUS.get(error._tag) ?? 500
