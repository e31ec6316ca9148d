import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import type { ProxyAuthConfig } from "../domain/AppConfig.js"
import type { AuthenticationError } from "../domain/errors.js"
import { type Authenticated, Authenticator } from "../services/Authenticator.js"
import { Settings } from "../services/Settings.js"
import { HeadtowerApi } from "./Api.js"
import { changeAnswer } from "./answers.js"
import { apiRouter } from "./apiRoutes.js"
import { requestFactsOf } from "./requestFacts.js"

/**
 * What every answer of an authenticated route says to caches: it depends on who asked, and
 * who asked travels in request headers no shared cache keys on. `no-store` keeps it out of
 * every cache; `Vary` names those headers for any cache that would keep it anyway.
 */
const identityDependent = (proxyAuth: ProxyAuthConfig) => {
  const names = [
    proxyAuth.userHeader,
    proxyAuth.emailHeader,
    proxyAuth.nameHeader,
    proxyAuth.pictureHeader,
    proxyAuth.ipHeader
  ]
  const vary = names.filter((name) => name !== undefined).join(", ")
  // Header by header: `setHeaders` builds its input into a Headers object first (~4 µs, ten times more).
  return changeAnswer((response) =>
    HttpServerResponse.setHeader(HttpServerResponse.setHeader(response, "cache-control", "no-store"), "vary", vary)
  )
}

/**
 * One request through authenticate (which counts, times and logs itself), and what marks the
 * answer as depending on who asked: the API middleware and the pages share them.
 */
export const requestAuthentication = (authenticator: Authenticator, proxyAuth: ProxyAuthConfig) => ({
  authenticate: (request: HttpServerRequest.HttpServerRequest) => authenticator.authenticate(requestFactsOf(request)),
  identityDependent: identityDependent(proxyAuth)
})

/**
 * The API's routes for signed-in users (`authenticated.route(group, endpoint, handler)`):
 * authenticate decides before the body is read, and the handler receives the user as its second
 * argument. A handler that takes the user has no other way to be served: `route`, for the
 * routes anyone may call, passes none, and the compiler refuses it there
 * (test/http/authenticated-routes.test.ts). Passed, not provided: `Effect.provideService` would
 * cost each request a fiber-ref `locally` (~15 µs, docs/performance.md).
 */
export const authenticatedApi = Effect.gen(function* () {
  const { authenticate, identityDependent } = requestAuthentication(
    yield* Authenticator,
    (yield* Settings).server.proxyAuth
  )
  const api = yield* apiRouter(HeadtowerApi)
  return api.admitted<Authenticated, AuthenticationError>({ admit: authenticate, answer: identityDependent })
})
